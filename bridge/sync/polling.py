"""The safety net under webhooks: poll each ledger for what changed since a cursor.

Xero has no webhooks for payments and a webhook can be missed; Bexio has none at all.
Every few minutes each active connection is asked for invoices changed since the last
poll (If-Modified-Since for Xero), and each linked one whose version moved gets a
``ledger_invoice_changed`` run. The cursor is saved after each poll, so a crash repeats
at most one window, and repeated work coalesces in the work items.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from huey import crontab
from sqlalchemy import select

from ..errors import SyncError
from ..extensions import db
from ..engine import WorkRequest, periodic, request_work
from ..models import Cursor, Installation, LedgerConnection, utcnow
from ..ports import platform_class
from .links import find_link_by_ledger_id
from .registry import LEDGERS, ledger_for

log = logging.getLogger(__name__)
OVERLAP = timedelta(minutes=2)  # re-read a little: clocks differ and writes land late


def follows_status_daily(platform_kind: str, ledger_kind: str) -> bool:
    """The pair's status follows once per day, as its product description says, by its own
    daily job (bridge/sync/status_from_ledger.py) rather than by this poll: the platform's
    port declares with which ledgers (``Platform.daily_status_ledgers``)."""
    return ledger_kind in platform_class(platform_kind).daily_status_ledgers


def cursor(scope: str, name: str) -> Cursor:
    row = db.session.scalar(select(Cursor).where(Cursor.scope == scope, Cursor.name == name))
    if row is None:
        row = Cursor(scope=scope, name=name, value={})
        db.session.add(row)
        db.session.commit()  # callers go on to call out: hold no write transaction
    return row


def is_known(document, link) -> bool:
    """Nothing new: same version, same status and, where the ledger says, the same "sent to
    the customer". Versions are often timestamps with second precision (Bexio's
    updated_at), so a payment within the same second as our own write would otherwise go
    unnoticed; the status settles it. Xero does not move the version when a part-paid
    invoice is marked sent (Xero NOTES §2 in docs/sources.md): only the flag shows it."""
    known_sent = (link.extra or {}).get("sent_to_contact")
    return bool(document.version) and document.version == link.ledger_version and \
        document.status.value == link.ledger_status and \
        (document.sent_to_contact is None or known_sent is None or document.sent_to_contact == known_sent)


def poll_connection(installation: Installation) -> int:
    """Request status runs for linked invoices the ledger changed. Returns how many."""
    ledger, connection = ledger_for(installation)
    position = cursor(f"ledger:{connection.id}", "invoices_changed")
    since = datetime.fromisoformat(position.value["since"]) if position.value.get("since") else None
    started = utcnow()
    requested = 0
    for document in ledger.changed_invoices(since):
        link = find_link_by_ledger_id(connection, "invoice", document.ledger_id)
        if link is None or is_known(document, link):
            continue
        if request_work(WorkRequest(installation.id, "ledger_invoice_changed",
                                    f"ledger_invoice:{document.ledger_id}")):
            requested += 1
        # The ledger's pages are read lazily, and each read takes from the rate budget in
        # the database: commit first, or SQLite finds our own write in the way.
        db.session.commit()
    position.value = {"since": (started - OVERLAP).isoformat()}
    db.session.commit()
    return requested


def poll_all() -> dict[str, int]:
    counts = {"connections": 0, "requested": 0, "failed": 0}
    rows = db.session.execute(select(Installation, LedgerConnection).join(
        LedgerConnection, LedgerConnection.installation_id == Installation.id).where(
        Installation.state == "active", LedgerConnection.active.is_(True),
        LedgerConnection.health == "ok")).all()
    for installation, connection in rows:
        if connection.ledger not in LEDGERS or follows_status_daily(installation.platform, connection.ledger):
            continue
        counts["connections"] += 1
        try:
            counts["requested"] += poll_connection(installation)
        except SyncError as exc:  # one organisation's outage must not stop the others
            db.session.rollback()
            counts["failed"] += 1
            log.warning("poll of %s %s failed: %s", connection.ledger, connection.organisation_id, exc.message)
    return counts


@periodic(crontab(minute="*/5"), 300, name="poll_ledgers")
def poll_ledgers() -> dict[str, int]:
    return poll_all()
