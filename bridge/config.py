"""One Config class: embedded defaults, overridden by environment variables.

Modes (``BRIDGE_ENV``):

- ``development`` (default): SQLite and Huey-on-SQLite in ``instance/``; missing secrets
  are generated once into ``instance/`` with a warning; external systems are the real ones.
- ``demo``: as development, but every external base URL points at the sandbox
  (``SANDBOX_URL``), so the app works with no account anywhere.
- ``test``: as demo, with in-memory jobs that tests run synchronously.
- ``production``: nothing is generated; a missing secret stops start-up naming the variable.

Every external base URL defaults to the real service. The sandbox serves each real host
under its own name (``https://api.xero.com/x`` -> ``<SANDBOX_URL>/api.xero.com/x``), so
``sandboxed()`` is the only translation needed.
"""
from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE = PROJECT_ROOT / "instance"

# The real services. Each is overridable by an environment variable of the same name.
REAL_URLS: dict[str, str] = {
    "XERO_AUTHORIZE_URL": "https://login.xero.com/identity/connect/authorize",
    "XERO_TOKEN_URL": "https://identity.xero.com/connect/token",
    "XERO_REVOKE_URL": "https://identity.xero.com/connect/revocation",
    "XERO_CONNECTIONS_URL": "https://api.xero.com/connections",
    "XERO_API_URL": "https://api.xero.com/api.xro/2.0",
    "XERO_WEB_URL": "https://go.xero.com",
    # Bitrix24 refreshes at oauth.bitrix.info also for self-hosted portals
    # (https://apidocs.bitrix24.com/settings/oauth/index.html); the portal's server_endpoint
    # overrides it.
    "BITRIX24_OAUTH_URL": "https://oauth.bitrix.info/oauth/token/",
    "BITRIX24_JS_URL": "https://api.bitrix24.com/api/v1/",  # BX24 JS for iframe pages (NOTES s11)
    "BEXIO_AUTH_URL": "https://auth.bexio.com/realms/bexio/protocol/openid-connect",
    "BEXIO_API_URL": "https://api.bexio.com",
    "BEXIO_WEB_URL": "https://office.bexio.com",  # links to invoices, contacts, articles
    # DG1 publishes no API; this is the contract of docs/dg1.md, to be agreed with DG1.
    "DG1_API_URL": "https://api.dg1.ch/api/v1",
    "DG1_ADMIN_URL": "https://admin.dg1.ch",
}

# What demo and test use to talk to the sandbox's registered apps (see docs/sandbox.md).
DEMO_CREDENTIALS: dict[str, str] = {
    "XERO_CLIENT_ID": "bridge-demo",
    "XERO_CLIENT_SECRET": "bridge-demo-secret",
    "XERO_WEBHOOK_KEY": "bridge-demo-webhook-key",
    "BITRIX24_CLIENT_ID": "local.bridge-demo.000001",
    "BITRIX24_CLIENT_SECRET": "bridge-demo-secret",
    "BEXIO_CLIENT_ID": "bridge-demo",
    "BEXIO_CLIENT_SECRET": "bridge-demo-secret",
}

SECRET_NAMES = ("SECRET_KEY", "TOKEN_ENCRYPTION_KEY")


class ConfigError(RuntimeError):
    """Start-up cannot continue; the message names the variable to set."""


def sandboxed(real_url: str, sandbox_url: str) -> str:
    """``https://api.xero.com/a`` -> ``<sandbox_url>/api.xero.com/a``."""
    without_scheme = real_url.split("://", 1)[1]
    return f"{sandbox_url.rstrip('/')}/{without_scheme}"


