"""DG1 webhooks: verify, store in the inbox, acknowledge; and turn inbox rows into work.

``POST /hooks/dg1/<tenant_id>`` (docs/dg1.md section 5) does only what must happen before
the 2xx: find the tenant, check the timestamp window and the HMAC over the raw body (with
the current webhook secret, or the previous one during a rotation window), and
store the event once per ``event_id``. Everything else happens in the inbox job below.

Only the body is signed, so only the body is trusted: the event id (the dedup key) and
the topic are read from it (``trusted_event``). The headers are not signed: a captured
delivery resent with a new ``X-DG1-Delivery-Id`` is the same event (one inbox row), and an
``X-DG1-Topic`` that says something else than the body is refused, not believed.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, jsonify, request

from ...errors import PermanentError
from ...extensions import db
from ...engine import WorkRequest, record_inbound, store_callback
from ...models import InboxEvent, Installation
from ...messages import N_
from . import signing
from .mapper import split_platform_id
from .tenants import client_for, find_tenant, secrets_of

log = logging.getLogger(__name__)

SOURCE = "dg1"
TOPICS = ("order.placed", "order.updated", "order.refunded")
EVENT_ID_MAX = 100  # the dedup key ("dg1:<tenant>:<event id>") fits its column
# The flows (bridge.sync) register these names; this module only asks for them.
FLOW_INVOICE = "invoice_to_ledger"
FLOW_CANCELLED = "invoice_cancel"
FLOW_REFUND = "invoice_refund"

bp = Blueprint("dg1_hooks", __name__)


def _refuse(status: int, message: str):
    return jsonify(error=message), status


class NotAnEvent(ValueError):
    """A signed body bridge does not take as a DG1 event; the message says why (the 400's)."""


@dataclass(frozen=True)
class Event:
    """What a verified delivery says, all of it from the signed body."""

    event_id: str
    topic: str
    tenant_id: Any  # None when the body does not name it
    site_id: str
    order_id: str


def trusted_event(raw: bytes, header_topic: str | None) -> Event:
    """The event of a body whose signature was checked. ``event_id`` and ``topic`` must be
    in it; an ``X-DG1-Topic`` header, which nobody signed, must say the same topic or the
    delivery is refused (a resent order.updated relabelled order.placed would start an
    invoice sync)."""
    try:
        body = json.loads(raw)
        event_id, topic = body["event_id"], body["topic"]
        site_id, order_id = str(body["site_id"]), str(body["data"]["order_id"])
    except (ValueError, KeyError, TypeError):
        raise NotAnEvent("body is not a DG1 event") from None
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > EVENT_ID_MAX:
        raise NotAnEvent(f"the signed body needs an event_id (text, at most {EVENT_ID_MAX} characters)")
    if not isinstance(topic, str) or not topic:
        raise NotAnEvent("the signed body needs a topic")
    if header_topic is not None and header_topic != topic:
        raise NotAnEvent(f"X-DG1-Topic {header_topic[:40]!r} does not match the signed body's topic {topic[:40]!r}")
    if "\x00" in site_id + order_id + topic + event_id:
        raise NotAnEvent("a NUL character in the event")  # PostgreSQL text cannot hold it
    return Event(event_id, topic, body.get("tenant_id"), site_id, order_id)


def dedup_key(tenant_id: str, event: Event) -> str:
    """One inbox row per event: DG1 keeps ``event_id`` and the body on every retry and
    resend (docs/dg1.md section 5), and nobody can change either without the secret."""
    return f"dg1:{tenant_id}:{event.event_id}"


@bp.post("/hooks/dg1/<tenant_id>")
def receive(tenant_id: str):
    installation = find_tenant(tenant_id)
    if installation is None:
        return _refuse(404, "unknown DG1 tenant")
    raw = request.get_data(cache=False)  # the exact bytes DG1 signed
    timestamp = request.headers.get("X-DG1-Timestamp", "")
    if not signing.fresh(timestamp, signing.now_seconds()):
        log.info("dg1 webhook for %s refused: timestamp %r outside the window", tenant_id, timestamp)
        return _refuse(401, "timestamp missing or outside the 5-minute window")
    accepted = secrets_of(installation).webhook_secrets(signing.now_seconds())
    signatures = (request.headers.get("X-DG1-Signature"), request.headers.get("X-DG1-Signature-Previous"))
    if not signing.webhook_valid_any(accepted, timestamp, raw, signatures):
        log.info("dg1 webhook for %s refused: bad signature", tenant_id)
        return _refuse(401, "signature does not match")
    try:
        event = trusted_event(raw, request.headers.get("X-DG1-Topic"))
    except NotAnEvent as refused:
        log.info("dg1 webhook for %s refused: %s", tenant_id, refused)
        return _refuse(400, str(refused))
    if event.tenant_id not in (None, tenant_id):
        return _refuse(400, "event is for another tenant")
    if event.topic not in TOPICS:
        return jsonify(ok=True, ignored=event.topic), 200  # acknowledged so DG1 does not retry it
    key, object_key = dedup_key(tenant_id, event), f"order:{event.site_id}:{event.order_id}"
    # One autocommitted statement for a new event (bridge/engine/intake.py store_callback); a
    # repeated event id takes record_inbound's duplicate handling.
    if store_callback(SOURCE, key, {"id": installation.id}, topic=event.topic, object_key=object_key,
                      payload=raw.decode()) is not None:
        return jsonify(ok=True, duplicate=False), 200
    created = record_inbound(SOURCE, key, installation_id=installation.id, topic=event.topic, object_key=object_key,
                             payload=raw.decode())
    return jsonify(ok=True, duplicate=not created), 200


def _event(row: InboxEvent) -> dict[str, Any]:
    try:
        return json.loads(row.payload or "")
    except ValueError as exc:
        raise PermanentError(N_("The stored DG1 event is not valid JSON.")) from exc


def to_work(row: InboxEvent) -> list[WorkRequest]:
    """``order.placed`` -> sync the order to the ledger. ``order.updated`` is thin (it
    does not say what changed), so the order is read: a cancellation asks for the
    cancellation flow, a cart (PENDING) for nothing, anything else for the invoice flow,
    which recognises an order that already matches (our own PATCH coming back)."""
    installation = db.session.get(Installation, row.installation_id)
    if installation is None or installation.state != "active":
        return []
    event = _event(row)
    site_id, order_id = split_platform_id(row.object_key.removeprefix("order:"))
    object_key = f"order:{site_id}:{order_id}"
    options = {"topic": row.topic, "event_id": event.get("event_id")}
    if row.topic == "order.placed":
        return [WorkRequest(installation.id, FLOW_INVOICE, object_key, options)]
    if row.topic == "order.refunded":
        # The signed body carries the refund (docs/dg1.md section 5): one work item per refund.
        data = event.get("data") or {}
        refund = {k: data.get(k) for k in ("refund_id", "amount", "currency", "lines")}
        if not refund["refund_id"] or refund["amount"] is None:
            raise PermanentError(N_("The DG1 refund event carries no refund id or amount."))
        return [WorkRequest(installation.id, FLOW_REFUND, f"refund:{site_id}:{order_id}#{refund['refund_id']}",
                            {**options, "refund": refund})]
    order = client_for(installation).order(site_id, order_id)
    if order is None or order.get("status") == "PENDING":
        return []
    if order.get("status") == "CANCELLED":
        return [WorkRequest(installation.id, FLOW_CANCELLED, object_key, options)]
    return [WorkRequest(installation.id, FLOW_INVOICE, object_key, {**options, "status": order.get("status")})]
