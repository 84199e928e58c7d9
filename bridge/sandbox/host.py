"""The sandbox host: one Flask app that mounts every simulated system.

A simulated system is a class with this shape (see ``bridge/sandbox/xero`` for one)::

    class System:
        name = "xero"                      # used in /_sandbox/<name>/... control URLs
        hosts = ["api.xero.com", ...]      # real host names it answers for
        def __init__(self, host: SandboxHost): ...
        def blueprint(self) -> flask.Blueprint   # routes start with /<real host>/...
        def limits(self) -> list[str]            # human-readable limits in force
        def reset(self) -> None                  # forget all state
        def control_blueprint(self) -> Blueprint | None  # /_sandbox/<name>/... (tokens, actions)

Control endpoints common to all systems live under ``/_sandbox/``: the clock, a reset,
and the list of limits. They exist only in the sandbox and are documented in
docs/sandbox.md.
"""
from __future__ import annotations

import importlib
import os
import threading
import time
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, jsonify, request

from .clock import SandboxClock
from .latency import Latency, install as install_latency

# Systems are loaded by module name so that a system under construction cannot break the
# others; each module exposes ``System``.
DEFAULT_SYSTEMS = ("xero", "bitrix24", "bexio", "dg1")


class SandboxHost:
    """Shared state of a running sandbox: its clock, its systems, and where the app lives."""

    def __init__(self, app_url: str | None = None, public_url: str | None = None,
                 systems: tuple[str, ...] = DEFAULT_SYSTEMS) -> None:
        self.clock = SandboxClock()
        # Where the product under test runs, so simulated systems can call it back
        # (Bitrix24 event handlers, Xero webhooks, DG1 webhooks, iframe pages).
        self.app_url = (app_url or os.environ.get("SANDBOX_APP_URL") or "http://127.0.0.1:5000").rstrip("/")
        # Where this sandbox is reachable; filled in by ``serve`` when the port is known.
        self.public_url = (public_url or os.environ.get("SANDBOX_PUBLIC_URL") or "").rstrip("/")
        self.lock = threading.RLock()
        self.latency = Latency()  # simulated network round trip per API call (default off)
        # Every API request the product made (control routes aside), with the work that
        # caused it (bridge's X-Bridge-Cause header) and the step a test was at (``mark``):
        # a test joins it to sync records to tell which change each write came from.
        self.requests: list[dict[str, Any]] = []
        self.mark: Any = None
        self.systems: dict[str, Any] = {}
        for name in systems:
            try:
                module = importlib.import_module(f"{__package__}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name and exc.name.endswith(f"sandbox.{name}"):
                    continue  # that simulator is not built yet
                raise
            self.systems[name] = module.System(self)

    def url_for_host(self, real_host: str) -> str:
        """The sandbox base URL standing in for ``https://<real_host>``."""
        return f"{self.public_url}/{real_host}"

    def limits(self) -> dict[str, list[str]]:
        return {name: system.limits() for name, system in self.systems.items()}

    def reset(self) -> None:
        with self.lock:
            self.requests, self.mark = [], None
            self.clock.reset()
            for system in self.systems.values():
                system.reset()


def _control_blueprint(host: SandboxHost) -> Blueprint:
    bp = Blueprint("sandbox_control", __name__, url_prefix="/_sandbox")

    @bp.get("/")
    def index():
        return jsonify(systems=sorted(host.systems), limits=host.limits(),
                       now=host.clock.now().isoformat(), app_url=host.app_url)

    @bp.post("/clock")
    def move_clock():
        body = request.get_json(silent=True) or {}
        if "freeze" in body:  # {"freeze": <epoch seconds>} or {"freeze": null}
            host.clock.freeze(None if body["freeze"] is None else float(body["freeze"]))
        seconds = float(body.get("advance", 0))
        host.clock.advance(seconds)
        return jsonify(now=host.clock.now().isoformat(), time=host.clock.time())

    @bp.get("/clock")
    def read_clock():
        return jsonify(now=host.clock.now().isoformat(), time=host.clock.time())

    @bp.post("/reset")
    def reset():
        host.reset()
        return jsonify(ok=True)

    @bp.get("/requests")
    def requests_log():
        """The request log from ``?since=<seq>`` on."""
        since = int(request.args.get("since", 0))
        with host.lock:
            return jsonify(requests=host.requests[since:], next=len(host.requests))

    @bp.post("/requests/mark")
    def mark_requests():
        """``{"mark": ...}``: requests from now on carry this tag (a test's step number)."""
        with host.lock:
            host.mark = (request.get_json(silent=True) or {}).get("mark")
            return jsonify(mark=host.mark, next=len(host.requests))

    return bp


def _log_request(host: SandboxHost, response):
    """After-request hook: log every API call (not the control routes)."""
    if request.path.startswith("/_sandbox"):
        return response
    body = "" if request.method == "GET" else request.get_data(as_text=True)[:4000]
    with host.lock:
        host.requests.append({"seq": len(host.requests), "at": time.time(), "method": request.method, "path": request.path,
                              "query": request.query_string.decode(errors="replace")[:1000],
                              "if_modified_since": request.headers.get("If-Modified-Since"),
                              "tenant": request.headers.get("Xero-Tenant-Id"),
                              "status": response.status_code, "cause": request.headers.get("X-Bridge-Cause"),
                              "idempotency_key": request.headers.get("Idempotency-Key"),
                              "mark": host.mark, "body": body,
                              # what a write was answered (a 200 may still carry validation errors)
                              "answer": "" if request.method == "GET" else response.get_data(as_text=True)[:8000]})
    return response


def create_sandbox_app(host: SandboxHost | None = None, **kwargs: Any) -> Flask:
    host = host or SandboxHost(**kwargs)
    # Its own root: with the default (the working directory) the sandbox would find the
    # product's templates/ first and render bridge's pages instead of the simulated ones.
    app = Flask("bridge_sandbox", root_path=str(Path(__file__).resolve().parent))
    app.config["SANDBOX_HOST"] = host
    app.extensions["sandbox_host"] = host
    app.register_blueprint(_control_blueprint(host))
    app.after_request(lambda response: _log_request(host, response))
    install_latency(app, host.latency)
    for name, system in host.systems.items():
        app.register_blueprint(system.blueprint())
        control = system.control_blueprint() if hasattr(system, "control_blueprint") else None
        if control is not None:
            app.register_blueprint(control, url_prefix=f"/_sandbox/{name}")
    return app
