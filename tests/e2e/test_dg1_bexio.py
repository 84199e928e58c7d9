"""DG1 -> Bexio through the real flows, end to end over real HTTP against the sandboxes:
a completed order becomes one Bexio invoice (contact, lines, shipping, payment fee, mapped
taxes), issued, paid and e-mailed; the order shows its Bexio invoice; Bexio's "paid" comes
back as COMPLETED; a repeated webhook changes nothing."""
from __future__ import annotations

import time
from decimal import Decimal

from sqlalchemy import select

from bridge.connectors.dg1.tenants import find_tenant
from bridge.extensions import db
from bridge.models import SyncRecord
from bridge.settings import save_section
from bridge.sync.polling import poll_all
from bridge.sync.status_sync import request_daily_status
from tests.connectors.bexio.live_support import state as bexio_state
from tests.connectors.dg1.test_live import order_state, place_order, wait_delivered


def wait_attempts(live, delivery_id: str, count: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [d for d in live.control("dg1/deliveries?tenant=demo", method="GET")["deliveries"]
                 if d["delivery_id"] == delivery_id]
        if found and len(found[0]["attempts"]) >= count and found[0]["status"] == "succeeded":
            return
        time.sleep(0.05)
    raise AssertionError(f"delivery {delivery_id} was not resent")


def test_a_completed_order_becomes_one_issued_paid_emailed_bexio_invoice(shop):
    order = place_order(shop)
    wait_delivered(shop, 1)
    shop.run_jobs()
    invoices = bexio_state(shop)["invoices"]
    assert len(invoices) == 1
    invoice = invoices[0]
    assert invoice["api_reference"] == f"dg1:demo:ch:{order['id']}"
    assert [p["text"] for p in invoice["positions"]] == ["Espresso mug", "Shipping: Post Priority",
                                                          "Payment fee: card"]
    assert invoice["kb_item_status_id"] == 9, invoice  # paid: the shop had captured the payment
    assert Decimal(invoice["total"]) == Decimal(order["totals"]["grand_total"]).quantize(Decimal("0.05"))
    assert len(bexio_state(shop)["sent_emails"]) == 1
    refs = order_state(shop, order["id"])["external_refs"]
    assert refs["bexio_invoice_id"] == str(invoice["id"])

    # the same webhook delivered again, and a manual "sync order": still one invoice
    delivery_id = wait_delivered(shop, 1)[0]["delivery_id"]
    shop.control(f"dg1/deliveries/{delivery_id}/resend")
    wait_attempts(shop, delivery_id, 2)
    shop.run_jobs()
    assert len(bexio_state(shop)["invoices"]) == 1 and len(bexio_state(shop)["sent_emails"]) == 1


def test_bexio_paid_completes_the_order_in_dg1(shop):
    order = place_order(shop, payments=[])  # paid later, by bank transfer booked in Bexio
    wait_delivered(shop, 1)
    shop.run_jobs()
    (invoice,) = bexio_state(shop)["invoices"]
    assert invoice["kb_item_status_id"] == 8  # issued, open
    shop.control(f"bexio/companies/seeland/invoices/{invoice['id']}/mark_paid")
    with shop.app.app_context():
        # Not the five-minute ledger poll (that is Bitrix24 <-> Xero's): the daily job.
        assert poll_all()["connections"] == 0
        assert request_daily_status() == 1
        assert request_daily_status() == 0  # once per day
    shop.run_jobs()
    assert order_state(shop, order["id"])["status"] == "COMPLETED"
    with shop.app.app_context():
        record = db.session.scalars(select(SyncRecord).where(SyncRecord.flow == "status_from_ledger")).one()
        assert record.state == "succeeded" and record.received == {"changed": 1}


def test_an_unmapped_tax_rate_fails_the_order_naming_the_rate(shop):
    with shop.app.app_context():
        installation = find_tenant("demo")
        save_section(installation, "mapping", {"tax_rates": {}})
        db.session.commit()
    order = place_order(shop)
    wait_delivered(shop, 1)
    shop.run_jobs()
    assert bexio_state(shop)["invoices"] == []
    with shop.app.app_context():
        record = db.session.scalars(select(SyncRecord).where(SyncRecord.object_id == f"ch:{order['id']}")).one()
        assert record.state == "failed" and "8.1 %" in record.error_message and "Tax mapping" in record.error_fix
