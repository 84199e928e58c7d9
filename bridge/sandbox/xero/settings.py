"""Settings of the simulated Xero: the registered demo app, limits and the demo relaxations.

Everything can be overridden by environment variables so a demo can match a real app's
registration; tests change the runtime switches through the control endpoints instead.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


@dataclass
class XeroSettings:
    client_id: str = "bridge-demo"
    client_secret: str = "bridge-demo-secret"
    webhook_key: str = "bridge-demo-webhook-key"
    app_name: str = "bridge demo"
    # Extra redirect URIs registered for the demo app, besides <app_url>/oauth/xero/callback.
    redirect_uris: list[str] = field(default_factory=list)
    # Demo relaxation, off by default: real Xero accepts http redirect URIs only on localhost
    # (NOTES section 1).
    allow_http_redirects: bool = False
    # Demo convenience, off by default: real Xero shows a consent page with the organisations
    # to pick; with this on the authorize step approves every organisation at once.
    auto_approve: bool = False
    # NOTES section 7: 60/min, 5 concurrent, 5,000/day per organisation and app
    # (1,000/day on the Starter tier), 10,000/min per app across all organisations.
    minute_limit: int = 60
    concurrent_limit: int = 5
    day_limit: int = 5000
    app_minute_limit: int = 10000
    # Deliver webhooks from the background thread as changes happen (tests may turn it off
    # and flush by hand).
    webhooks_enabled: bool = True

    @classmethod
    def from_env(cls) -> "XeroSettings":
        extra = os.environ.get("SANDBOX_XERO_REDIRECT_URIS", "")
        return cls(
            client_id=os.environ.get("SANDBOX_XERO_CLIENT_ID", cls.client_id),
            client_secret=os.environ.get("SANDBOX_XERO_CLIENT_SECRET", cls.client_secret),
            webhook_key=os.environ.get("SANDBOX_XERO_WEBHOOK_KEY", cls.webhook_key),
            app_name=os.environ.get("SANDBOX_XERO_APP_NAME", cls.app_name),
            redirect_uris=[u.strip() for u in extra.split(",") if u.strip()],
            allow_http_redirects=_flag("SANDBOX_XERO_ALLOW_HTTP_REDIRECTS"),
            auto_approve=_flag("SANDBOX_XERO_AUTO_APPROVE"),
            day_limit=_int("SANDBOX_XERO_DAY_LIMIT", cls.day_limit),
            minute_limit=_int("SANDBOX_XERO_MINUTE_LIMIT", cls.minute_limit),
            concurrent_limit=_int("SANDBOX_XERO_CONCURRENT_LIMIT", cls.concurrent_limit),
            app_minute_limit=_int("SANDBOX_XERO_APP_MINUTE_LIMIT", cls.app_minute_limit),
            webhooks_enabled=not _flag("SANDBOX_XERO_WEBHOOKS_OFF"),
        )

    # Runtime switches a control endpoint may change (tests, demos).
    RUNTIME = ("allow_http_redirects", "auto_approve", "minute_limit", "concurrent_limit",
               "day_limit", "app_minute_limit", "webhooks_enabled")
