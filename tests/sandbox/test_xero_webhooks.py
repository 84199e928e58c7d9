"""Webhooks: signed thin events after changes, retries, the log, and Intent to Receive."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from flask import Flask, request

from tests.sandbox.xero_fixtures import xero, xero_spec  # noqa: F401
from tests.support.servers import serve_in_thread
from tests.support.xero_spec import validate_xero_webhook_body

KEY = b"bridge-demo-webhook-key"


class Receiver:
    """A stand-in for the product's /hooks/xero that records what arrives."""

    def __init__(self, mode: str = "correct") -> None:
        self.mode = mode
        self.fail_next = 0
        self.received: list[tuple[bytes, str]] = []
        app = Flask("receiver")

        @app.post("/hooks/xero")
        def hook():
            raw = request.get_data()
            signature = request.headers.get("x-xero-signature", "")
            if self.fail_next:
                self.fail_next -= 1
                return "", 500
            expected = base64.b64encode(hmac.new(KEY, raw, hashlib.sha256).digest()).decode()
            good = hmac.compare_digest(signature, expected)
            if self.mode == "always-200":
                return "", 200
            if self.mode == "chatty":
                return ("ok" if good else "bad"), (200 if good else 401)
            if not good:
                return "", 401
            self.received.append((raw, signature))
            return "", 200

        self.server = serve_in_thread(app)
        self.url = self.server.url + "/hooks/xero"


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.server.stop()


def wait_for(predicate, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_changes_are_posted_signed_and_thin(xero, receiver):
    xero.control("POST", f"orgs/{xero.tenant_id}/webhook", json={"url": receiver.url})
    contact = xero.contact("Hooked Ltd")
    inv = xero.invoice(contact["ContactID"], status="AUTHORISED")
    xero.control("POST", f"orgs/{xero.tenant_id}/invoices/{inv['InvoiceID']}/pay")  # a Xero user pays it
    assert wait_for(lambda: sum(len(json.loads(b)["events"]) for b, _ in receiver.received) >= 3)
    events = []
    for raw, _ in receiver.received:
        validate_xero_webhook_body(raw)
        events += json.loads(raw)["events"]
    seen = {(e["eventCategory"], e["eventType"], e["resourceId"]) for e in events}
    assert ("CONTACT", "CREATE", contact["ContactID"]) in seen
    assert ("INVOICE", "CREATE", inv["InvoiceID"]) in seen
    assert ("INVOICE", "UPDATE", inv["InvoiceID"]) in seen
    assert all(e["tenantId"] == xero.tenant_id and "Status" not in e for e in events)
    assert events[0]["resourceUrl"].startswith("https://api.xero.com/api.xro/2.0/")
    log = xero.control("GET", "webhooks/deliveries").json()["deliveries"]
    assert log and all(d["delivered"] for d in log)


def test_switch_off_then_flush_and_retry_after_failure(xero, receiver):
    xero.control("POST", "settings", json={"webhooks_enabled": False})
    xero.control("POST", f"orgs/{xero.tenant_id}/webhook", json={"url": receiver.url})
    contact = xero.contact("Quiet Ltd")
    xero.control("POST", f"orgs/{xero.tenant_id}/contacts/{contact['ContactID']}/edit", json={"FirstName": "Q"})
    assert xero.control("GET", "webhooks/deliveries").json()["pending"] == 2
    assert receiver.received == []
    receiver.fail_next = 1
    first = xero.control("POST", "webhooks/flush").json()["deliveries"]
    assert [d["status"] for d in first] == [500]
    second = xero.control("POST", "webhooks/flush").json()["deliveries"]
    assert [d["status"] for d in second] == [200] and len(second[0]["attempts"]) == 2
    body = json.loads(receiver.received[0][0])
    assert [e["eventType"] for e in body["events"]] == ["CREATE", "UPDATE"]
    assert body["lastEventSequence"] - body["firstEventSequence"] == 1


def test_no_events_for_orgs_not_connected_to_the_app(xero, receiver):
    xero.control("POST", "settings", json={"webhooks_enabled": False})
    other = xero.new_org("Unconnected")
    xero.control("POST", f"orgs/{other}/webhook", json={"url": receiver.url})
    xero.control("POST", f"orgs/{other}/seed", json={})  # seeds a few contacts, silently
    contact_id = xero.control("GET", f"orgs/{other}/state").json()["contacts"][0]["ContactID"]
    edit = lambda name: xero.control("POST", f"orgs/{other}/contacts/{contact_id}/edit", json={"FirstName": name})  # noqa: E731
    edit("A")
    assert xero.control("GET", "webhooks/deliveries").json()["pending"] == 0
    xero.token = xero.mint([other])
    edit("B")
    assert xero.control("GET", "webhooks/deliveries").json()["pending"] == 1


@pytest.mark.parametrize("mode,ok", [("correct", True), ("always-200", False), ("chatty", False)])
def test_intent_to_receive(xero, mode, ok):
    app = Receiver(mode)
    try:
        report = xero.control("POST", "webhooks/intent", json={"url": app.url}).json()
    finally:
        app.server.stop()
    assert report["ok"] is ok
    assert {c["signature"] for c in report["checks"]} == {"valid", "invalid"}
