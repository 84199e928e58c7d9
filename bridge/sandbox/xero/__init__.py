"""The simulated Xero: identity (OAuth 2), the accounting API and webhooks, several orgs at once.

Served at ``<sandbox>/login.xero.com/...``, ``<sandbox>/identity.xero.com/...`` and
``<sandbox>/api.xero.com/...``. Its rules, limits and quirks follow Xero's public documentation
(https://developer.xero.com/documentation/); ``NOTES §n`` in its modules names the section of
docs/sources.md listing the page. docs/sandbox/xero.md explains how to use it.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from flask import Blueprint, Response, request

from . import accounting, identity, web
from .idempotency import IdempotencyStore
from .limits import RateLimiter
from .settings import XeroSettings
from .store import IdentityState, Org, new_org
from .webhooks import Webhooks

if TYPE_CHECKING:
    from ..host import SandboxHost

# The organisations a fresh sandbox starts with (a demo has something to connect to).
DEFAULT_ORGS = (("Bridge Demo (NZ)", "NZ"), ("Bridge Demo (UK)", "UK"))
HOLD_TIMEOUT = 20.0


class System:
    name = "xero"
    hosts = ["login.xero.com", "identity.xero.com", "api.xero.com", "go.xero.com"]

    def __init__(self, host: "SandboxHost") -> None:
        self.host = host
        self.settings = XeroSettings.from_env()
        self.limiter = RateLimiter(host.clock.time, self.settings)
        self.webhooks = Webhooks(self)
        self._release = threading.Event()
        self._release.set()
        self._key_locks: dict[tuple, threading.Lock] = {}
        self.extra_redirect_uris: list[str] = []
        self.outages: list[dict] = []
        self._fresh_state()

    def _fresh_state(self) -> None:
        self.orgs: dict[str, Org] = {}
        self.identity = IdentityState()
        self.idempotency = IdempotencyStore()
        now = self.host.clock.now()
        for name, region in DEFAULT_ORGS:
            org = new_org(name, region, None, now)
            self.orgs[org.tenant_id] = org

    # --- the host's System interface ----------------------------------------------------
    def blueprint(self) -> Blueprint:
        bp = Blueprint("xero", __name__)
        bp.register_blueprint(identity.make_blueprint(self))
        bp.register_blueprint(web.make_blueprint(self))  # go.xero.com: a Xero user's screens

        @bp.route("/api.xero.com/<path:rest>", methods=["GET", "PUT", "POST", "DELETE"])
        def api(rest: str) -> Response:
            parts = [p for p in rest.split("/") if p]
            lower = [p.lower() for p in parts]
            if lower and lower[0] == "connections":
                return identity.connections_endpoint(self, request.method, parts)
            if lower[:2] == ["api.xro", "2.0"]:
                return accounting.handle(self, parts[2:])
            return Response("The resource you're looking for cannot be found", status=404, mimetype="text/plain")

        return bp

    def control_blueprint(self) -> Blueprint:
        from .control import make_blueprint
        return make_blueprint(self)

    def limits(self) -> list[str]:
        s = self.settings
        return [f"{s.minute_limit} calls/min, {s.concurrent_limit} concurrent, {s.day_limit}/day per organisation and app",
                f"{s.app_minute_limit} calls/min per app across organisations",
                "access token 30 min; refresh token rotates (30 min grace for the previous one)",
                "Idempotency-Key window 6 min"]

    def reset(self) -> None:
        with self.host.lock:
            self.settings = XeroSettings.from_env()
            self.limiter = RateLimiter(self.host.clock.time, self.settings)
            self.extra_redirect_uris = []
            self.outages = []
            self._fresh_state()
        self.webhooks.reset()
        self._release.set()

    # --- helpers used by the modules -----------------------------------------------------
    def redirect_uris(self) -> list[str]:
        return [self.host.app_url + "/oauth/xero/callback", *self.settings.redirect_uris, *self.extra_redirect_uris]

    def hold(self, on: bool) -> None:
        """Keep API calls in flight until released, so tests can see the concurrency limit."""
        if on:
            self._release.clear()
        else:
            self._release.set()

    def add_outage(self, status: int, seconds: float, retry_after: int | None = None) -> dict:
        """Answer every accounting call with ``status`` for ``seconds`` of sandbox time,
        starting where the previous outage ends (so a test can queue "503 for 3 minutes,
        then 429 for 2"). NOTES section 8: a 503 is Xero's "Not Available" or
        "Organisation offline", plain text; a 429 carries Retry-After and
        X-Rate-Limit-Problem."""
        with self.host.lock:
            start = max([self.host.clock.time(), *(o["until"] for o in self.outages)])
            outage = {"status": status, "from": start, "until": start + seconds, "retry_after": retry_after,
                      "refused": 0}
            self.outages.append(outage)
            return dict(outage)

    def outage_now(self) -> dict | None:
        """The outage in force now (counting the call it refuses), or None."""
        now = self.host.clock.time()
        with self.host.lock:
            for outage in self.outages:
                if outage["from"] <= now < outage["until"]:
                    outage["refused"] += 1
                    return dict(outage)
        return None

    def wait_if_held(self) -> None:
        self._release.wait(timeout=HOLD_TIMEOUT)

    @contextmanager
    def key_lock(self, scope: tuple, key: str) -> Iterator[None]:
        """Two requests with one Idempotency-Key run one after the other, not side by side."""
        with self.host.lock:
            lock = self._key_locks.setdefault((*scope, key), threading.Lock())
        with lock:
            yield
