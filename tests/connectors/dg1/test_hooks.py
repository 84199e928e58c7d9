"""The DG1 webhook receiver: signature, replay window, dedup, and the inbox handler."""
from __future__ import annotations

import pytest
import responses
from sqlalchemy import select

from bridge.connectors.dg1 import signing
from bridge.extensions import db
from bridge.models import InboxEvent, SyncRecord, WorkItem

from .conftest import EXAMPLE_TS, WEBHOOK_SECRET, sample_order

# docs/dg1.md section 5, "Signing, worked example".
BODY = (b'{"event_id":"0b7f3c1e-5d2a-4c1b-9a57-3f1e2d4c5b6a","topic":"order.placed",'
        b'"occurred_at":"2025-05-01T10:00:00Z","tenant_id":"demo","site_id":"ch","data":{"order_id":"100012"}}')
SIGNATURE = "7hzP3QekVYAwx7KT6ilg8pV8LIVZp2aINuczvAInW2M="


def headers(ts: int = EXAMPLE_TS, signature: str = SIGNATURE, delivery: str = "d-1", topic: str = "order.placed"):
    return {"Content-Type": "application/json", "X-DG1-Topic": topic, "X-DG1-Delivery-Id": delivery,
            "X-DG1-Tenant": "demo", "X-DG1-Site": "ch", "X-DG1-Timestamp": str(ts), "X-DG1-Signature": signature}


def signed(body: bytes, ts: int = EXAMPLE_TS, **kwargs):
    return headers(ts, signing.webhook_signature(WEBHOOK_SECRET, str(ts), body), **kwargs)


def inbox():
    return db.session.scalars(select(InboxEvent)).all()


def test_the_documented_example_is_accepted_and_stored_once(client, tenant, clock):
    response = client.post("/hooks/dg1/demo", data=BODY, headers=headers())
    assert response.status_code == 200 and response.json == {"ok": True, "duplicate": False}
    (row,) = inbox()
    assert (row.source, row.topic, row.object_key, row.installation_id) == ("dg1", "order.placed", "order:ch:100012",
                                                                            tenant.id)
    assert row.payload == BODY.decode()


def test_a_redelivery_of_the_same_event_is_acknowledged_but_not_stored_again(client, tenant, clock):
    client.post("/hooks/dg1/demo", data=BODY, headers=headers())
    # DG1 retries with a fresh timestamp and signature, same event id and body.
    clock.t += 120
    again = client.post("/hooks/dg1/demo", data=BODY, headers=signed(BODY, EXAMPLE_TS + 120))
    assert again.status_code == 200 and again.json["duplicate"] is True
    assert [row.dedup_key for row in inbox()] == ["dg1:demo:0b7f3c1e-5d2a-4c1b-9a57-3f1e2d4c5b6a"]


def test_a_captured_delivery_resent_with_new_delivery_ids_is_one_event(client, tenant, clock, run_jobs,
                                                                      stand_in_flows):
    """The delivery id is an unsigned header: whoever captured a delivery can change it at
    will within the signature's 5 minutes. The event id is in the signed body."""
    runs = stand_in_flows("invoice_to_ledger")
    answers = [client.post("/hooks/dg1/demo", data=BODY, headers=headers(delivery=f"replay-{n}")) for n in range(20)]
    assert [a.status_code for a in answers] == [200] * 20
    assert [a.json["duplicate"] for a in answers] == [False] + [True] * 19
    assert len(inbox()) == 1
    run_jobs()
    assert len(runs) == 1


def test_a_topic_header_that_is_not_the_signed_topic_is_refused_with_a_reason(client, tenant, clock, run_jobs,
                                                                            stand_in_flows):
    """An order.updated relabelled order.placed in the unsigned header would start an invoice sync."""
    runs = stand_in_flows("invoice_to_ledger", "invoice_cancel")
    body = _updated("100012", "u1")
    response = client.post("/hooks/dg1/demo", data=body, headers=signed(body, topic="order.placed"))
    assert response.status_code == 400
    assert "X-DG1-Topic" in response.json["error"] and "order.updated" in response.json["error"]
    run_jobs()
    assert inbox() == [] and runs == []
    assert db.session.scalars(select(SyncRecord)).all() == [] and db.session.scalars(select(WorkItem)).all() == []