class Config:
    """Built once per app; read as a mapping by Flask (``app.config.from_mapping``)."""

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        overrides = dict(overrides or {})
        env = overrides.get("BRIDGE_ENV") or os.environ.get("BRIDGE_ENV", "development")
        if env not in ("development", "demo", "test", "production"):
            raise ConfigError(f"BRIDGE_ENV must be development, demo, test or production, not {env!r}")
        self.values: dict[str, Any] = {"BRIDGE_ENV": env}
        instance = Path(overrides.get("INSTANCE_PATH") or os.environ.get("BRIDGE_INSTANCE_PATH") or DEFAULT_INSTANCE)
        self.values["INSTANCE_PATH"] = str(instance)

        get = lambda name, default=None: overrides.get(name, os.environ.get(name, default))  # noqa: E731
        self.values.update(
            SQLALCHEMY_DATABASE_URI=get("DATABASE_URL") or f"sqlite:///{instance / 'bridge.db'}",
            REDIS_URL=get("REDIS_URL"),
            PUBLIC_URL=(get("PUBLIC_URL") or "http://127.0.0.1:5000").rstrip("/"),
            SANDBOX_URL=(get("SANDBOX_URL") or "http://127.0.0.1:5001").rstrip("/"),
            TRUST_PROXY_HOPS=int(get("TRUST_PROXY_HOPS", 0)),
            RETENTION_DAYS=int(get("RETENTION_DAYS", 90)),
            # A confirmed uninstall with "clear app data" keeps the data this long, for a reinstall
            # to restore (docs/bitrix24.md "Uninstalling"); then the daily maintenance purges it.
            UNINSTALL_GRACE_DAYS=int(get("UNINSTALL_GRACE_DAYS", 30)),
            # At most one check of uninstall events per installation in this many seconds.
            UNINSTALL_CHECK_WINDOW_SECONDS=float(get("UNINSTALL_CHECK_WINDOW_SECONDS", 900)),
            HTTP_TIMEOUT_SECONDS=float(get("HTTP_TIMEOUT_SECONDS", 30)),
            SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
            JOBS_RUN_IN_TESTS=False,
            # Alerts by e-mail (bridge/alerts.py), only when SMTP_HOST and SMTP_TO are set.
            SMTP_HOST=get("SMTP_HOST"), SMTP_PORT=int(get("SMTP_PORT", 587)), SMTP_USER=get("SMTP_USER"),
            SMTP_PASSWORD=get("SMTP_PASSWORD"), SMTP_FROM=get("SMTP_FROM"), SMTP_TO=get("SMTP_TO"),
            SMTP_STARTTLS=get("SMTP_STARTTLS", "1"),
        )
        if env in ("demo", "test"):
            for name, real in REAL_URLS.items():
                self.values[name] = get(name) or sandboxed(real, self.values["SANDBOX_URL"])
            for name, value in DEMO_CREDENTIALS.items():
                self.values[name] = get(name) or value
        else:
            for name, real in REAL_URLS.items():
                self.values[name] = get(name) or real
            for name in DEMO_CREDENTIALS:
                self.values[name] = get(name)
        self.values["TESTING"] = env == "test"
        self._check_urls()
        for name in SECRET_NAMES:
            self.values[name] = get(name) or self._missing_secret(name, env, instance)
        # Anything else passed explicitly (tests) goes in as given.
        self.values.update({k: v for k, v in overrides.items() if k not in self.values})

    def _check_urls(self) -> None:
        """Base URLs become links and script sources in our pages (the ledgers' web
        addresses, the BX24 script): only an http(s) URL is accepted, at start."""
        from .safe_url import keepable

        for name in (*REAL_URLS, "PUBLIC_URL", "SANDBOX_URL"):
            if self.values.get(name) and keepable(self.values[name]) is None:
                raise ConfigError(f"{name} must be an http:// or https:// URL, not {self.values[name]!r}")

    @staticmethod
    def _missing_secret(name: str, env: str, instance: Path) -> str:
        if env == "production":
            raise ConfigError(f"{name} is not set. Production needs it in the environment "
                              f"(see README, Configuration).")
        path = instance / f"{name.lower()}.secret"
        if path.exists():
            return path.read_text().strip()
        instance.mkdir(parents=True, exist_ok=True)
        value = Fernet.generate_key().decode() if name == "TOKEN_ENCRYPTION_KEY" else secrets.token_urlsafe(48)
        path.write_text(value)
        path.chmod(0o600)
        log.warning("%s was not set; generated one into %s. Set it in the environment for production.", name, path)
        return value

    def as_mapping(self) -> dict[str, Any]:
        return dict(self.values)
