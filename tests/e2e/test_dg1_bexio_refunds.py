"""DG1 -> Bexio refunds, end to end over real HTTP: a refunded order becomes a visible
"credit it in Bexio" task with the amount, the lines and the invoice's link (Bexio's API
cannot make credit notes); a credit voucher booked by hand is read back and closes it."""
from __future__ import annotations

import re
import time
from decimal import Decimal

from sqlalchemy import select

from bridge.connectors.dg1.tenants import find_tenant
from bridge.engine import INBOX_HANDLERS, WorkRequest, execute_work, request_work
from bridge.extensions import db
from bridge.models import InboxEvent, SyncRecord
from tests.connectors.bexio.live_support import state as bexio_state
from tests.connectors.dg1.test_live import place_order, wait_delivered


def refund_records(live) -> list[SyncRecord]:
    with live.app.app_context():
        rows = db.session.scalars(select(SyncRecord).where(SyncRecord.flow == "invoice_refund")
                                  .order_by(SyncRecord.id)).all()
        db.session.expunge_all()
        return rows


def wait_topic(live, topic: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [d for d in live.control("dg1/deliveries?tenant=demo", method="GET")["deliveries"]
                 if d["topic"] == topic and d["status"] == "succeeded"]
        if found:
            return
        time.sleep(0.05)
    raise AssertionError(f"no {topic} delivered")


def test_a_refund_is_a_visible_task_until_a_credit_voucher_is_booked_in_bexio(shop):
    order = place_order(shop)
    wait_delivered(shop, 1)
    shop.run_jobs()
    (invoice,) = bexio_state(shop)["invoices"]
    shop.control(f"dg1/tenants/demo/orders/{order['id']}/refund",
                 json={"lines": [{"sku": "MUG-01", "quantity": 1}]})
    wait_topic(shop, "order.refunded")
    shop.run_jobs()
    (task,) = refund_records(shop)
    assert task.state == "conflict"
    assert "credit it in Bexio" in task.error_message and "CHF" in task.error_message
    assert str(invoice["id"]) in (task.error_fix or "")  # the link to the invoice in Bexio
    amount = re.search(r"\(([0-9.]+) CHF\)", task.error_message).group(1)  # one mug of the two
    # "Sync now" before anything was booked: still the task
    sync_now(shop, order["id"])
    assert refund_records(shop)[-1].state == "conflict"
    # a person books the credit voucher in Bexio; "Sync now" reads it back and closes the task
    shop.control(f"bexio/companies/seeland/invoices/{invoice['id']}/credit_voucher", json={"amount": amount})
    sync_now(shop, order["id"])
    assert refund_records(shop)[-1].state == "succeeded"
    assert Decimal(bexio_state(shop)["invoices"][0]["total_credit_vouchers"]) == Decimal(amount)


def sync_now(live, order_id: str) -> None:
    with live.app.app_context():
        request_work(WorkRequest(find_tenant("demo").id, "invoice_refund", f"refund:ch:{order_id}#rf-{order_id}-1",
                                 {}))
        db.session.commit()
    live.run_jobs()


def test_a_refund_that_comes_before_its_orders_invoice_is_credited_once_the_invoice_is_made(shop):
    """Webhooks come in any order: the refund runs first and finds nothing to credit; it runs
    again when the order's invoice is made, so its task is not lost."""
    order = place_order(shop)
    wait_delivered(shop, 1)
    shop.control(f"dg1/tenants/demo/orders/{order['id']}/refund",
                 json={"lines": [{"sku": "MUG-01", "quantity": 1}]})
    wait_topic(shop, "order.refunded")
    with shop.app.app_context():  # the refund's event is read before the order's: nothing in Bexio yet
        event = db.session.scalars(select(InboxEvent).where(InboxEvent.topic == "order.refunded")).one()
        (refund,) = INBOX_HANDLERS[event.source](event)
        event.state = "done"
        execute_work(request_work(refund))
        db.session.commit()
    assert refund_records(shop)[-1].state == "skipped"
    assert bexio_state(shop)["invoices"] == []
    shop.run_jobs()  # the order's invoice is made; the refund runs again
    (invoice,) = bexio_state(shop)["invoices"]
    task = refund_records(shop)[-1]
    assert task.state == "conflict" and "credit it in Bexio" in task.error_message
    assert str(invoice["id"]) in (task.error_fix or "")
