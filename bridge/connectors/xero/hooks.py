"""Xero webhooks: verify, store in the inbox, acknowledge; turn stored events into work.

NOTES section 6: the signature is base64(HMAC-SHA256(webhook key, raw body)) in
``x-xero-signature``; a bad one gets 401, a good one 200 - both with an empty body, no
cookies, within 5 s. Xero's "Intent to Receive" check sends empty-event payloads, some
deliberately signed wrongly, and disables the webhook unless both answers are right.
Events are thin and delivered at least once, out of order: they are stored once per
(tenant, category, resource id, event date) and the resource is fetched later by a job.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, request
from sqlalchemy import select

from ...extensions import db
from ...engine import FLOWS, WorkRequest, record_inbound
from ...models import InboxEvent, LedgerConnection, Link
from .contact_index import mark_stale
from .mapper import parse_datetime

log = logging.getLogger(__name__)

SOURCE = "xero"
# Work the sync flows do for each category (the flows themselves live in bridge.sync).
# An invoice event follows that invoice; a contact event follows that contact back to the
# platform, only when bridge has linked it (``_linked_to``). A contact event never starts
# an import: importing is the user's decision ("Import from Xero", or the daily import
# they switch on), and a new contact is no customer yet (NOTES 2: IsCustomer comes with
# its first sales invoice).
FLOW_FOR_CATEGORY = {"INVOICE": ("ledger_invoice_changed", "ledger_invoice:{id}"),
                     "CONTACT": ("ledger_party_changed", "ledger_party:{id}")}


def signature_valid(raw_body: bytes, signature: str | None, key: str | None) -> bool:
    """Constant-time check of x-xero-signature over the raw bytes (never re-serialised JSON)."""
    if not signature or not key:
        return False
    expected = base64.b64encode(hmac.new(key.encode(), raw_body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


@dataclass(frozen=True)
class XeroEvent:
    tenant_id: str
    category: str
    event_type: str
    resource_id: str
    event_date: str
    resource_url: str

    @property
    def dedup_key(self) -> str:
        return f"xero:{self.tenant_id}:{self.category}:{self.resource_id}:{self.event_date}"

    def as_payload(self) -> str:
        return json.dumps({"tenantId": self.tenant_id, "eventCategory": self.category,
                           "eventType": self.event_type, "resourceId": self.resource_id,
                           "eventDateUtc": self.event_date, "resourceUrl": self.resource_url})


def parse_events(raw_body: bytes) -> list[XeroEvent]:
    """The events of a verified body; malformed ones are skipped (an empty list is the
    Intent-to-Receive check)."""
    try:
        body = json.loads(raw_body or b"{}")
    except ValueError:
        return []
    items = body.get("events") if isinstance(body, dict) else None
    events = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not item.get("tenantId") or not item.get("resourceId"):
            continue
        events.append(XeroEvent(tenant_id=str(item["tenantId"]), category=str(item.get("eventCategory") or "").upper(),
                                event_type=str(item.get("eventType") or "").upper(),
                                resource_id=str(item["resourceId"]), event_date=str(item.get("eventDateUtc") or ""),
                                resource_url=str(item.get("resourceUrl") or "")))
    return events


def _installations_for(tenant_id: str) -> list[int]:
    return list(db.session.scalars(select(LedgerConnection.installation_id).where(
        LedgerConnection.ledger == "xero", LedgerConnection.organisation_id == tenant_id,
        LedgerConnection.active.is_(True))).all())


def store_events(events: list[XeroEvent]) -> int:
    """One inbox row per new event of a connected organisation; returns how many were new.

    Events arrive for every organisation connected to the app (NOTES 6): those no
    installation uses are dropped here.
    """
    stored = 0
    for event in events:
        installations = _installations_for(event.tenant_id)
        if not installations:
            continue
        if record_inbound(SOURCE, event.dedup_key, installation_id=installations[0] if len(installations) == 1 else None,
                          topic=f"{event.category}.{event.event_type}",
                          object_key=f"{event.category.lower()}:{event.resource_id}", payload=event.as_payload()):
            stored += 1
    return stored


def _already_held(installation_id: int, data: dict[str, Any], kind: str) -> bool:
    """The event is no newer than the version our link holds (Xero's UpdatedDateUTC from our
    last write, or for an invoice our last read), so reading the resource again cannot show
    anything new: typically our own write coming back. Both dates are on Xero's clock.
    Anything in doubt is followed, and the periodic If-Modified-Since poll remains the
    safety net."""
    event_date = parse_datetime(data.get("eventDateUtc"))
    if event_date is None:
        return False
    link = db.session.scalar(select(Link).where(
        Link.installation_id == installation_id, Link.ledger == "xero", Link.ledger_org == data.get("tenantId"),
        Link.kind == kind, Link.ledger_id == data.get("resourceId")))
    version = parse_datetime(link.ledger_version) if link is not None and link.ledger_version else None
    return version is not None and event_date <= version


def _linked_to(installation_id: int, data: dict[str, Any]) -> bool:
    """This installation has linked the event's contact (exported or imported it)."""
    return db.session.scalar(select(Link.id).where(
        Link.installation_id == installation_id, Link.ledger == "xero", Link.ledger_org == data.get("tenantId"),
        Link.kind == "party", Link.ledger_id == data.get("resourceId")).limit(1)) is not None


def work_for_event(row: InboxEvent) -> list[WorkRequest]:
    """A stored event -> one run of the matching flow per installation using that organisation.

    The flow fetches the resource itself (events are thin, NOTES 6). Categories without a
    flow (SUBSCRIPTION, CREDITNOTE, ...) or flows not installed are acknowledged and dropped.
    """
    data: dict[str, Any] = json.loads(row.payload or "{}")
    installations = [row.installation_id] if row.installation_id else _installations_for(data.get("tenantId", ""))
    if data.get("eventCategory") == "CONTACT" and data.get("tenantId"):
        linked = [i for i in installations if _linked_to(i, data)]
        installations = [i for i in linked if not _already_held(i, data, "party")]
        if installations or not linked:
            # Not our own write coming back (that one is in the index since the write):
            # the contact index reads the change before its next use.
            mark_stale(data["tenantId"])
    elif data.get("eventCategory") == "INVOICE":
        installations = [i for i in installations if not _already_held(i, data, "invoice")]
    flow_kind = FLOW_FOR_CATEGORY.get(data.get("eventCategory", ""))
    if flow_kind is None or flow_kind[0] not in FLOWS:
        return []
    flow, key_format = flow_kind
    return [WorkRequest(installation_id=i, flow=flow, object_key=key_format.format(id=data["resourceId"]),
                        options={"ledger": "xero", "organisation_id": data["tenantId"],
                                 "event_type": data.get("eventType"), "event_date": data.get("eventDateUtc")})
            for i in installations]


# --------------------------------------------------------------------------------------
# The webhook receiver (NOTES 6): no page, only 401 or 200 with an empty body
# --------------------------------------------------------------------------------------

bp = Blueprint("xero_hooks", __name__)


@bp.post("/hooks/xero")
def receive_webhook() -> Response:
    raw = request.get_data(cache=False)  # the raw bytes: the signature covers exactly these
    if not signature_valid(raw, request.headers.get("x-xero-signature"), current_app.config.get("XERO_WEBHOOK_KEY")):
        return Response(status=401)
    store_events(parse_events(raw))
    return Response(status=200)
