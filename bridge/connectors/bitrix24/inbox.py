"""Stored Bitrix24 events -> work requests for the flows.

Flow names (the flows themselves live in ``bridge.sync``):
- ``invoice_to_ledger`` on ``invoice:<id>`` (``invoice:L<id>`` for a legacy invoice): an
  invoice was added, changed or deleted; the flow reads its current state (the event only
  says "this id changed", NOTES s4) and hands a deletion to the cancellation flow;
- ``party_to_ledger`` on ``party:CO:<id>`` / ``party:C:<id>``: a company or contact changed
  (e.g. renamed); the flow updates its ledger contact if it has one. Added and deleted ones
  ask for nothing (see ``requests_for``).

Many events on one object coalesce in ``request_work`` (one pending run per object).
"""
from __future__ import annotations

from ...extensions import db
from ...engine import WorkRequest
from ...models import InboxEvent, Installation
from ...settings import get_section
from .echoes import is_echo

FLOW_INVOICE = "invoice_to_ledger"
FLOW_PARTY = "party_to_ledger"
PARTY_KINDS = {"company": "CO", "contact": "C"}


def requests_for(installation_id: int, event: str, object_key: str) -> list[WorkRequest]:
    """Work for a change seen in Bitrix24 (an event, or the reconcile that finds a missed
    one): the automatic path, so the settings page's switches (section ``general``) apply.
    "Sync now", retries and the backfill request their work themselves and are not gated."""
    general = _general(installation_id)
    if not general.enabled:
        return []
    if object_key.startswith("invoice:"):
        return [WorkRequest(installation_id, FLOW_INVOICE, object_key)] if general.automatic_sync else []
    kind, _, entity_id = object_key.partition(":")
    if kind in PARTY_KINDS and not asks_nothing(kind, event):
        return [WorkRequest(installation_id, FLOW_PARTY, f"party:{PARTY_KINDS[kind]}:{entity_id}")]
    return []


def asks_nothing(kind: str, event: str) -> bool:
    """A company or contact added or deleted asks for no work. A deleted CRM record keeps its
    ledger contact: the ledger's history needs it. A new one is in no ledger yet (it goes
    there with its first invoice, read then; or it is the echo of our own import from the
    ledger): reading it now would be wasted. Such a callback is not even stored
    (``hooks.receive``): an import of 10,000 contacts fires 20,000 of them."""
    return kind in PARTY_KINDS and event.upper().endswith(("DELETE", "ADD"))


def _general(installation_id: int):
    installation = db.session.get(Installation, installation_id)
    return get_section(installation, "general")


def translate(event: InboxEvent) -> list[WorkRequest]:
    installation = db.session.get(Installation, event.installation_id) if event.installation_id else None
    if installation is None or installation.state != "active" or not event.object_key:
        return []
    if is_echo(installation.id, event):  # our own write-back, nothing newer: no read (echoes.py)
        return []
    return requests_for(installation.id, event.topic, event.object_key)
