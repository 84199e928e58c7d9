"""The simulated Bexio: auth.bexio.com (Keycloak realm ``bexio``), api.bexio.com
(2.0 / 3.0 resources) and a small office.bexio.com view, for several companies at once.

Faithful to the public Bexio API (https://docs.bexio.com/); ``NOTES §n`` in its modules
names the section of docs/sources.md listing the public page behind a quirk. Relaxations exist
only as the named demo settings in ``state.DemoSettings``, off by default.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, request

from . import articles, contacts, control, gate, invoices, oauth, payments, refdata, sessions, web
from .state import BexioState, Company, DemoSettings, RegisteredApp
from .wire import ApiError, error

if TYPE_CHECKING:
    from ..host import SandboxHost

API_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


class System:
    name = "bexio"
    hosts = ["auth.bexio.com", "api.bexio.com", "office.bexio.com"]

    def __init__(self, host: "SandboxHost") -> None:
        self.host = host
        self.demo = DemoSettings.from_env()
        self.app = RegisteredApp.from_env(host.app_url)
        self.rate_limit = gate.DEFAULT_RATE_LIMIT
        self.state = BexioState.with_demo_companies()

    # -- the host's interface -------------------------------------------------------
    def blueprint(self) -> Blueprint:
        root = Blueprint("bexio", __name__)
        root.register_blueprint(oauth.blueprint(self))
        root.register_blueprint(self._api_blueprint())
        root.register_blueprint(web.blueprint(self))
        return root

    def control_blueprint(self) -> Blueprint:
        return control.blueprint(self)

    def limits(self) -> list[str]:
        return [
            f"api.bexio.com: {self.rate_limit} requests per company per minute, then 429 with "
            "RateLimit-Limit / RateLimit-Remaining / RateLimit-Reset (number unpublished; sandbox choice)",
            "paging: limit default 500, max 2000 (above: 400); offset from 0",
            f"access token {sessions.ACCESS_TOKEN_SECONDS} s; offline refresh token idles out after 365 days; "
            "refresh tokens rotate (a used one is stale)",
            "invoice create: at most 150 positions; amounts at most 6 decimals",
            f"demo settings: auto_approve={self.demo.auto_approve}, "
            f"any_loopback_redirect={self.demo.any_loopback_redirect}",
        ]

    def reset(self) -> None:
        with self.host.lock:
            self.state = BexioState.with_demo_companies()
            self.demo = DemoSettings.from_env()
            self.app = RegisteredApp.from_env(self.host.app_url)
            self.rate_limit = gate.DEFAULT_RATE_LIMIT

    # -- helpers shared by the modules -------------------------------------------------
    def settings(self) -> dict:
        return {"auto_approve": self.demo.auto_approve,
                "any_loopback_redirect": self.demo.any_loopback_redirect,
                "rate_limit": self.rate_limit, "redirect_uris": self.app.redirect_uris}

    def network_link(self, inv: dict) -> str:
        """The customer's link that replaces ``[Network Link]`` in sent e-mails."""
        base = self.host.public_url or request.host_url.rstrip("/")
        return f"{base}/office.bexio.com/share/invoice/{inv['network_token']}"

    def login_hint_user(self, hint: str | None) -> tuple[Company, dict]:
        for company in self.state.companies.values():
            for user in company.users:
                if hint and user["email"] == hint:
                    return company, user
        first = next(iter(self.state.companies.values()))
        return first, first.users[0]

    def _api_blueprint(self) -> Blueprint:
        bp = Blueprint("bexio_api", __name__, url_prefix="/api.bexio.com")
        bp.before_request(lambda: gate.before(self))
        bp.after_request(gate.after)
        bp.register_error_handler(ApiError, gate.handle_api_error)
        for module in (contacts, invoices, payments, articles, refdata):
            module.register(bp, self)

        @bp.route("/<path:unknown>", methods=API_METHODS)
        def not_found(unknown: str):
            # A wrong version or resource is a plain 404 (NOTES §2, e.g. /2.0/currencies).
            return error(404, "Page not found")

        return bp
