"""Catch what lost events missed: Bitrix24 never re-sends a failed event (NOTES s4, s13).

Every 10 minutes, per installation:

1. list invoices, contacts and companies changed since the cursor (``>=`` the newest
   change time seen, skipping the ids already seen at exactly that time, so nothing saved
   within the same second is lost and nothing is asked for twice; when the listing began
   within that very second, nothing is skipped next time, since a second change to a seen
   id may still have come in it) and request work for each: work on objects already
   queued coalesces;
2. drain the offline-event queue where the installer could bind offline events (NOTES s4
   "Offline events"): read with ``clear=0`` and clear after the work is requested where the
   plan allows confirmation, else read-and-delete;
3. request work for the invoices whose write-back echo was skipped unread (``echoes``): a
   user's edit saved in the same second as our write-back is read and sent then;
4. in webhook mode, which hears of no deletion, look for the linked invoices the portal no
   longer has, every 10 minutes (``deletions.py``).

Streams are declared as data, one per object kind, each with its change-time field.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from huey import crontab
from sqlalchemy import select

from ...errors import SyncError
from ...extensions import db
from ...engine import periodic, request_work
from ...models import Cursor, Installation
from . import deletions, store
from .client import Bitrix24Client
from .echoes import recheck_skipped
from .hooks import family, object_key
from .inbox import requests_for
from .mapper import SMART_INVOICE

log = logging.getLogger(__name__)

CURSOR_NAME = "bitrix24_reconcile"
OFFLINE_PAGES = 20  # 1,000 offline records per run at most; the rest waits 10 minutes


@dataclass(frozen=True)
class Stream:
    name: str
    method: str
    id_field: str
    time_field: str
    kind: str
    event: str  # what the change counts as
    params: tuple[tuple[str, Any], ...] = ()
    key: str | None = None  # where the rows are in ``result``
    needs: str | None = None  # the setup flag (``SetupResult``) without which the portal has no such objects
    default: bool = True  # that flag's value for an installation set up before it was recorded

    def applies(self, installation: Installation) -> bool:
        setup = (installation.endpoints or {}).get("setup") or {}
        return self.needs is None or bool(setup.get(self.needs, self.default))


STREAMS = (
    # NOTES s6: crm.item.list with filter/order on updatedTime; rows under result.items.
    Stream("invoices", "crm.item.list", "id", "updatedTime", "invoice", "ONCRMDYNAMICITEMUPDATE",
           (("entityTypeId", SMART_INVOICE),), key="items", needs="smart_invoices"),
    # Old invoices (https://apidocs.bitrix24.com/api-reference/crm/outdated/invoice/crm-invoice-list.html):
    # UPPER_CASE, DATE_UPDATE, filter prefixes; the list carries no product rows, so each changed
    # invoice is read by the flow (the reads of one run are batched, legacy.py).
    Stream("legacy_invoices", "crm.invoice.list", "ID", "DATE_UPDATE", "legacy_invoice", "ONCRMINVOICEUPDATE",
           needs="legacy_invoices", default=False),
    # NOTES s8: crm.contact.list / crm.company.list, UPPER_CASE, DATE_MODIFY.
    Stream("contacts", "crm.contact.list", "ID", "DATE_MODIFY", "contact", "ONCRMCONTACTUPDATE"),
    Stream("companies", "crm.company.list", "ID", "DATE_MODIFY", "company", "ONCRMCOMPANYUPDATE"),
)


def cursor_for(installation: Installation) -> Cursor:
    scope = f"installation:{installation.id}"
    cursor = db.session.scalar(select(Cursor).where(Cursor.scope == scope, Cursor.name == CURSOR_NAME))
    if cursor is None:
        # Start at the installation: what changed before it is a backfill, not a missed event.
        start = installation.created_at.replace(microsecond=0).isoformat()
        cursor = Cursor(scope=scope, name=CURSOR_NAME, value={s.name: {"at": start, "ids": []} for s in STREAMS})
        db.session.add(cursor)
        db.session.commit()  # never hold a write transaction across the REST calls that follow
    return cursor


def reconcile_stream(client: Bitrix24Client, installation: Installation, cursor: Cursor, stream: Stream) -> int:
    if stream.name not in (cursor.value or {}):  # a stream added since the cursor was made starts now
        mark = {"at": installation.created_at.replace(microsecond=0).isoformat(), "ids": []}
    else:
        mark = dict(cursor.value[stream.name] or {})
    since, seen = mark.get("at"), set(mark.get("ids") or [])
    params = {**dict(stream.params), "select": [stream.id_field, stream.time_field],
              "filter": {f">={stream.time_field}": since} if since else {},
              "order": {stream.time_field: "ASC", stream.id_field: "ASC"}}
    # Read every page first: a write transaction held across the next page's HTTP call would
    # block every other writer on SQLite (DESIGN, "Embedded default").
    rows: list[tuple[str, str]] = []
    listed_from: str | None = None
    for page in client.list_pages(stream.method, params):
        listed_from = listed_from or str((page.time or {}).get("date_start") or "") or None
        rows += [(str(r[stream.id_field]), str(r.get(stream.time_field) or ""))
                 for r in client.rows_of(page, stream.key)]
    requested = 0
    newest, newest_ids = since, set(seen)
    for entity_id, changed in rows:
        if changed == since and entity_id in seen:
            continue
        for request in requests_for(installation.id, stream.event, object_key(stream.kind, entity_id)):
            request_work(request)
            requested += 1
        if changed and changed != newest:
            newest, newest_ids = changed, set()
        newest_ids.add(entity_id)
    if newest and not second_was_over(newest, listed_from):
        # Listed while the newest second was still going on: a later change in that second to
        # an id seen here keeps the same time, so none of them is skipped next time (asked
        # again, each costs one read that finds it unchanged).
        newest_ids = set()
    cursor.value = {**(cursor.value or {}), stream.name: {"at": newest, "ids": sorted(newest_ids)}}
    db.session.commit()  # checkpoint per stream: the work requests and the cursor together
    return requested


def second_was_over(changed: str, listed_from: str | None) -> bool:
    """Whether the portal had left the whole second ``changed`` (a change time, whole
    seconds) when it began answering the listing (the first page's ``time.date_start``,
    NOTES s9, on the portal's clock). A portal that sends no such time is taken as over, as
    before this was checked [M]."""
    try:
        began = datetime.fromisoformat(str(listed_from)) if listed_from else None
        moment = datetime.fromisoformat(changed)
    except ValueError:
        return True
    if began is None or (began.tzinfo is None) != (moment.tzinfo is None):
        return True
    return began.replace(microsecond=0) > moment.replace(microsecond=0)


def drain_offline(client: Bitrix24Client, installation: Installation) -> int:
    setup = (installation.endpoints or {}).get("setup") or {}
    if not setup.get("offline_events"):
        return 0
    confirm = bool(setup.get("offline_confirm"))
    requested = 0
    for _ in range(OFFLINE_PAGES):
        reply = client.call("event.offline.get", {"limit": 50, "clear": 0 if confirm else 1}).result or {}
        events = reply.get("events") or []
        for record in events:
            name = str(record.get("EVENT_NAME") or "").upper()
            fields = ((record.get("EVENT_DATA") or {}).get("FIELDS") or {})
            spec = family(name)
            if spec is None or not str(fields.get("ID") or "").isdigit():
                continue
            if spec[0] == "invoice" and str(fields.get("ENTITY_TYPE_ID")) != str(SMART_INVOICE):
                continue
            for request in requests_for(installation.id, name, object_key(spec[0], str(fields["ID"]))):
                request_work(request)
                requested += 1
        db.session.commit()  # the work is requested before the queue forgets the records
        if confirm and events and reply.get("process_id"):
            client.call("event.offline.clear", {"process_id": reply["process_id"]})
        if len(events) < 50:
            break
    return requested


def reconcile_installation(installation: Installation, client: Bitrix24Client | None = None) -> dict[str, int]:
    client = client or store.client_for(installation)
    cursor = cursor_for(installation)
    counts = {stream.name: reconcile_stream(client, installation, cursor, stream) for stream in STREAMS
              if stream.applies(installation)}
    counts["offline"] = drain_offline(client, installation)
    counts["echoes"] = recheck_skipped(installation.id, cursor)  # same-second edits behind our write-back
    if (installation.endpoints or {}).get("mode") == "webhook" and deletions.due(cursor):
        counts["deleted"] = deletions.sweep(client, installation, cursor)  # no event tells a webhook
    return counts


def reconcile_all() -> dict[str, Any]:
    """One pass over every active installation but those in webhook mode (polled more often
    by webhook.py, with the same streams)."""
    return reconcile_each([i for i in store.active_installations() if (i.endpoints or {}).get("mode") != "webhook"])


def reconcile_each(installations: list[Installation],
                   noted: Callable[[Installation, SyncError | None], None] | None = None) -> dict[str, Any]:
    """One portal's failure does not stop the rest; ``noted`` hears each portal's outcome
    (the error, or None) where it must be seen (webhook mode: webhook.py)."""
    report: dict[str, Any] = {}
    for installation in installations:
        failure: SyncError | None = None
        try:
            report[installation.account_id] = reconcile_installation(installation)
        except SyncError as exc:
            db.session.rollback()
            log.warning("Bitrix24 reconcile of %s: %s", installation.domain, exc.message)
            report[installation.account_id] = {"error": exc.message}
            failure = exc
        if noted is not None:
            noted(installation, failure)
    return report


@periodic(crontab(minute="*/10"), 600, name="bitrix24_reconcile")
def bitrix24_reconcile() -> dict[str, Any]:
    return reconcile_all()
