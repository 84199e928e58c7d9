"""End-to-end setup: the sandbox and bridge, each on a real loopback port.

The sandbox calls bridge back (Bitrix24 events, Xero and DG1 webhooks, iframe pages),
and bridge calls the sandbox through its configured base URLs, so both directions go
over real HTTP with the real clients. Jobs stay in the in-memory queue: a test runs them
with ``live.run_jobs()``, so it decides when background work happens.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from bridge import create_app
from bridge.extensions import huey
from tests.support.schema import fresh_schema
from tests.support.tasks import run_queued_tasks
from bridge.sandbox import SandboxHost, create_sandbox_app
from tests.support.servers import RunningProcess, RunningServer, sandbox_in_process, serve_in_thread


class _Deferred:
    """A WSGI app whose target is set after the server (and so its port) exists."""

    target: Any = None

    def __call__(self, environ, start_response):
        return self.target(environ, start_response)


@dataclass
class Live:
    app: Any
    app_url: str
    sandbox_url: str
    sandbox: SandboxHost | None  # None when the sandbox runs in its own process
    servers: list[RunningServer | RunningProcess]

    def run_jobs(self) -> int:
        with self.app.app_context():
            return run_queued_tasks()

    def control(self, path: str, method: str = "POST", **kwargs) -> Any:
        """Call a sandbox control endpoint (``/_sandbox/<path>``)."""
        response = requests.request(method, f"{self.sandbox_url}/_sandbox/{path.lstrip('/')}", timeout=30, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def start_live(tmp_path, database_url: str, app_host: str = "localhost", *, sandbox_process: bool = False,
               **config: Any) -> Live:
    """Start both. ``app_host`` is ``localhost`` because Xero allows http redirect URIs
    only there (specs/xero/NOTES.md section 1). ``sandbox_process`` runs the sandbox in a
    process of its own (reached only through its control endpoints)."""
    deferred_app = _Deferred()
    app_server = serve_in_thread(deferred_app, host="127.0.0.1")
    port = app_server.server.server_port
    app_url = f"http://{app_host}:{port}"
    sandbox: SandboxHost | None = None
    if sandbox_process:
        sandbox_server: RunningServer | RunningProcess = sandbox_in_process(app_url)
    else:
        sandbox = SandboxHost(app_url=app_url, public_url="")
        sandbox_server = serve_in_thread(create_sandbox_app(sandbox))
        sandbox.public_url = sandbox_server.url
    app = create_app({"BRIDGE_ENV": "test", "INSTANCE_PATH": str(tmp_path / "instance"),
                      "DATABASE_URL": database_url, "SANDBOX_URL": sandbox_server.url,
                      "PUBLIC_URL": app_url, **config})
    with app.app_context():
        fresh_schema()
    huey.flush()
    deferred_app.target = app
    return Live(app=app, app_url=app_url, sandbox_url=sandbox_server.url, sandbox=sandbox,
                servers=[app_server, sandbox_server])
