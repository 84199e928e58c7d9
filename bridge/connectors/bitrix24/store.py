"""Installations of the app, one per portal ``member_id``, and the clients built for them.

What is kept (https://apidocs.bitrix24.com/settings/oauth/index.html):
- tokens, the application_token and the portal's endpoints in the vault (encrypted);
- a SHA-256 of the application_token on the installation, to check every callback and
  iframe page without decrypting anything;
- ``Installation.endpoints``: ``client_endpoint`` (REST base), ``server_endpoint`` (OAuth
  server), ``mode`` (``oauth`` or ``webhook``) and ``setup`` (what the installer bound).

Keyed by member_id, never by domain: portals can be renamed (NOTES s3).
"""
from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select

from ...errors import PermanentError
from ...extensions import db
from ...installations import restore
from ...models import Credential, Installation
from ...ratelimit import limiter_for_app
from ...vault import vault_for_app
from ...messages import N_
from .client import (Bitrix24Client, OAuthAuth, StaticAuth, WebhookAuth, budget_key, limits_for_plan,
                     same_origin, token_url_for)

PLATFORM = "bitrix24"
# Hosts the portal may name as its OAuth server (NOTES s3); anything else would receive our
# client secret, so it is refused. Extend with BITRIX24_OAUTH_HOSTS for a private cloud.
KNOWN_OAUTH_HOSTS = ("oauth.bitrix.info", "oauth.bitrix24.tech")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find(member_id: str) -> Installation | None:
    return db.session.scalar(select(Installation).where(Installation.platform == PLATFORM,
                                                        Installation.account_id == member_id))


def owner(member_id: str, application_token: str) -> dict[str, str]:
    """``verify`` as column values, for the callback hot path (``engine.store_callback``):
    the active installation of this portal whose stored token hash is this token's."""
    return {"platform": PLATFORM, "account_id": member_id, "app_token_hash": hash_token(application_token)}


def verify(member_id: str | None, application_token: str | None) -> Installation | None:
    """The active installation whose stored application_token matches; None otherwise
    (NOTES s4 "Authenticity", s5: iframe pages too)."""
    if not member_id or not application_token:
        return None
    installation = find(member_id)
    if installation is None or installation.state != "active" or not installation.app_token_hash:
        return None
    if not hmac.compare_digest(installation.app_token_hash, hash_token(application_token)):
        return None
    return installation


def settings_of(installation: Installation) -> dict[str, Any]:
    """The Bitrix24 part of the installation's settings (``data["bitrix24"]``):
    ``plan`` ("enterprise" for 5 req/s, burst 250), ``stage_map`` ({stage id or code:
    InvoiceStatus value}), ``ledger_reference_field`` ("xmlId" or "comments")."""
    row = installation.settings
    return dict(((row.data or {}).get(PLATFORM) or {}) if row else {})


def check_server_endpoint(server_endpoint: str | None) -> str:
    """The token URL for a portal's ``server_endpoint``, if it is an OAuth server we trust."""
    config = current_app.config
    default = config["BITRIX24_OAUTH_URL"]
    url = token_url_for(server_endpoint, default)
    configured = config.get("BITRIX24_OAUTH_HOSTS") or os.environ.get("BITRIX24_OAUTH_HOSTS") or ""
    extra = [h.strip() for h in str(configured).split(",") if h.strip()]
    host = urlsplit(url).hostname or ""
    if same_origin(url, default) or (host in (*KNOWN_OAUTH_HOSTS, *extra) and url.startswith("https://")):
        return url
    raise PermanentError(N_("The portal named an OAuth server bridge does not know."), code="untrusted_oauth_server",
                         fix=N_("Add its host to BITRIX24_OAUTH_HOSTS if it is your own Bitrix24 cloud."),
                         ledger_messages=[server_endpoint or ""])


def save_oauth(*, member_id: str, domain: str, tokens: dict[str, Any], application_token: str,
               language: str = "en") -> Installation:
    """Create or refresh the installation of ``member_id`` from verified tokens.

    ``tokens`` is an OAuth server reply (it names ``client_endpoint`` and ``member_id``
    with authority). A re-install replaces tokens and application_token in place.
    """
    vault = vault_for_app(current_app)
    client_endpoint = tokens["client_endpoint"]
    data = {k: tokens.get(k) for k in ("access_token", "refresh_token", "expires_in", "client_endpoint",
                                       "server_endpoint", "member_id", "scope", "user_id")}
    data["application_token"] = application_token
    installation = find(member_id)
    if installation is None:
        installation = Installation(platform=PLATFORM, account_id=member_id)
        db.session.add(installation)
    if installation.credential_id and db.session.get(Credential, installation.credential_id):
        vault.replace(installation.credential_id, data)
    else:
        installation.credential_id = vault.create(PLATFORM, data)
    installation.domain = domain
    restore(installation)  # a re-install within an uninstall's grace period gets its data back
    installation.app_token_hash = hash_token(application_token)
    installation.language = (language or "en")[:10]
    installation.endpoints = {**(installation.endpoints or {}), "mode": "oauth", "client_endpoint": client_endpoint,
                              "server_endpoint": tokens.get("server_endpoint") or ""}
    db.session.commit()
    return installation


