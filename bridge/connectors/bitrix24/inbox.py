"""Stored Bitrix24 events -> work requests for the flows.

Flow names (the flows themselves live in ``bridge.sync``):
- ``invoice_to_ledger`` on ``invoice:<id>`` (``invoice:L<id>`` for a legacy invoice): an
  invoice was added or changed; the flow reads its current state (the event only says
  "this id changed", NOTES s4);
- ``invoice_deleted`` on the same key;
- ``party_changed`` on ``contact:<id>`` / ``company:<id>``, with ``{"deleted": true}`` for
  deletions.

Many events on one object coalesce in ``request_work`` (one pending run per object).
"""
from __future__ import annotations

from ...extensions import db
from ...jobs import WorkRequest, inbox_handler
from ...models import InboxEvent, Installation

FLOW_INVOICE = "invoice_to_ledger"
FLOW_INVOICE_DELETED = "invoice_deleted"
FLOW_PARTY = "party_changed"


def requests_for(installation_id: int, event: str, object_key: str) -> list[WorkRequest]:
    deleted = event.upper().endswith("DELETE")
    if object_key.startswith("invoice:"):
        return [WorkRequest(installation_id, FLOW_INVOICE_DELETED if deleted else FLOW_INVOICE, object_key)]
    if object_key.startswith(("contact:", "company:")):
        return [WorkRequest(installation_id, FLOW_PARTY, object_key, {"deleted": True} if deleted else {})]
    return []


@inbox_handler("bitrix24")
def translate(event: InboxEvent) -> list[WorkRequest]:
    installation = db.session.get(Installation, event.installation_id) if event.installation_id else None
    if installation is None or installation.state != "active" or not event.object_key:
        return []
    return requests_for(installation.id, event.topic, event.object_key)
