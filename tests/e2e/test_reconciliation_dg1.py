"""The reconciliation report in the DG1 admin, end to end over real HTTP (DG1 -> Bexio): an
order with no Bexio twin shows as a row, "sync again" makes its invoice, and the next run
finds it fixed."""
from __future__ import annotations

from datetime import timedelta

import requests

from bridge.connectors.dg1.tenants import find_tenant
from bridge.extensions import db
from bridge.settings import save_section
from bridge.sync import reconciliation
from tests.connectors.bexio.live_support import state as bexio_state
from tests.connectors.dg1.test_live import place_order, wait_delivered
from tests.e2e.test_dg1_bexio_admin import HX, admin_page, csrf
from tests.e2e.test_reconciliation import row_id


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

    rows = run()
    assert f"ch:{order['id']}" in rows and "Not in the ledger, though it should be." in rows
    assert "Sync requested" in post(f"/rows/{row_id(rows, 'Not in the ledger')}", action="sync_again")
    shop.run_jobs()
    assert len(bexio_state(shop)["invoices"]) == 1
    assert f"ch:{order['id']}" not in run()  # found in step: fixed
    fixed = requests.get(f"{shop.app_url}/dg1/report/rows", params={"s": token, "state": "fixed"}, headers=HX,
                         timeout=30).text
    assert f"ch:{order['id']}" in fixed
