"""Run WSGI apps (the sandbox, the product) on real loopback ports inside the test process."""
from __future__ import annotations

import threading
from dataclasses import dataclass

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
