"""bridge as it is deployed, for the benches that follow work from a save to the ledger:
the sandboxes in a process of their own (Xero, Bitrix24, Bexio and DG1 are other machines),
bridge's web server under gunicorn (it takes the portal's event callbacks) and Huey
consumers (as the Procfile runs them), on the embedded default (SQLite + Huey on SQLite) or,
when ``DATABASE_URL``/``REDIS_URL`` are set, on PostgreSQL + Redis.

The sandbox answers every API call after a simulated network round trip
(``BENCH_LATENCY_MS``, default 50 ms; docs/sandbox.md), because wall times and the gap between
one call per invoice and one per batch mean little on loopback.
"""
from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bulk_sync import BIN, ROOT, stop, wait_healthy, wait_started, wait_until_idle  # noqa: F401

LATENCY_MS = float(os.environ.get("BENCH_LATENCY_MS", 50))


@dataclass
class Deployment:
    """The running parts; ``live`` is the bench's view (control calls, the app's database)."""

    tmp: Path
    live: Any
    app: Any
    web: subprocess.Popen
    env: dict[str, str]
    backend: str
    consumers: list[subprocess.Popen] = field(default_factory=list)

    def spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        log = (self.tmp / "logs" / f"{name}.log").open("w")
        return subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def start_consumers(self, count: int = 1, threads: int = 4, scheduler: bool = False) -> float:
        """``count`` consumer processes of ``threads`` threads; returns when the last has started."""
        started = 0.0
        for n in range(count):
            name = f"consumer-{len(self.consumers)}"
            command = [str(BIN / "huey_consumer"), "bridge.worker.huey", "-w", str(threads), "-k", "thread"]
            self.consumers.append(self.spawn(name, command if scheduler else [*command, "-n"]))
            started = wait_started(self.tmp / "logs" / f"{name}.log")
        return started

    def stop_consumers(self) -> None:
        for process in self.consumers:
            stop(process)
        self.consumers = []

    def idle(self, timeout: float = 600, settle: float = 0.0) -> None:
        wait_until_idle(self.app, timeout=timeout, settle=settle)

    def requests_since(self, seq: int) -> tuple[list[dict], int]:
        """The sandbox's request log from ``seq`` on (every API call, with when it was answered)."""
        answer = self.live.control(f"requests?since={seq}", method="GET")
        return answer["requests"], answer["next"]

    def stop(self) -> None:
        self.stop_consumers()
        stop(self.web)
        self.live.stop()


def _reset_database(env: dict[str, str]) -> None:
    """A fresh schema on PostgreSQL (the bench's own database) and a flushed Redis queue."""
    code = ("from bridge import create_app\nfrom bridge.extensions import db, huey\napp = create_app()\n"
            "with app.app_context():\n    db.drop_all(); db.create_all()\nhuey.flush()\n")
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True)


def deploy(tmp: Path, web_workers: int = 3, web_threads: int = 2) -> Deployment:
    """Start the sandboxes, the web server and nothing else (no consumer yet)."""
    from tests.support.servers import free_port, sandbox_in_process

    # A bench stopped by ``timeout`` or CI still stops the processes it started (``finally``).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    port = free_port()
    app_url = f"http://localhost:{port}"  # Xero allows http redirect URIs only on localhost
    os.environ["SANDBOX_LATENCY_MS"] = str(LATENCY_MS)  # the sandbox process reads it at start
    sandbox = sandbox_in_process(app_url, log=tmp / "sandbox.log")
    settings = {"BRIDGE_ENV": "demo", "BRIDGE_INSTANCE_PATH": f"{tmp}/instance", "SANDBOX_URL": sandbox.url,
                "PUBLIC_URL": app_url}
    if os.environ.get("DATABASE_URL", "").startswith("postgresql"):
        settings["DATABASE_URL"] = os.environ["DATABASE_URL"]
        settings["HUEY_STORAGE"] = "redis" if os.environ.get("REDIS_URL") else "sqlite"
        backend = "PostgreSQL + Redis" if os.environ.get("REDIS_URL") else "PostgreSQL + Huey on SQLite"
    else:
        settings["DATABASE_URL"] = f"sqlite:///{tmp}/bridge.db"
        settings["HUEY_STORAGE"] = "sqlite"
        backend = "SQLite + Huey on SQLite"
    settings["HUEY_SQLITE_PATH"] = f"{tmp}/huey.db"
    os.environ.update(settings)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    from bridge import create_app
    from bridge.extensions import db
    from tests.support.live import Live

    if backend.startswith("PostgreSQL"):
        _reset_database(env)
    app = create_app({**settings, "INSTANCE_PATH": settings["BRIDGE_INSTANCE_PATH"]})
    with app.app_context():
        db.create_all()
    (tmp / "logs").mkdir(exist_ok=True)
    live = Live(app=app, app_url=app_url, sandbox_url=sandbox.url, sandbox=None, servers=[sandbox])
    deployment = Deployment(tmp=tmp, live=live, app=app, web=None, env=env, backend=backend)  # type: ignore[arg-type]
    deployment.web = deployment.spawn("web", [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers",
                                              str(web_workers), "--threads", str(web_threads), "app:app"])
    wait_healthy(f"{app_url}/healthz")
    return deployment


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile (``share`` 0.5, 0.95, 0.99) of ``values``."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(len(ordered) * share) - 1))]


def seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def xero_api(entry: dict) -> bool:
    return entry["path"].startswith("/api.xero.com/api.xro/")


def bitrix24_api(entry: dict) -> bool:
    return "/rest/" in entry["path"] and "bitrix24" in entry["path"].split("/")[1]


def now() -> float:
    return time.time()