def save_webhook(webhook_url: str) -> Installation:
    """A self-hosted portal connected by an inbound webhook (NOTES s1): sync, no iframe."""
    parts = urlsplit(webhook_url)
    if "/rest/" not in parts.path:
        raise PermanentError(N_("That is not a Bitrix24 inbound webhook URL."),
                             fix=N_("Copy the URL shown under Developer resources > Inbound webhook, "
                                    "like https://portal.example.com/rest/1/abc123/."))
    account = f"webhook:{parts.netloc}"
    installation = find(account) or Installation(platform=PLATFORM, account_id=account)
    db.session.add(installation)
    vault = vault_for_app(current_app)
    data = {"webhook_url": webhook_url if webhook_url.endswith("/") else webhook_url + "/"}
    if installation.credential_id and db.session.get(Credential, installation.credential_id):
        vault.replace(installation.credential_id, data)
    else:
        installation.credential_id = vault.create(PLATFORM, data)
    installation.domain = parts.hostname or ""
    restore(installation)
    installation.endpoints = {**(installation.endpoints or {}), "mode": "webhook",
                              "client_endpoint": webhook_url.split("/rest/")[0] + "/rest/"}
    db.session.commit()
    return installation


def _on_moved(installation_id: int):
    def moved(new_endpoint: str) -> None:
        # NOTES s3: remember the new domain; committed on its own so the caller's work is untouched.
        with db.engine.begin() as conn:
            row = db.session.get(Installation, installation_id)
            endpoints = {**(row.endpoints or {}), "client_endpoint": new_endpoint}
            conn.execute(Installation.__table__.update().where(Installation.__table__.c.id == installation_id)
                         .values(endpoints=endpoints, domain=urlsplit(new_endpoint).hostname or row.domain))
    return moved


def client_for(installation: Installation) -> Bitrix24Client:
    """The REST client of an installation, sharing the portal's budget with every process."""
    if installation.state != "active" or not installation.credential_id:
        raise PermanentError(N_("The app is not installed on this Bitrix24 portal any more."),
                             code="not_installed", fix=N_("Install the app again from Bitrix24's Applications."))
    config = current_app.config
    mode = (installation.endpoints or {}).get("mode", "oauth")
    if mode == "webhook":
        url = vault_for_app(current_app).read(installation.credential_id).data["webhook_url"]
        auth = WebhookAuth(url, on_moved=_on_moved(installation.id))
    else:
        auth = OAuthAuth(vault_for_app(current_app), installation.credential_id,
                         client_id=config["BITRIX24_CLIENT_ID"] or "", client_secret=config["BITRIX24_CLIENT_SECRET"] or "",
                         default_token_url=config["BITRIX24_OAUTH_URL"], member_id=installation.account_id,
                         timeout=config["HTTP_TIMEOUT_SECONDS"], on_moved=_on_moved(installation.id))
    return Bitrix24Client(auth, limiter=limiter_for_app(current_app),
                          limits=limits_for_plan(settings_of(installation).get("plan")),
                          budget_key=budget_key(installation.account_id), timeout=config["HTTP_TIMEOUT_SECONDS"])


def user_client(installation: Installation, access_token: str) -> Bitrix24Client:
    """A client acting with an iframe user's own token, under the portal's shared budget."""
    config = current_app.config
    endpoint = (installation.endpoints or {})["client_endpoint"]
    return Bitrix24Client(StaticAuth(endpoint, access_token), limiter=limiter_for_app(current_app),
                          limits=limits_for_plan(settings_of(installation).get("plan")),
                          budget_key=budget_key(installation.account_id), timeout=config["HTTP_TIMEOUT_SECONDS"])


def active_installations() -> list[Installation]:
    return list(db.session.scalars(select(Installation).where(
        Installation.platform == PLATFORM, Installation.state == "active")))
