"""The echo of our own write-back, known without a read, and re-checked by the reconcile.

Writing the Xero id back onto a Bitrix24 invoice fires ONCRMDYNAMICITEMUPDATE like any
edit. The flow remembers on the invoice's link when Bitrix24 stamped that write
(``platform_written_at``, from the update's reply). An update event of exactly that second
on that invoice carries nothing newer than our write: no work is requested for it, and it
costs no request at all (before: one batch read per invoice to find it unchanged).

Bitrix24 event times have whole seconds, so a person's edit saved in the same second as our
write-back looks the same. Only one event of that second is skipped (our write causes one):
a second one in that second (the inbox reopens a same-second duplicate) is read as usual.
The skipped event is marked on the link (``echo_skipped``), and, because a same-second
duplicate that arrives before the first is processed is merged into it, the reconcile (every 10 minutes) requests work for each marked invoice: the flow then reads
it and compares its content with what we wrote (``content_version``): our echo costs one
batch read per 49 invoices, a user's edit is sent. Nothing is lost, only delayed to the
next reconcile in that rare case.
"""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select

from ...extensions import db
from ...engine import WorkRequest, request_work
from ...models import Cursor, InboxEvent, Installation, Link, utcnow
from ...settings import get_section
from .mapper import LEGACY

SKIPPED, CHECKED = "echo_skipped", "echo_checked"
FLOW_INVOICE = "invoice_to_ledger"


def _event_second(event: InboxEvent) -> int | None:
    try:
        ts = json.loads(event.payload or "{}").get("ts")
        return int(ts) if ts is not None else None
    except (ValueError, TypeError):
        return None


def is_echo(installation_id: int, event: InboxEvent) -> bool:
    """An update event of a synced smart invoice in the very second our write-back was
    stamped (and the installation writes nothing else back after a create: with follow-up
    steps the flow reads every event). Marks the link for the reconcile's re-check."""
    key = event.object_key or ""
    if not key.startswith("invoice:") or key.startswith(f"invoice:{LEGACY}") or \
            not (event.topic or "").upper().endswith("UPDATE"):
        return False
    second = _event_second(event)
    link = db.session.scalar(select(Link).where(Link.installation_id == installation_id, Link.kind == "invoice",
                                                Link.platform_id == key.partition(":")[2]))
    extra = (link.extra or {}) if link is not None else {}
    if second is None or link is None or not link.ledger_id or extra.get("platform_written_at") != second or \
            not extra.get("platform_version") or second in (extra.get(SKIPPED), extra.get(CHECKED)):
        return False  # not our write's second, or that second's one echo was already skipped
    settings = get_section(db.session.get(Installation, installation_id), "invoices")
    if settings.issue_on_create or settings.create_payment or settings.send_by_email:
        return False
    link.extra = {**extra, SKIPPED: second}
    return True


def recheck_skipped(installation_id: int, cursor: Cursor) -> int:
    """Request work for every invoice whose echo was skipped (links touched since the
    previous check, kept on the reconcile's ``cursor``): the flow reads it and sends a
    same-second user edit. Committed with the cleared marks and the new checkpoint."""
    started = utcnow()
    checked = (cursor.value or {}).get("echoes_checked")
    since = datetime.fromisoformat(checked) if checked else None
    query = select(Link).where(Link.installation_id == installation_id, Link.kind == "invoice")
    if since is not None:
        query = query.where(Link.updated_at >= since)
    requested = 0
    for link in db.session.scalars(query):
        if (link.extra or {}).get(SKIPPED) is None:
            continue
        # An echo read (nobody waits for it): bulk, behind what a user waits for.
        request_work(WorkRequest(installation_id, FLOW_INVOICE, f"invoice:{link.platform_id}", bulk=True))
        link.extra = {**{k: v for k, v in link.extra.items() if k != SKIPPED}, CHECKED: link.extra[SKIPPED]}
        requested += 1
    cursor.value = {**(cursor.value or {}), "echoes_checked": started.isoformat()}
    db.session.commit()
    return requested
