"""Run WSGI apps (the sandbox, the product) on real loopback ports inside the test process,
or the sandbox in a process of its own."""
from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from werkzeug.serving import BaseWSGIServer, make_server


@dataclass
class RunningServer:
    url: str
    server: BaseWSGIServer
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


def serve_in_thread(wsgi_app, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    server = make_server(host, port, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"wsgi-{server.server_port}", daemon=True)
    thread.start()
    return RunningServer(url=f"http://{host}:{server.server_port}", server=server, thread=thread)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningProcess:
    url: str
    process: subprocess.Popen

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def sandbox_in_process(app_url: str, timeout: float = 30.0, log: Path | None = None) -> RunningProcess:
    """``python -m bridge.sandbox serve`` on a free port: the simulated systems on their own
    interpreter, as the real ones are on their own machines (a bench measuring bridge's
    work then does not share bridge's interpreter lock with them)."""
    port = free_port()
    output = log.open("w") if log else subprocess.DEVNULL  # its access log, one line per request
    process = subprocess.Popen([sys.executable, "-m", "bridge.sandbox", "serve", "--port", str(port),
                                "--app-url", app_url], stdout=output, stderr=output)
    running = RunningProcess(url=f"http://127.0.0.1:{port}", process=process)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the sandbox exited with {process.returncode}")
        try:
            if requests.get(f"{running.url}/_sandbox/", timeout=1).status_code < 500:
                return running
        except requests.RequestException:
            time.sleep(0.1)
    running.stop()
    raise RuntimeError(f"the sandbox did not start on {running.url}")
