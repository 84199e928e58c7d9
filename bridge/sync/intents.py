"""Intents: a create call about to go to a ledger, committed before it goes.

Why: the only safe way to skip the lookup before a create is to know that no earlier
attempt may have made the object already. So before every create call (an invoice, a
customer) the flow commits an ``Intent`` row: which object, under which Idempotency-Key
(``announce``). When the ledger answers, the outcome is written in the same transaction as
the link (``settle``). A row still without an outcome means the answer was lost (the worker
died, the call timed out): only then does the retry look the ledger up by what bridge owns
(our key, our link back, the customer's contact) before creating again (``unsettled``). Any
other create skips the lookup, so a lone invoice costs only its own write.

The rule lives here, beside the links, for every ledger: flows call it around the port's
create calls (``Ledger.save_invoices`` / ``save_parties``), connectors know nothing of it.

The ledger lookup after an unknown outcome reads only what changed since a little before
that attempt (If-Modified-Since), which keeps it small and on Xero's optimised paths, also
long after Xero's 6-minute idempotency window. Attempts made before intents existed are
known from their sync records (``first_write_attempts``).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from ..extensions import db
from ..models import Intent, SyncRecord, utcnow

FLOW = "invoice_to_ledger"
# Clocks differ (ours and the ledger's) and a request is stamped when the ledger stores
# it: read a little before the attempt.
MARGIN = timedelta(minutes=15)
# Records are pruned after the retention period; an attempt counted on a work item whose
# records are gone is looked up this far back.
FALLBACK = timedelta(days=90)
CREATED, REFUSED = "created", "refused"


def _rows(installation_id: int, ledger: str, kind: str, platform_ids: list[str]) -> dict[str, Intent]:
    if not platform_ids:
        return {}
    return {row.platform_id: row for row in db.session.scalars(select(Intent).where(
        Intent.installation_id == installation_id, Intent.ledger == ledger, Intent.kind == kind,
        Intent.platform_id.in_(list(dict.fromkeys(platform_ids)))))}


def announce(installation_id: int, ledger: str, kind: str, creates: list[tuple[str, str]]) -> None:
    """Commit, before the create call, that these objects ((platform id, idempotency key))
    are about to be created: until ``settle``, a retry looks them up first."""
    if not creates:
        return
    now = utcnow()
    existing = _rows(installation_id, ledger, kind, [pid for pid, _ in creates])
    for platform_id, key in creates:
        row = existing.get(platform_id)
        if row is None:
            row = existing[platform_id] = Intent(installation_id=installation_id, ledger=ledger, kind=kind,
                                                 platform_id=platform_id)
            db.session.add(row)
        row.idempotency_key, row.attempted_at = key, now
        row.outcome = row.ledger_id = row.settled_at = None
    db.session.commit()


def settle(installation_id: int, ledger: str, kind: str, outcomes: dict[str, str | None]) -> None:
    """The ledger answered: {platform id: the ledger id created, or None when refused}.
    Not committed: the caller commits it with the links it binds."""
    now = utcnow()
    for platform_id, row in _rows(installation_id, ledger, kind, list(outcomes)).items():
        ledger_id = outcomes[platform_id]
        row.outcome, row.ledger_id, row.settled_at = (CREATED if ledger_id else REFUSED), ledger_id, now


def unsettled(installation_id: int, ledger: str, kind: str, platform_ids: list[str]) -> dict[str, datetime | None]:
    """{platform id: a little before the attempt} for each object whose last create has no
    recorded outcome, and None for an object that never had an intent (the caller decides
    from older evidence); objects whose outcome is known are left out. One query."""
    rows = _rows(installation_id, ledger, kind, platform_ids)
    out: dict[str, datetime | None] = {pid: None for pid in platform_ids if pid not in rows}
    out.update({pid: row.attempted_at - MARGIN for pid, row in rows.items() if row.outcome is None})
    return out


def first_write_attempts(installation_id: int, platform_ids: list[str]) -> dict[str, datetime]:
    """{platform id: a little before its first write attempt}, for those that had one, from
    the sync records (attempts made before intents existed). One query for a whole batch."""
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
    """For one invoice without an intent row: a little before its first write attempt;
    None if it never had one."""
    since = first_write_attempts(installation_id, [platform_id]).get(platform_id)
    if since is None and attempts > 0:
        return utcnow() - FALLBACK
    return since
