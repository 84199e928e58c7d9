"""DG1 webhooks: signature over the raw body, retries in sandbox time, stable ids, log."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid

from tests.sandbox.dg1_support import control, make_tenant, receiver, wait_for  # noqa: F401

BACKOFF = (60, 300, 1800, 7200, 21600, 86400)


def expected_signature(secret: str, timestamp: str, raw: bytes) -> str:
    """Written from the contract (docs/dg1.md), not from the sandbox's code."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def setup_shop(sandbox) -> None:
    make_tenant(sandbox, "t1", [{"id": "main"}, {"id": "second"}])
    control(sandbox, "POST", "/tenants/t1/products", {"site": "main", "sku": "X"}, 201)


def place(sandbox, **spec) -> dict:
    return control(sandbox, "POST", "/tenants/t1/orders",
                   {"site": "main", "items": [{"sku": "X", "quantity": 1}], **spec}, expect=201)


def log(sandbox) -> list[dict]:
    return control(sandbox, "GET", "/deliveries?tenant=t1")["deliveries"]


def test_order_placed_is_signed_over_timestamp_and_raw_body(sandbox, receiver):
    setup_shop(sandbox)
    order = place(sandbox)
    hit = receiver.wait(1)[0]
    assert hit.path == "/hooks/dg1/t1"
    headers = hit.headers
    assert headers["X-Dg1-Topic"] == "order.placed"
    assert headers["X-Dg1-Tenant"] == "t1" and headers["X-Dg1-Site"] == "main"
    assert str(uuid.UUID(headers["X-Dg1-Delivery-Id"])) == headers["X-Dg1-Delivery-Id"]
    assert abs(int(headers["X-Dg1-Timestamp"]) - sandbox.host.clock.time()) < 30
    assert headers["X-Dg1-Signature"] == expected_signature(
        "dg1-demo-webhook-t1", headers["X-Dg1-Timestamp"], hit.body)
    assert headers["X-Dg1-Signature"] != expected_signature(
        "dg1-demo-webhook-t2", headers["X-Dg1-Timestamp"], hit.body)
    body = json.loads(hit.body)
    assert set(body) == {"event_id", "topic", "occurred_at", "tenant_id", "site_id", "data"}
    assert body["topic"] == "order.placed" and body["tenant_id"] == "t1" and body["site_id"] == "main"
    assert body["data"] == {"order_id": order["id"]} and body["occurred_at"].endswith("Z")


def test_cancel_and_payment_fire_order_updated(sandbox, receiver):
    setup_shop(sandbox)
    unpaid = place(sandbox, payments=[{"method": "invoice", "status": "pending"}])
    assert unpaid["status"] == "PLACED"
    control(sandbox, "POST", f"/tenants/t1/orders/{unpaid['id']}/pay", expect=200)
    control(sandbox, "POST", f"/tenants/t1/orders/{unpaid['id']}/cancel", expect=200)
    control(sandbox, "POST", f"/tenants/t1/orders/{unpaid['id']}/cancel", expect=200)  # no-op
    hits = receiver.wait(3)
    assert [h.headers["X-Dg1-Topic"] for h in hits] == ["order.placed", "order.updated", "order.updated"]
    assert len({h.headers["X-Dg1-Delivery-Id"] for h in hits}) == 3
    state = control(sandbox, "GET", "/tenants/t1/state")["orders"][0]
    assert state["status"] == "CANCELLED" and state["payments"][0]["status"] == "captured"
    assert len(log(sandbox)) == 3


def test_failed_delivery_is_retried_with_the_same_ids_in_sandbox_time(sandbox, receiver):
    setup_shop(sandbox)
    receiver.statuses = [500, 503]
    place(sandbox)
    receiver.wait(1)
    wait_for(lambda: log(sandbox)[0]["status"] == "retrying", "the first retry to be scheduled")
    assert len(receiver.hits) == 1  # nothing more until the clock moves
    sandbox.host.clock.advance(BACKOFF[0])
    receiver.wait(2)
    wait_for(lambda: log(sandbox)[0]["attempts"][-1]["status_code"] == 503, "the second attempt")
    sandbox.host.clock.advance(BACKOFF[1])
    hits = receiver.wait(3)
    assert len({h.headers["X-Dg1-Delivery-Id"] for h in hits}) == 1
    assert len({h.body for h in hits}) == 1  # same event id, same body on every attempt
    stamps = [int(h.headers["X-Dg1-Timestamp"]) for h in hits]
    assert stamps[1] - stamps[0] >= BACKOFF[0] and stamps[2] - stamps[1] >= BACKOFF[1]
    for hit in hits:
        assert hit.headers["X-Dg1-Signature"] == expected_signature(
            "dg1-demo-webhook-t1", hit.headers["X-Dg1-Timestamp"], hit.body)
    entry = wait_for(lambda: [d for d in log(sandbox) if d["status"] == "succeeded"], "success")[0]
    assert [a["status_code"] for a in entry["attempts"]] == [500, 503, 200]


def test_delivery_gives_up_after_the_last_backoff(sandbox, receiver):
    setup_shop(sandbox)
    receiver.statuses = [500] * 10
    place(sandbox)
    for n, delay in enumerate(BACKOFF, start=1):
        receiver.wait(n)
        wait_for(lambda: len(log(sandbox)[0]["attempts"]) == n, f"attempt {n} recorded")
        sandbox.host.clock.advance(delay)
    receiver.wait(len(BACKOFF) + 1)
    wait_for(lambda: log(sandbox)[0]["status"] == "failed", "the delivery to be given up")
    sandbox.host.clock.advance(10 * 86400)
    assert control(sandbox, "POST", "/deliveries/run")["attempted"] == 0
    assert len(receiver.hits) == len(BACKOFF) + 1


def test_dropped_and_disabled_deliveries_can_be_resent_with_the_same_ids(sandbox, receiver):
    setup_shop(sandbox)
    control(sandbox, "POST", "/tenants/t1/webhooks", {"drop_next": 1})
    lost = place(sandbox)
    arrived = place(sandbox)
    receiver.wait(1)
    assert json.loads(receiver.hits[0].body)["data"]["order_id"] == arrived["id"]
    dropped = next(d for d in log(sandbox) if d["status"] == "dropped")
    assert dropped["body"]["data"]["order_id"] == lost["id"] and dropped["attempts"] == []

    control(sandbox, "POST", "/tenants/t1/webhooks", {"enabled": False})
    quiet = place(sandbox)
    disabled = next(d for d in log(sandbox) if d["status"] == "disabled")
    assert disabled["body"]["data"]["order_id"] == quiet["id"]
    assert len(receiver.hits) == 1
    control(sandbox, "POST", "/tenants/t1/webhooks", {"enabled": True})

    for entry in (dropped, disabled):
        control(sandbox, "POST", f"/deliveries/{entry['delivery_id']}/resend", expect=200)
    hits = receiver.wait(3)
    resent = {h.headers["X-Dg1-Delivery-Id"]: json.loads(h.body) for h in hits[1:]}
    assert set(resent) == {dropped["delivery_id"], disabled["delivery_id"]}
    assert resent[dropped["delivery_id"]]["event_id"] == dropped["event_id"]
