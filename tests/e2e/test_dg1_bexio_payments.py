"""DG1 -> Bexio, end to end over real HTTP: a payment booked in Bexio is shown on the DG1
order, in the one place our DG1 contract lets us write (its ``external_refs``, docs/dg1.md
4.4): amount, date, paid in full or what is still due; once per payment, whatever runs again."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select, update

from bridge import faults
from bridge.sync.status_from_ledger import request_daily_status, status_request
from bridge.connectors.dg1.tenants import find_tenant
from bridge.engine import request_work, run_work
from bridge.extensions import db
from bridge.models import WorkItem, utcnow
from tests.connectors.bexio.live_support import state as bexio_state
from tests.connectors.dg1.test_live import order_state, place_order, wait_delivered


def test_a_payment_booked_in_bexio_shows_on_the_dg1_order_once(shop):
    order = place_order(shop, payments=[])  # paid later, by bank transfer booked in Bexio
    wait_delivered(shop, 1)
    shop.run_jobs()
    (invoice,) = bexio_state(shop)["invoices"]
    payment = shop.control(f"bexio/companies/seeland/invoices/{invoice['id']}/mark_paid")["payment"]
    with shop.app.app_context():
        assert request_daily_status() == 1
    # The worker stops right after DG1 took the note, before it is remembered: the retry
    # finds the note on the order instead of writing it again.
    faults.arm("after invoice note", times=1)
    try:
        shop.run_jobs()
    finally:
        faults.disarm("after invoice note")
    with shop.app.app_context():  # its retry, now
        db.session.execute(update(WorkItem).where(WorkItem.flow == "ledger_invoice_changed")
                           .values(state="queued", next_attempt_at=utcnow()))
        db.session.commit()
        for item_id in db.session.scalars(select(WorkItem.id).where(WorkItem.flow == "ledger_invoice_changed")):
            run_work(item_id)
    shop.run_jobs()
    refs = order_state(shop, order["id"])["external_refs"]
    noted = {key: value for key, value in refs.items() if key.startswith("bexio_payment_")}
    assert noted == {f"bexio_payment_{payment['id']}":
                     f"Payment of {Decimal(payment['value']):.2f} CHF received on {payment['date']}: paid in full. [{payment['id']}]"}
    assert order_state(shop, order["id"])["status"] == "COMPLETED"
    with shop.app.app_context():  # "Sync status now" on the orders page: nothing new to note
        request_work(status_request(find_tenant("demo").id, manual=True))
        db.session.commit()
    shop.run_jobs()
    again = order_state(shop, order["id"])["external_refs"]
    assert {k: v for k, v in again.items() if k.startswith("bexio_payment_")} == noted
