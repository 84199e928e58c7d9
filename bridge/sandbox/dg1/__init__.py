"""Simulated DG1 shop platform: REST API, signed webhooks, and an admin panel.

DG1 publishes no API; this implements the contract we propose to the DG1 team
(docs/dg1.md; ``NOTES`` in its modules means that contract, see docs/sources.md), so the product and its tests have a
DG1 to talk to. Hosts: ``api.dg1.ch`` (REST, base path ``/api/v1``) and ``admin.dg1.ch``
(the tenant admin panel that frames the app).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint

from .actions import Actions
from .ratelimit import RateLimiter
from .store import Store
from .webhooks import BACKOFF, Dispatcher

if TYPE_CHECKING:
    from ..host import SandboxHost

RATE_PER_SECOND = 10


class System:
    name = "dg1"
    hosts = ["api.dg1.ch", "admin.dg1.ch"]

    def __init__(self, host: "SandboxHost") -> None:
        self.host = host
        self.store = Store()
        self.limiter = RateLimiter(RATE_PER_SECOND)
        self.dispatcher = Dispatcher(host.lock, host.clock.time, lambda: host.app_url)
        self.actions = Actions(self)
        self.fail_next = 0
        self.reset()

    def blueprint(self) -> Blueprint:
        from .admin import create_admin_blueprint
        from .api import create_api_blueprint
        outer = Blueprint("dg1", __name__)
        outer.register_blueprint(create_api_blueprint(self))
        outer.register_blueprint(create_admin_blueprint(self))
        return outer

    def control_blueprint(self) -> Blueprint:
        from .control import create_control_blueprint
        return create_control_blueprint(self)

    def limits(self) -> list[str]:
        from .api import IDEMPOTENCY_TTL, MAX_STOCK_ITEMS
        from .paging import DEFAULT_LIMIT, MAX_LIMIT
        backoff = ", ".join(f"{s // 3600}h" if s >= 3600 else f"{s // 60}m" for s in BACKOFF)
        return [
            f"API: {RATE_PER_SECOND} requests/s per tenant (sliding 1 s window); "
            "over it 429 problem+json with Retry-After",
            f"lists: limit default {DEFAULT_LIMIT}, max {MAX_LIMIT}; cursor pagination",
            f"PUT stock: at most {MAX_STOCK_ITEMS} items per request",
            f"PATCH order Idempotency-Key remembered {IDEMPOTENCY_TTL // 3600} h",
            f"webhooks: {len(BACKOFF) + 1} attempts, retries after {backoff} (sandbox time), "
            "5 s timeout",
        ]

    def reset(self) -> None:
        with self.host.lock:
            self.store = Store()
            self.limiter.reset()
            self.dispatcher.reset()
            self.fail_next = 0
            self.actions.seed_demo()
