"""A Bexio company connected to an installation: storing it, its tokens, its health.

The tokens live only in the vault (encrypted, refreshed single-flight because Bexio's
refresh tokens rotate, NOTES §1); the ``LedgerConnection`` row names the company and says
whether it works. When Bexio refuses a refresh (``invalid_grant``, NOTES §8.4) the row's
health becomes ``needs_reconnect`` so the settings page can ask the user to reconnect.
"""
from __future__ import annotations

import logging
import os
from typing import Any

from flask import current_app
from sqlalchemy import select, update

from ...errors import NeedsReconnect
from ...extensions import db
from ...messages import Message, N_
from ...models import Credential, Installation, LedgerConnection, utcnow
from ...ports import platform_class
from ...stored_messages import columns
from ...vault import vault_for_app
from .auth import BexioIdentity, BexioOAuth

log = logging.getLogger(__name__)

LEDGER = "bexio"


def oauth_for_app(app=None) -> BexioOAuth:
    app = app or current_app
    auth_url = app.config["BEXIO_AUTH_URL"]
    if auth_url.startswith("http://") and app.config.get("BRIDGE_ENV") in ("demo", "test"):
        # The sandbox realm is plain http on loopback; oauthlib refuses that unless told.
        os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
    return BexioOAuth(auth_url=auth_url, client_id=app.config.get("BEXIO_CLIENT_ID") or "",
                      client_secret=app.config.get("BEXIO_CLIENT_SECRET") or "",
                      token_auth=app.config.get("BEXIO_TOKEN_AUTH") or "client_secret_post",
                      timeout=float(app.config.get("HTTP_TIMEOUT_SECONDS", 30)))


def mark_needs_reconnect(connection_id: int, message: str) -> None:
    """On its own short transaction: the caller's session may be mid-flow."""
    with db.engine.begin() as conn:
        conn.execute(update(LedgerConnection.__table__)
                     .where(LedgerConnection.__table__.c.id == connection_id)
                     .values(health="needs_reconnect", **columns(
                         health_message=message if isinstance(message, Message) else message[:2000])))


class VaultTokens:
    """The client's token source for one connection: fresh tokens from the vault,
    refreshed with Bexio at most once at a time; a refused refresh marks the connection."""

    def __init__(self, connection_id: int, credential_id: int, oauth: BexioOAuth, app=None) -> None:
        self.connection_id = connection_id
        self.credential_id = credential_id
        self.oauth = oauth
        self.vault = vault_for_app(app or current_app)

    def _fresh(self, stale_version: int | None) -> tuple[str, int]:
        try:
            tokens = self.vault.fresh(self.credential_id, self.oauth.refresh, stale_version=stale_version)
        except NeedsReconnect as exc:
            mark_needs_reconnect(self.connection_id, exc.message)
            raise
        return tokens.access_token, tokens.version

    def current(self) -> tuple[str, int]:
        return self._fresh(None)

    def renew(self, stale_version: int) -> tuple[str, int]:
        return self._fresh(stale_version)


def active_connection(installation_id: int) -> LedgerConnection | None:
    return db.session.scalars(select(LedgerConnection).where(
        LedgerConnection.installation_id == installation_id, LedgerConnection.ledger == LEDGER,
        LedgerConnection.active.is_(True))).first()


def store_connection(installation: Installation, identity: BexioIdentity, token: dict[str, Any]) -> LedgerConnection:
    """Create or renew the installation's connection to ``identity``'s company.

    One Bexio company is active per installation: connecting another company deactivates
    the previous one (its links stay, bound to its company id). Commits.
    """
    vault = vault_for_app(current_app)
    rows = db.session.scalars(select(LedgerConnection).where(
        LedgerConnection.installation_id == installation.id, LedgerConnection.ledger == LEDGER)).all()
    connection = next((r for r in rows if r.organisation_id == identity.company_id), None)
    for other in rows:
        if other is not connection and other.active:
            other.active = False
            other.health_message = N_("Replaced by the connection to %(company)s.",
                                      company=identity.company_name or identity.company_id)
    if connection is not None and connection.credential_id:
        vault.replace(connection.credential_id, token)
    else:
        credential_id = vault.create(LEDGER, token)
        if connection is None:
            connection = LedgerConnection(installation_id=installation.id, ledger=LEDGER,
                                          organisation_id=identity.company_id)
            db.session.add(connection)
        connection.credential_id = credential_id
    connection.organisation_name = identity.company_name
    connection.connection_ref = str(identity.user_id) if identity.user_id is not None else identity.login_id
    connection.active = True
    connection.health = "ok"
    connection.health_message = None
    connection.last_success_at = utcnow()
    db.session.commit()
    platform_class(installation.platform).ledger_connected(installation, LEDGER)  # "Bexio" in its titles
    return connection


def disconnect(connection: LedgerConnection, oauth: BexioOAuth | None = None) -> None:
    """End the offline session at Bexio (best effort), forget the tokens, keep the row
    (its links and history stay readable). Commits."""
    if connection.credential_id:
        try:
            data = vault_for_app(current_app).read(connection.credential_id).data
        except NeedsReconnect:
            data = {}
        if data.get("refresh_token") and oauth is not None:
            oauth.revoke(data["refresh_token"])
        credential = db.session.get(Credential, connection.credential_id)
        connection.credential_id = None
        if credential is not None:
            db.session.delete(credential)
    connection.active = False
    connection.health = "needs_reconnect"
    connection.health_message = N_("Disconnected.")
    db.session.commit()
