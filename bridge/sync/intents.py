"""When bridge first tried to write an invoice that still has no link: the intent.

Before every ledger write the flow commits the attempt's sync record with its
Idempotency-Key (DESIGN principle 4). An unlinked invoice with such a record may already
be in the ledger (the response was lost, or the worker died before the link write); one
without has never been sent, so no lookup is needed at all. The ledger lookup after an
unknown outcome reads only what changed since a little before the first attempt
(If-Modified-Since), which keeps it small and on Xero's optimised paths, also long after
Xero's 6-minute idempotency window.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from ..extensions import db
from ..models import SyncRecord, utcnow

FLOW = "invoice_to_ledger"
# Clocks differ (ours and the ledger's) and a request is stamped when the ledger stores
# it: read a little before the attempt.
MARGIN = timedelta(minutes=15)
# Records are pruned after the retention period; an attempt counted on a work item whose
# records are gone is looked up this far back.
FALLBACK = timedelta(days=90)


def first_write_attempts(installation_id: int, platform_ids: list[str]) -> dict[str, datetime]:
    """{platform id: a little before its first write attempt}, for those that had one.
    One query for a whole batch."""
    if not platform_ids:
        return {}
    rows = db.session.execute(
        select(SyncRecord.object_id, func.min(SyncRecord.created_at))
        .where(SyncRecord.installation_id == installation_id, SyncRecord.flow == FLOW,
               SyncRecord.direction == "to_ledger", SyncRecord.idempotency_key.is_not(None),
               SyncRecord.object_id.in_(list(dict.fromkeys(platform_ids))))
        .group_by(SyncRecord.object_id)).all()
    return {object_id: first - MARGIN for object_id, first in rows if first is not None}


def lookup_since(installation_id: int, platform_id: str, attempts: int) -> datetime | None:
    """For one invoice: a little before its first write attempt; None if it never had one."""
    since = first_write_attempts(installation_id, [platform_id]).get(platform_id)
    if since is None and attempts > 0:
        return utcnow() - FALLBACK
    return since
