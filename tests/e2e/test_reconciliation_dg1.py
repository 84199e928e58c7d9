"""The reconciliation report in the DG1 admin, end to end over real HTTP (DG1 -> Bexio): an
order with no Bexio twin shows as a row, "sync again" makes its invoice, and the next run
finds it fixed."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import requests

from bridge.connectors.dg1.tenants import find_tenant
from bridge.extensions import db
from bridge.settings import save_section
from bridge.sync import reconciliation
from tests.connectors.bexio.live_support import state as bexio_state
from tests.connectors.dg1.test_live import place_order, wait_delivered
from tests.e2e.test_dg1_bexio_admin import HX, admin_page, csrf
from tests.e2e.test_reconciliation import row_id


def report_page(shop):
    """The report page as the DG1 admin opens it from the menu: (post, run, token), where
    ``post`` presses a button and ``run`` starts a run and returns the rows it shows."""
    orders, token = admin_page(shop, "orders")
    assert "/dg1/report?s=" in orders.text  # the admin's menu links the report
    page = requests.get(f"{shop.app_url}/dg1/report", params={"s": token}, timeout=30)
    assert page.status_code == 200 and "Reconciliation report" in page.text

    def post(path: str, **data) -> str:
        response = requests.post(f"{shop.app_url}/dg1/report{path}", headers=HX, timeout=30,
                                 data={"s": token, "csrf": csrf(page), **data})
        assert response.status_code == 200, response.text[:300]
        return response.text

    def run() -> str:
        assert "Waiting for the worker" in post("/start")
        shop.run_jobs()
        return requests.get(f"{shop.app_url}/dg1/report/rows", params={"s": token}, headers=HX, timeout=30).text
    return post, run, token


def test_an_order_with_no_bexio_twin_shows_and_sync_again_makes_it(shop, monkeypatch):
    # The order was placed a moment ago: no grace period, so it counts at once.
    monkeypatch.setattr(reconciliation, "GRACE", timedelta(0))
    with shop.app.app_context():
        save_section(find_tenant("demo"), "general", {"automatic_sync": False})  # so it is not synced
        db.session.commit()
    order = place_order(shop)
    wait_delivered(shop, 1)
    shop.run_jobs()
    assert bexio_state(shop)["invoices"] == []
    post, run, token = report_page(shop)
    rows = run()
    assert f"ch:{order['id']}" in rows and "Not in the ledger, though it should be." in rows
    assert "Sync requested" in post(f"/rows/{row_id(rows, 'Not in the ledger')}", action="sync_again")
    shop.run_jobs()
    assert len(bexio_state(shop)["invoices"]) == 1
    assert f"ch:{order['id']}" not in run()  # found in step: fixed
    fixed = requests.get(f"{shop.app_url}/dg1/report/rows", params={"s": token, "state": "fixed"}, headers=HX,
                         timeout=30).text
    assert f"ch:{order['id']}" in fixed


def test_a_bexio_payment_not_shown_on_the_order_is_a_row_whose_fix_notes_it_once(shop):
    """Payment by payment, DG1 <-> Bexio: a payment booked in Bexio that the order does not show
    yet (the daily status run has not come) is a row with its amount and date; "Show it here"
    writes it to the order's external_refs through the payment flow, and the status run after
    adds nothing."""
    from tests.connectors.dg1.test_live import order_state
    from bridge.sync.status_from_ledger import request_daily_status

    order = place_order(shop, payments=[])  # paid later, by bank transfer booked in Bexio
    wait_delivered(shop, 1)
    shop.run_jobs()
    (invoice,) = bexio_state(shop)["invoices"]
    payment = shop.control(f"bexio/companies/seeland/invoices/{invoice['id']}/mark_paid")["payment"]
    post, run, _ = report_page(shop)
    rows = run()
    said = f"Paid {Decimal(payment['value']):.2f} CHF in Bexio on {payment['date']}, not shown in DG1."
    assert said in rows and "Show it here" in rows
    assert "The payment is shown under the invoice now." in post(f"/rows/{row_id(rows, said)}", action="note_payment")
    key = f"bexio_payment_{payment['id']}"
    noted = {k: v for k, v in order_state(shop, order["id"])["external_refs"].items() if k.startswith("bexio_payment_")}
    assert list(noted) == [key] and noted[key].endswith(f"[{payment['id']}]")
    with shop.app.app_context():
        assert request_daily_status() == 1
    shop.run_jobs()  # the status run reads the payment too: noted already
    again = {k: v for k, v in order_state(shop, order["id"])["external_refs"].items() if k.startswith("bexio_payment_")}
    assert again == noted
    assert said not in run()
