"""POST /hooks/xero: signature, empty answers, inbox dedup, and work for the flows."""
import base64
import hashlib
import hmac
import json

import pytest

from bridge.extensions import db
from bridge.models import InboxEvent, WorkItem

from .conftest import TENANT

KEY = "bridge-demo-webhook-key"  # the test configuration's XERO_WEBHOOK_KEY


def sign(body: bytes, key: str = KEY) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def payload(*events: dict) -> bytes:
    return json.dumps({"events": list(events), "firstEventSequence": 1, "lastEventSequence": len(events),
                       "entropy": "QWERTYUIOP"}, indent=1).encode()


def event(resource: str = "inv-1", category: str = "INVOICE", date: str = "2026-03-01T10:00:00.123",
          tenant: str = TENANT) -> dict:
    return {"resourceUrl": f"https://api.xero.com/api.xro/2.0/Invoices/{resource}", "resourceId": resource,
            "eventDateUtc": date, "eventType": "UPDATE", "eventCategory": category, "tenantId": tenant,
            "tenantType": "ORGANISATION"}


def post(client, body: bytes, signature: str | None):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["x-xero-signature"] = signature
    return client.post("/hooks/xero", data=body, headers=headers)


def test_intent_to_receive_gets_200_and_401_with_empty_bodies_and_no_cookies(client):
    empty = json.dumps({"events": [], "firstEventSequence": 0, "lastEventSequence": 0, "entropy": "X"}).encode()
    good = post(client, empty, sign(empty))
    assert good.status_code == 200 and good.data == b"" and "Set-Cookie" not in good.headers
    wrong = post(client, empty, sign(empty, "not-the-key"))
    assert wrong.status_code == 401 and wrong.data == b"" and "Set-Cookie" not in wrong.headers
    assert post(client, empty, None).status_code == 401
    assert post(client, b"", sign(b"")).status_code == 200  # an empty body, correctly signed


def test_the_signature_covers_the_raw_bytes_not_reparsed_json(client, connection):
    body = payload(event())
    compact = json.dumps(json.loads(body)).encode()  # same JSON, other bytes
    assert post(client, body, sign(compact)).status_code == 401
    assert db.session.scalars(db.select(InboxEvent)).all() == []
    assert post(client, body, sign(body)).status_code == 200


def test_events_are_stored_once_per_tenant_category_resource_and_date(client, connection):
    first = payload(event("inv-1"), event("c-1", "CONTACT"), event("inv-1", date="2026-03-01T10:05:00.000"))
    assert post(client, first, sign(first)).status_code == 200
    again = payload(event("inv-1"), event("inv-2", tenant="someone-elses-org"))  # a redelivery, an unknown org
    assert post(client, again, sign(again)).status_code == 200
    rows = db.session.scalars(db.select(InboxEvent).order_by(InboxEvent.id)).all()
    assert [(r.topic, r.object_key) for r in rows] == [
        ("INVOICE.UPDATE", "invoice:inv-1"), ("CONTACT.UPDATE", "contact:c-1"), ("INVOICE.UPDATE", "invoice:inv-1")]
    assert rows[0].dedup_key == f"xero:{TENANT}:INVOICE:inv-1:2026-03-01T10:00:00.123"
    assert all(r.installation_id == connection.installation_id for r in rows)


@pytest.fixture
def invoice_flow(stand_in_flows, monkeypatch):
    from bridge import engine

    monkeypatch.delitem(engine.FLOWS, "ledger_party_changed")  # as if only invoices were followed
    return stand_in_flows("ledger_invoice_changed")


def test_stored_events_become_one_coalesced_run_of_the_flow(client, connection, run_jobs, invoice_flow):
    body = payload(event("inv-1"), event("inv-1", date="2026-03-01T10:05:00.000"), event("c-1", "CONTACT"))
    assert post(client, body, sign(body)).status_code == 200
    run_jobs()
    assert [key for _, key, _ in invoice_flow] == ["ledger_invoice:inv-1"]
    assert invoice_flow[0][2]["organisation_id"] == TENANT
    items = db.session.scalars(db.select(WorkItem)).all()
    assert [(i.flow, i.object_key) for i in items] == [("ledger_invoice_changed", "ledger_invoice:inv-1")]
    states = {r.state for r in db.session.scalars(db.select(InboxEvent))}
    assert states == {"done"}  # CONTACT has no flow installed here: acknowledged, nothing queued


def _link_contact(connection, contact_id: str) -> None:
    from bridge.models import Link

    db.session.add(Link(installation_id=connection.installation_id, kind="party", platform_id="b24:m:CO:1",
                        ledger="xero", ledger_org=TENANT, ledger_id=contact_id, extra={}))
    db.session.commit()


def test_a_contact_event_never_starts_an_import(client, connection, run_jobs, stand_in_flows):
    """Issue 16, finding 4: any CONTACT webhook (our own export's included) ran the import of
    every Xero contact. A contact bridge has not linked is left alone: nothing queued."""
    runs = stand_in_flows("party_import", "ledger_party_changed")
    body = payload(event("c-new", "CONTACT"))
    assert post(client, body, sign(body)).status_code == 200
    run_jobs()
    assert runs == [] and db.session.scalars(db.select(WorkItem)).all() == []
    assert {r.state for r in db.session.scalars(db.select(InboxEvent))} == {"done"}


def test_a_contact_event_of_a_linked_contact_follows_that_contact_back(client, connection, run_jobs,
                                                                       stand_in_flows):
    runs = stand_in_flows("party_import", "ledger_party_changed")
    _link_contact(connection, "c-linked")
    body = payload(event("c-linked", "CONTACT"), event("c-other", "CONTACT"))
    assert post(client, body, sign(body)).status_code == 200
    run_jobs()
    assert [(flow, key) for flow, key, _ in runs] == [("ledger_party_changed", "ledger_party:c-linked")]
