"""A simulated Bitrix24 cloud: several portals, the OAuth server, events, and portal pages.

See docs/sandbox/bitrix24.md for URLs, demo portals and control endpoints. Quirks follow the
public REST documentation (https://apidocs.bitrix24.com/); ``NOTES §n`` in its modules names
the section of docs/sources.md that lists the pages behind it.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint

from . import control, oauth, rest, ui
from .core import OAUTH_ALIAS_HOSTS, OAUTH_HOST, Bitrix24Cloud
from .state import DEFAULT_PORTALS


class System:
    name = "bitrix24"
    hosts = [d[0] for d in DEFAULT_PORTALS] + [OAUTH_HOST, *OAUTH_ALIAS_HOSTS, "api.bitrix24.com"]

    def __init__(self, host: Any) -> None:
        self.host = host
        self.cloud = Bitrix24Cloud(host)

    def blueprint(self) -> Blueprint:
        bp = Blueprint("bitrix24", __name__)
        oauth.register(bp, self.cloud)
        rest.register(bp, self.cloud)
        ui.register(bp, self.cloud)
        return bp

    def control_blueprint(self) -> Blueprint:
        return control.blueprint(self.cloud)

    def limits(self) -> list[str]:
        lines = []
        for portal in self.cloud.portals.values():
            b = portal.bucket
            lines.append(f"{portal.domain} ({portal.plan}): leaky bucket {b.capacity} requests, drains "
                         f"{b.drain_per_second:g}/s per portal; over it 503 QUERY_LIMIT_EXCEEDED")
        lines += ["access token 3600 s; refresh token 180 days, single use (rotates on every refresh)",
                  "batch: at most 50 commands; lists: 50 rows per page",
                  "OPERATION_TIME_LIMIT (429) per method when switched on via the control endpoint",
                  f"insecure (http/localhost) handlers allowed: {self.cloud.allow_insecure_handlers}"]
        return lines

    def reset(self) -> None:
        with self.host.lock:
            self.cloud.reset()
