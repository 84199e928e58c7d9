"""Deleted invoices of a portal in webhook mode: the deletion no event tells.

An inbound webhook cannot bind events (``event.bind`` "works only in the context of
application authorization", https://apidocs.bitrix24.com/api-reference/events/event-bind.html),
and a deleted invoice is in no list the poll reads. So every ``SWEEP_SECONDS`` the poll asks
the portal for the invoices bridge linked and whose ledger twin is still live, by id, 50 to a
list (``crm.item.list`` with ``@id``; ``crm.invoice.list`` with ``@ID`` for old invoices,
https://apidocs.bitrix24.com/api-reference/crm/outdated/invoice/crm-invoice-list.html), in
batches; an id the portal no longer lists is requested as the delete event would be, and the
invoice flow, which reads it as gone, cancels its ledger twin by the usual rules. A portal
with 1,000 live linked invoices costs one batch request of 20 lists per sweep.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from ...engine import request_work
from ...extensions import db
from ...models import Cursor, Installation, Link, utcnow
from .client import Bitrix24Client
from .inbox import requests_for
from .mapper import LEGACY, SMART_INVOICE

SWEEP_SECONDS = 600  # how late a deletion reaches the ledger at most in webhook mode (plus the poll's 2 minutes)
PER_LIST = 50  # ids per list: one page
FINAL = ("voided", "deleted")  # ledger statuses of twins already cancelled: nothing to look for


def due(cursor: Cursor, now: datetime | None = None) -> bool:
    last = (cursor.value or {}).get("deleted_sweep")
    now = now or utcnow()
    return last is None or now - datetime.fromisoformat(last) >= timedelta(seconds=SWEEP_SECONDS)


def sweep(client: Bitrix24Client, installation: Installation, cursor: Cursor) -> int:
    """Request the sync of each linked, live invoice the portal no longer has; the number asked."""
    linked = db.session.scalars(select(Link.platform_id).where(
        Link.installation_id == installation.id, Link.kind == "invoice",
        or_(Link.ledger_status.is_(None), Link.ledger_status.not_in(FINAL)))).all()
    db.session.commit()  # hold nothing open across the REST calls
    smart = [pid for pid in linked if pid.isdigit()]
    old = [pid[len(LEGACY):] for pid in linked if pid.startswith(LEGACY) and pid[len(LEGACY):].isdigit()]
    commands: dict[str, tuple[str, dict[str, Any]]] = {}
    for n in range(0, len(smart), PER_LIST):
        commands[f"s{n}"] = ("crm.item.list", {"entityTypeId": SMART_INVOICE, "select": ["id"],
                                               "filter": {"@id": [int(i) for i in smart[n:n + PER_LIST]]}})
    for n in range(0, len(old), PER_LIST):
        commands[f"l{n}"] = ("crm.invoice.list", {"filter": {"@ID": old[n:n + PER_LIST]}, "select": ["ID"]})
    reply = client.batch_all(commands)
    reply.raise_first()  # an unanswered list proves nothing: the next sweep asks again
    present: set[str] = set()
    for key, result in reply.results.items():
        if key.startswith("s"):
            present |= {str(row.get("id")) for row in (result or {}).get("items") or []}
        else:
            present |= {f"{LEGACY}{row.get('ID')}" for row in result or []}
    gone = [pid for pid in smart if pid not in present] + \
        [f"{LEGACY}{pid}" for pid in old if f"{LEGACY}{pid}" not in present]
    asked = 0
    for pid in gone:
        event = "ONCRMINVOICEDELETE" if pid.startswith(LEGACY) else "ONCRMDYNAMICITEMDELETE"
        for request in requests_for(installation.id, event, f"invoice:{pid}"):
            request_work(request)
            asked += 1
    cursor.value = {**(cursor.value or {}), "deleted_sweep": utcnow().isoformat()}
    db.session.commit()
    return asked