def test_the_topic_comes_from_the_signed_body_when_the_header_is_left_out(client, tenant, clock):
    sent = {k: v for k, v in headers().items() if k not in ("X-DG1-Topic", "X-DG1-Delivery-Id")}
    assert client.post("/hooks/dg1/demo", data=BODY, headers=sent).status_code == 200
    assert [(row.topic, row.dedup_key) for row in inbox()] == [
        ("order.placed", "dg1:demo:0b7f3c1e-5d2a-4c1b-9a57-3f1e2d4c5b6a")]


@pytest.mark.parametrize("body", [
    b'{"topic":"order.placed","tenant_id":"demo","site_id":"ch","data":{"order_id":"1"}}',
    b'{"event_id":"","topic":"order.placed","site_id":"ch","data":{"order_id":"1"}}',
    b'{"event_id":7,"topic":"order.placed","site_id":"ch","data":{"order_id":"1"}}',
    b'{"event_id":"' + b"e" * 101 + b'","topic":"order.placed","site_id":"ch","data":{"order_id":"1"}}',
    b'{"event_id":"e-1","site_id":"ch","data":{"order_id":"1"}}',
    b'{"event_id":"e-1","topic":null,"site_id":"ch","data":{"order_id":"1"}}',
], ids=["no event id", "empty event id", "numeric event id", "overlong event id", "no topic", "null topic"])
def test_a_signed_body_without_its_own_event_id_and_topic_is_refused(client, tenant, clock, body):
    response = client.post("/hooks/dg1/demo", data=body, headers=signed(body))
    assert response.status_code == 400 and response.json["error"]
    assert inbox() == []


def test_a_forged_signature_is_refused(client, tenant, clock):
    forged = signing.webhook_signature("not-the-secret", str(EXAMPLE_TS), BODY)
    assert client.post("/hooks/dg1/demo", data=BODY, headers=headers(signature=forged)).status_code == 401
    tampered = BODY.replace(b"100012", b"100013")
    assert client.post("/hooks/dg1/demo", data=tampered, headers=headers()).status_code == 401
    assert client.post("/hooks/dg1/demo", data=BODY, headers={**headers(), "X-DG1-Signature": ""}).status_code == 401
    assert inbox() == []


def test_a_replay_older_than_five_minutes_is_refused_even_with_a_valid_signature(client, tenant, clock):
    clock.t = EXAMPLE_TS + 301
    response = client.post("/hooks/dg1/demo", data=BODY, headers=headers())
    assert response.status_code == 401 and "5-minute" in response.json["error"]
    clock.t = EXAMPLE_TS - 301  # from the future: as suspect
    assert client.post("/hooks/dg1/demo", data=BODY, headers=headers()).status_code == 401
    assert inbox() == []


def test_another_tenants_secret_does_not_open_this_tenant(client, tenant, clock):
    from bridge.connectors.dg1.tenants import add_tenant

    add_tenant("other", api_key="k-other", webhook_secret="whs-other", launch_secret="ls-other")
    assert client.post("/hooks/dg1/other", data=BODY, headers=headers()).status_code == 401
    assert client.post("/hooks/dg1/nobody", data=BODY, headers=headers()).status_code == 404


def test_an_unknown_topic_is_acknowledged_and_ignored(client, tenant, clock):
    body = BODY.replace(b"order.placed", b"product.updated")
    response = client.post("/hooks/dg1/demo", data=body, headers=signed(body, topic="product.updated"))
    assert response.status_code == 200 and response.json["ignored"] == "product.updated"
    assert inbox() == []


def test_order_placed_becomes_invoice_to_ledger_work(client, tenant, clock, run_jobs, stand_in_flows):
    runs = stand_in_flows("invoice_to_ledger")
    client.post("/hooks/dg1/demo", data=BODY, headers=headers())
    run_jobs()
    assert [(key, options) for _, key, options in runs] == [
        ("order:ch:100012", {"topic": "order.placed", "event_id": "0b7f3c1e-5d2a-4c1b-9a57-3f1e2d4c5b6a"})]
    assert inbox()[0].state == "done"


def _updated(order_id: str, delivery: str) -> bytes:
    return (b'{"event_id":"e-' + delivery.encode() + b'","topic":"order.updated","occurred_at":"2025-05-01T10:00:00Z",'
            b'"tenant_id":"demo","site_id":"ch","data":{"order_id":"' + order_id.encode() + b'"}}')


