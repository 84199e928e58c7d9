"""Polling what Xero sends no webhook for: payments and bank transactions (NOTES 5).

Every five minutes each healthy Xero connection asks the sync layer's ``ledger.poll`` flow
to read changes with If-Modified-Since (``XeroLedger.changed_invoices`` folds payments in).
The request coalesces per organisation, so a slow poll is never queued twice.
"""
from __future__ import annotations

from huey import crontab
from sqlalchemy import select

from ...extensions import db
from ...jobs import FLOWS, WorkRequest, periodic, request_work
from ...models import LedgerConnection, utcnow

POLL_FLOW = "ledger.poll"


def request_polls() -> int:
    """Queue one poll per active, unpaused Xero connection; returns how many were queued."""
    if POLL_FLOW not in FLOWS:
        return 0
    now = utcnow()
    connections = db.session.scalars(select(LedgerConnection).where(
        LedgerConnection.ledger == "xero", LedgerConnection.active.is_(True),
        LedgerConnection.health != "needs_reconnect")).all()
    queued = 0
    for connection in connections:
        if connection.paused_until and connection.paused_until > now:
            continue  # the day limit is spent (NOTES 7): wait for the reset
        if request_work(WorkRequest(connection.installation_id, POLL_FLOW, f"ledger:xero:{connection.organisation_id}",
                                    {"ledger": "xero", "organisation_id": connection.organisation_id})):
            queued += 1
    db.session.commit()
    return queued


@periodic(crontab(minute="*/5"), 300, name="xero_poll")
def xero_poll() -> int:
    return request_polls()
