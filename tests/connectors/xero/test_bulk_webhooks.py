"""What Xero's webhooks do for volume: an invoice event no newer than the version we hold
(our own write coming back) costs no read, the same for a contact we wrote; any other contact
event makes the index read the change."""
from __future__ import annotations

import json

from bridge.connectors.xero.contact_index import ContactIndex
from bridge.connectors.xero.hooks import work_for_event
from bridge.connectors.xero.models import XeroContactIndexState
from bridge.extensions import db
from bridge.models import InboxEvent, utcnow
from bridge.sync.links import bind

from .conftest import TENANT

WRITTEN = "/Date(1795335600000+0000)/"  # 2026-11-22T08:20:00Z, UpdatedDateUTC of our last write


def event(installation, category: str, resource_id: str, date: str) -> InboxEvent:
    payload = {"tenantId": TENANT, "eventCategory": category, "eventType": "UPDATE", "resourceId": resource_id,
               "eventDateUtc": date}
    return InboxEvent(source="xero", dedup_key=f"{resource_id}:{date}", installation_id=installation.id,
                      topic=f"{category}.UPDATE", object_key=f"{category.lower()}:{resource_id}",
                      payload=json.dumps(payload))


def test_an_invoice_event_no_newer_than_our_write_is_not_followed(app_ctx, installation, connection):
    bind(installation.id, connection, "invoice", "SI:7", ledger_id="inv-7", ledger_version=WRITTEN)
    db.session.commit()
    assert work_for_event(event(installation, "INVOICE", "inv-7", "2026-11-22T08:20:00.000")) == []
    # a change after our write (approved, paid in Xero) is followed
    (work,) = work_for_event(event(installation, "INVOICE", "inv-7", "2026-11-22T08:20:00.004"))
    assert (work.flow, work.object_key) == ("ledger_invoice_changed", "ledger_invoice:inv-7")
    # an invoice we hold no version for is followed
    assert len(work_for_event(event(installation, "INVOICE", "inv-unknown", "2026-11-22T08:00:00.000"))) == 1


def test_a_contact_event_makes_the_index_read_before_its_next_use(app_ctx, installation, connection):
    db.session.add(XeroContactIndexState(organisation_id=TENANT, loaded=True, stale=False, checked_at=utcnow()))
    db.session.commit()
    index = ContactIndex(TENANT)
    assert not index.needs_read()
    work_for_event(event(installation, "CONTACT", "c-1", "2026-11-22T08:20:00.000"))
    db.session.commit()
    assert index.needs_read()


def test_the_event_of_our_own_contact_write_costs_no_read_and_keeps_the_index_fresh(app_ctx, installation,
                                                                                     connection):
    """Every customer bridge creates in Xero comes back as a CONTACT webhook: followed, each
    cost a GET Contacts (two of three Xero calls of a busy organisation, issue 18)."""
    db.session.add(XeroContactIndexState(organisation_id=TENANT, loaded=True, stale=False, checked_at=utcnow()))
    bind(installation.id, connection, "party", "b24:m:CO:1", ledger_id="c-7", ledger_version=WRITTEN)
    db.session.commit()
    index = ContactIndex(TENANT)
    assert work_for_event(event(installation, "CONTACT", "c-7", "2026-11-22T08:20:00.000")) == []
    db.session.commit()
    assert not index.needs_read()  # our write is in the index already
    # an edit in Xero after our write is followed back, and the index reads it
    (work,) = work_for_event(event(installation, "CONTACT", "c-7", "2026-11-22T08:20:01.000"))
    assert (work.flow, work.object_key) == ("ledger_party_changed", "ledger_party:c-7")
    db.session.commit()
    assert index.needs_read()