@responses.activate
def test_order_updated_reads_the_order_a_cancellation_asks_for_the_cancellation_flow(client, tenant, clock, run_jobs,
                                                                                    api, stand_in_flows):
    responses.get(f"{api}/sites/ch/orders/1", json=sample_order(id="1", site_id="ch", status="CANCELLED"))
    responses.get(f"{api}/sites/ch/orders/2", json=sample_order(id="2", site_id="ch", status="PAID"))
    responses.get(f"{api}/sites/ch/orders/3", json=sample_order(id="3", site_id="ch", status="PENDING"))
    runs = stand_in_flows("invoice_cancel", "invoice_to_ledger")
    for order_id in ("1", "2", "3"):
        body = _updated(order_id, f"u{order_id}")
        client.post("/hooks/dg1/demo", data=body, headers=signed(body, delivery=f"u{order_id}", topic="order.updated"))
    run_jobs()
    cancelled = [(key, options) for flow, key, options in runs if flow == "invoice_cancel"]
    invoiced = [(key, options) for flow, key, options in runs if flow == "invoice_to_ledger"]
    assert [key for key, _ in cancelled] == ["order:ch:1"]
    assert [(key, options["status"]) for key, options in invoiced] == [("order:ch:2", "PAID")]
    assert {w.object_key for w in db.session.scalars(select(WorkItem))} == {"order:ch:1", "order:ch:2"}


def test_the_signature_helper_matches_the_documented_example():
    assert signing.webhook_signature(WEBHOOK_SECRET, str(EXAMPLE_TS), BODY) == SIGNATURE
    assert signing.webhook_valid(WEBHOOK_SECRET, str(EXAMPLE_TS), BODY, SIGNATURE)
    assert not signing.webhook_valid(WEBHOOK_SECRET, str(EXAMPLE_TS), BODY, "ümlaut")


def _event(n: str) -> bytes:
    """The documented example as DG1's n-th event (its own event id)."""
    return BODY.replace(b"0b7f3c1e-5d2a-4c1b-9a57-3f1e2d4c5b6a", f"event-{n}".encode())


def _signed_with(secret: str, ts: int, n: str) -> tuple[bytes, dict[str, str]]:
    body = _event(n)
    return body, headers(ts, signing.webhook_signature(secret, str(ts), body), delivery=n)


def _send(client, signed_request: tuple[bytes, dict[str, str]]):
    body, sent = signed_request
    return client.post("/hooks/dg1/demo", data=body, headers=sent)


def test_during_a_rotation_window_the_previous_webhook_secret_is_still_accepted(client, tenant, clock):
    from bridge.connectors.dg1.tenants import add_tenant

    # bridge learns the new secret first; DG1 still signs with the old one for a while.
    add_tenant("demo", api_key="k", webhook_secret="whs-new", launch_secret="ls", rotation_window=3600)
    assert _send(client, _signed_with(WEBHOOK_SECRET, EXAMPLE_TS, "a")).status_code == 200
    assert _send(client, _signed_with("whs-new", EXAMPLE_TS, "b")).status_code == 200
    # DG1 may also send both signatures: the new one, and the previous one in its own header.
    body, sent = _signed_with("whs-unknown-to-bridge", EXAMPLE_TS, "c")
    sent["X-DG1-Signature-Previous"] = signing.webhook_signature(WEBHOOK_SECRET, str(EXAMPLE_TS), body)
    assert client.post("/hooks/dg1/demo", data=body, headers=sent).status_code == 200

    clock.t = EXAMPLE_TS + 10 + 3601  # the window is over
    late = EXAMPLE_TS + 3611
    assert _send(client, _signed_with(WEBHOOK_SECRET, late, "d")).status_code == 401
    assert _send(client, _signed_with("whs-new", late, "e")).status_code == 200
    assert {row.dedup_key for row in inbox()} == {"dg1:demo:event-a", "dg1:demo:event-b", "dg1:demo:event-c",
                                                  "dg1:demo:event-e"}


def test_registering_the_same_secrets_again_does_not_extend_or_end_a_rotation(client, tenant, clock):
    from bridge.connectors.dg1.tenants import add_tenant, secrets_of

    add_tenant("demo", api_key="k", webhook_secret="whs-new", launch_secret="ls", rotation_window=3600)
    clock.t += 1800
    installation = add_tenant("demo", api_key="k2", webhook_secret="whs-new", launch_secret="ls")
    secrets = secrets_of(installation)
    assert secrets.webhook_secrets(clock.t) == ["whs-new", WEBHOOK_SECRET]
    assert secrets.webhook_secrets(clock.t + 1801) == ["whs-new"]  # the first window's end stands
