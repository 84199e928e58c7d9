"""A DG1 tenant registered in bridge: its Installation row and its three secrets.

A DG1 tenant has no OAuth install: its admin creates an API key, and DG1 holds a webhook
secret and an app launch secret for the app (docs/dg1.md section 7). All three (and, during
a webhook secret rotation, the previous webhook secret with the end of its window) are
stored encrypted in one vault credential; the admin origin (the only page allowed to
frame bridge's pages) is in ``Installation.endpoints``.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from flask import current_app
from sqlalchemy import select

from ...errors import PermanentError
from ...extensions import db
from ...models import Installation
from ...ratelimit import limiter_for_app
from ...redaction import register_secret
from ...vault import vault_for_app
from ...messages import N_
from . import signing
from .client import DG1Client

PLATFORM = "dg1"


# How long a replaced webhook secret is still accepted (docs/dg1.md section 5, "Rotating
# the webhook secret"): DG1 may switch to the new secret at any moment in this window.
ROTATION_WINDOW = 48 * 3600


@dataclass(frozen=True)
class TenantSecrets:
    api_key: str
    webhook_secret: str
    launch_secret: str
    previous_webhook_secret: str | None = None
    previous_valid_until: float | None = None  # unix seconds, bridge's DG1 clock

    def webhook_secrets(self, now: float) -> list[str]:
        """The secrets a webhook may be signed with at ``now``: the current one, and the
        previous one until its rotation window ends."""
        accepted = [self.webhook_secret]
        if self.previous_webhook_secret and self.previous_valid_until and now <= self.previous_valid_until:
            accepted.append(self.previous_webhook_secret)
        return accepted


def origin_of(url: str) -> str:
    """``https://admin.dg1.ch/demo/`` -> ``https://admin.dg1.ch`` (a CSP source)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def find_tenant(tenant_id: str) -> Installation | None:
    return db.session.scalar(select(Installation).where(Installation.platform == PLATFORM,
                                                        Installation.account_id == tenant_id,
                                                        Installation.state == "active"))


def add_tenant(tenant_id: str, *, api_key: str, webhook_secret: str, launch_secret: str,
               admin_origin: str | None = None, name: str = "",
               rotation_window: int = ROTATION_WINDOW) -> Installation:
    """Register a tenant, or replace its secrets (a rotated key) when it exists. Commits.

    A new webhook secret does not lock out the old one at once: the old one is kept, and
    accepted for ``rotation_window`` seconds more, so deliveries DG1 signs while it
    switches (and its retries) still get in."""
    if not tenant_id or not api_key or not webhook_secret or not launch_secret:
        raise ValueError("tenant id, API key, webhook secret and launch secret are all required")
    origin = origin_of(admin_origin or current_app.config["DG1_ADMIN_URL"])
    data: dict = {"api_key": api_key, "webhook_secret": webhook_secret, "launch_secret": launch_secret}
    for value in data.values():
        register_secret(value)
    vault = vault_for_app(current_app)
    row = db.session.scalar(select(Installation).where(Installation.platform == PLATFORM,
                                                       Installation.account_id == tenant_id))
    if row is None:
        row = Installation(platform=PLATFORM, account_id=tenant_id)
        db.session.add(row)
    if row.credential_id is not None:
        old = secrets_of(row)
        if old.webhook_secret != webhook_secret:
            data.update(previous_webhook_secret=old.webhook_secret,
                        previous_valid_until=signing.now_seconds() + rotation_window)
        elif old.previous_webhook_secret:  # the same secret again: a running rotation goes on
            data.update(previous_webhook_secret=old.previous_webhook_secret,
                        previous_valid_until=old.previous_valid_until)
    if row.credential_id is None:
        row.credential_id = vault.create(PLATFORM, data)
    else:
        # The vault writes on its own connection: end this session's read first, or
        # SQLite refuses to let the session write after it (a stale snapshot).
        credential_id = row.credential_id
        db.session.commit()
        vault.replace(credential_id, data)
    row.state = "active"
    row.domain = name or row.domain or tenant_id
    row.endpoints = {**(row.endpoints or {}), "admin_origin": origin}
    db.session.commit()
    return row


def secrets_of(installation: Installation) -> TenantSecrets:
    if installation.credential_id is None:
        raise PermanentError(N_("DG1 tenant %(tenant)s has no API key in bridge.", tenant=installation.account_id),
                             fix=N_("Register it with: flask dg1 add-tenant --tenant ..."))
    data = vault_for_app(current_app).read(installation.credential_id).data
    for value in data.values():
        if isinstance(value, str):  # not the rotation window's end
            register_secret(value)
    return TenantSecrets(api_key=data["api_key"], webhook_secret=data["webhook_secret"],
                         launch_secret=data["launch_secret"],
                         previous_webhook_secret=data.get("previous_webhook_secret"),
                         previous_valid_until=data.get("previous_valid_until"))


def admin_origin(installation: Installation) -> str:
    return (installation.endpoints or {}).get("admin_origin") or origin_of(current_app.config["DG1_ADMIN_URL"])


# Where DG1's "Bexio integration" menu pages are (docs/dg1.md section 6): bridge sends the
# browser back there after Bexio's consent screen. A tenant can override it in
# ``endpoints["admin_page"]`` with the same placeholders.
ADMIN_PAGE = "{admin}/{tenant}/bexio/{page}?site={site}"


def admin_page_url(installation: Installation, page: str, site: str) -> str:
    """The DG1 admin page that frames bridge's ``page`` for ``site``. The admin panel's
    base is ``DG1_ADMIN_URL`` when the tenant's admin origin is its origin (it may carry a
    path, as the sandbox's does), else the tenant's own admin origin."""
    configured = current_app.config["DG1_ADMIN_URL"].rstrip("/")
    origin = admin_origin(installation)
    base = configured if origin_of(configured) == origin else origin
    template = (installation.endpoints or {}).get("admin_page") or ADMIN_PAGE
    return template.format(admin=base, tenant=quote(installation.account_id, safe=""),
                           page=quote(page, safe=""), site=quote(site, safe=""))


def client_for(installation: Installation) -> DG1Client:
    """The tenant's API client, sharing the tenant's rate budget with every process."""
    app = current_app._get_current_object()
    return DG1Client(app.config["DG1_API_URL"], installation.account_id, secrets_of(installation).api_key,
                     limiter=limiter_for_app(app), timeout=app.config["HTTP_TIMEOUT_SECONDS"])
