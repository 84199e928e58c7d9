"""Build a Xero ledger for a ``LedgerConnection``, and keep that connection's health.

Health is what users see on the settings page and beside every sync record:
``needs_reconnect`` after invalid_grant (NOTES 1, 8), ``paused`` with the resume time after a
day-limit 429 (NOTES 7), ``ok`` again after the next successful call. Health writes use their
own short transaction: the flow that met the error rolls its own session back.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from ...errors import BudgetExhausted, NeedsReconnect, PermanentError, SyncError
from ...extensions import db
from ...models import Credential, Installation, LedgerConnection, utcnow
from ...ports import platform_class
from ...ratelimit import limiter_for_app
from ...vault import vault_for_app
from ...messages import N_
from ...stored_messages import columns
from .client import XeroClient
from .contact_index import ContactIndex
from .ledger import XeroLedger
from .oauth import TokenSource, XeroConnection, XeroOAuth

log = logging.getLogger(__name__)
SUCCESS_NOTE_EVERY = timedelta(minutes=5)


def oauth_for_app(app=None) -> XeroOAuth:
    app = app or current_app._get_current_object()
    return XeroOAuth.from_config(app.config)


def mark_needs_reconnect(credential_id: int | None, connection_id: int, message: str) -> None:
    """Every connection using the refused credential needs the user to connect again."""
    condition = LedgerConnection.id == connection_id
    if credential_id is not None:
        condition = or_(condition, LedgerConnection.credential_id == credential_id)
    with db.engine.begin() as conn:
        conn.execute(update(LedgerConnection).where(condition).values(
            health="needs_reconnect", **columns(health_message=message), updated_at=utcnow()))


def mark_paused(connection_id: int, resume_at: datetime, message: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(update(LedgerConnection).where(LedgerConnection.id == connection_id).values(
            health="paused", paused_until=resume_at, **columns(health_message=message), updated_at=utcnow()))


def mark_ok(connection_id: int) -> None:
    with db.engine.begin() as conn:
        conn.execute(update(LedgerConnection).where(LedgerConnection.id == connection_id).values(
            health="ok", **columns(health_message=None), paused_until=None, last_success_at=utcnow(), updated_at=utcnow()))


def build_client(connection: LedgerConnection, app=None, **kwargs) -> XeroClient:
    app = app or current_app._get_current_object()
    if connection.ledger != "xero" or not connection.active:
        raise PermanentError(N_("This installation has no active Xero connection."), code="not_connected",
                             fix=N_("Connect Xero in Settings."))
    if connection.credential_id is None:
        raise NeedsReconnect(N_("The Xero connection has no tokens."), fix=N_("Connect Xero again in Settings."))
    connection_id, credential_id = connection.id, connection.credential_id
    healthy = connection.health == "ok" and connection.last_success_at is not None \
        and connection.last_success_at > utcnow() - SUCCESS_NOTE_EVERY
    noted = {"done": healthy}

    def on_error(error: SyncError) -> None:
        try:
            if isinstance(error, BudgetExhausted):
                mark_paused(connection_id, error.resume_at, error.message)
            elif isinstance(error, NeedsReconnect):
                mark_needs_reconnect(credential_id, connection_id, error.message)
        except Exception:  # health is a display; never hide the original error
            log.exception("could not record the Xero connection's health")

    def on_success() -> None:
        if not noted["done"]:
            noted["done"] = True
            mark_ok(connection_id)

    tokens = TokenSource(vault_for_app(app), credential_id, oauth_for_app(app))
    return XeroClient(app.config["XERO_API_URL"], connection.organisation_id, tokens,
                      limiter=limiter_for_app(app), timeout=float(app.config.get("HTTP_TIMEOUT_SECONDS", 30)),
                      on_error=on_error, on_success=on_success, **kwargs)


def active_connection(installation_id: int) -> LedgerConnection | None:
    return db.session.scalars(db.select(LedgerConnection).where(
        LedgerConnection.installation_id == installation_id, LedgerConnection.ledger == "xero",
        LedgerConnection.active.is_(True)).order_by(LedgerConnection.id.desc())).first()


def build(installation: Installation, connection: LedgerConnection | None = None) -> XeroLedger:
    """The adapter flows use (``bridge.ports.Ledger``) for one installation."""
    connection = connection or active_connection(installation.id)
    if connection is None:
        raise PermanentError(N_("This installation is not connected to Xero."), code="not_connected",
                             fix=N_("Connect Xero in Settings."))
    app = current_app._get_current_object()
    return XeroLedger(build_client(connection, app), web_url=app.config.get("XERO_WEB_URL", "https://go.xero.com"),
                      index=ContactIndex(connection.organisation_id))


def attach_organisation(installation: Installation, credential_id: int, organisation: XeroConnection) -> LedgerConnection:
    """Make ``organisation`` the installation's Xero connection, with these tokens (the OAuth
    callback's last step); the installation's other Xero organisations stop being active and
    tokens nobody uses any more are deleted."""
    others = db.session.scalars(select(LedgerConnection).where(
        LedgerConnection.installation_id == installation.id, LedgerConnection.ledger == "xero")).all()
    connection = next((c for c in others if c.organisation_id == organisation.tenant_id), None)
    old_credentials = {c.credential_id for c in others if c.credential_id and c.credential_id != credential_id}
    for other in others:
        if other is not connection:
            other.active = False
    if connection is None:
        connection = LedgerConnection(installation_id=installation.id, ledger="xero",
                                      organisation_id=organisation.tenant_id)
        db.session.add(connection)
    connection.organisation_name = organisation.tenant_name
    connection.connection_ref = organisation.id
    connection.credential_id = credential_id
    connection.active = True
    connection.health, connection.health_message, connection.paused_until = "ok", None, None
    db.session.flush()
    for old in old_credentials:
        drop_unused_credential(old)
    db.session.commit()
    platform_class(installation.platform).ledger_connected(installation, "xero")  # "Xero" in its titles
    return connection


def drop_unused_credential(credential_id: int) -> None:
    """Delete stored tokens no active connection uses (after a disconnect or a new authorisation)."""
    in_use = db.session.scalars(select(LedgerConnection.id).where(
        LedgerConnection.credential_id == credential_id, LedgerConnection.active.is_(True))).first()
    if in_use is None:
        for row in db.session.scalars(select(LedgerConnection).where(LedgerConnection.credential_id == credential_id)):
            row.credential_id = None
        credential = db.session.get(Credential, credential_id)
        if credential is not None:
            db.session.delete(credential)
