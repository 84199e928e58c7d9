"""Installing and uninstalling: the life of an ``Installation`` common to every platform."""
from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import delete, select

from .extensions import db
from .models import Credential, InboxEvent, Installation, LedgerConnection, utcnow


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(installation: Installation | None, token: str | None) -> bool:
    """Constant-time check of a callback's shared secret (e.g. Bitrix24 application_token)."""
    if installation is None or not token or not installation.app_token_hash:
        return False
    return hmac.compare_digest(installation.app_token_hash, token_hash(token))


def uninstall(installation: Installation, *, clean: bool) -> None:
    """Forget the installation's tokens; with ``clean``, everything it owns.

    Without ``clean`` the links and sync log stay, so a re-install resumes where it was
    and never duplicates what was already synced.
    """
    credential_ids = [installation.credential_id] + [c.credential_id for c in installation.ledger_connections]
    credential_ids = [c for c in credential_ids if c]
    installation.credential_id = None
    for connection in installation.ledger_connections:
        connection.credential_id = None
        connection.active = False
    db.session.flush()
    if credential_ids:
        db.session.execute(delete(Credential).where(Credential.id.in_(credential_ids)))
    if clean:
        db.session.execute(delete(InboxEvent).where(InboxEvent.installation_id == installation.id))
        db.session.delete(installation)  # cascades: settings, connections, links, work, records
    else:
        installation.state = "uninstalled"
        installation.app_token_hash = None
        installation.updated_at = utcnow()
    db.session.commit()


def active_connection(installation: Installation, ledger: str | None = None) -> LedgerConnection | None:
    query = select(LedgerConnection).where(LedgerConnection.installation_id == installation.id,
                                           LedgerConnection.active.is_(True))
    if ledger:
        query = query.where(LedgerConnection.ledger == ledger)
    return db.session.scalars(query.order_by(LedgerConnection.id)).first()
