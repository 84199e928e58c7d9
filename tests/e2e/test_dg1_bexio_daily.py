"""The seed's daily jobs across several shops, end to end against the sandbox Bexio: one
run per installation per day however often the job fires, and a job that crashes halfway
through its installations (a fault point) resumes with the rest at its next trigger without
running any installation twice. Shipping and payment-fee taxes follow the order's service
date like product lines (7.7 % before 2024, 8.1 % after). A rotated DG1 webhook secret is
accepted during its window and refused after."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from bridge import faults
from bridge.connectors.dg1.tenants import add_tenant, find_tenant
from bridge.extensions import db
from bridge.models import SyncRecord, WorkItem
from bridge.settings import save_section
from bridge.sync.status_from_ledger import daily_status
from tests.connectors.bexio.live_support import connect, state as bexio_state
from tests.connectors.dg1.test_live import deliveries, place_order, wait_delivered
from tests.e2e.test_cross_pairs import kiwi_shop  # noqa: F401  (fixture: a DG1 shop on Xero)

from tests.e2e.test_dg1_bexio_settings import deadline_wait


def _status_items(live) -> dict[int, WorkItem]:
    with live.app.app_context():
        items = db.session.scalars(select(WorkItem).where(WorkItem.flow == "status_from_ledger")).all()
        db.session.expunge_all()
        return {item.installation_id: item for item in items}


def test_a_daily_job_that_crashes_halfway_resumes_with_the_rest_and_runs_none_twice(live):
    shops = [connect(live, account_id=f"shop-{n}").installation_id for n in (1, 2, 3)]
    with live.app.app_context():
        for installation_id in shops:
            from bridge.models import Installation

            save_section(db.session.get(Installation, installation_id), "daily", {"sync_status": True})
        db.session.commit()

    faults.arm("daily_status after installation", times=1)  # the worker dies after the first shop
    try:
        with pytest.raises(faults.InjectedFault):
            daily_status.call_local()
    finally:
        faults.disarm()
    assert list(_status_items(live)) == [shops[0]]
    live.run_jobs()

    assert daily_status.call_local() == 2  # the next trigger of the day: only the other two
    assert daily_status.call_local() == 0
    live.run_jobs()
    items = _status_items(live)
    assert sorted(items) == sorted(shops)
    assert [items[i].runs for i in shops] == [1, 1, 1]  # each shop once, none twice
    with live.app.app_context():
        records = db.session.scalars(select(SyncRecord).where(SyncRecord.flow == "status_from_ledger")).all()
        assert sorted(r.installation_id for r in records) == sorted(shops)
        assert {r.state for r in records} == {"succeeded"}


def _positions_taxes(invoice: dict) -> dict[str, int]:
    return {p["text"]: p.get("tax_id") for p in invoice["positions"]}


def test_shipping_and_fee_taxes_follow_the_service_date_in_each_vat_period(shop):  # noqa: F811
    with shop.app.app_context():
        installation = find_tenant("demo")
        from bridge.settings import get_section

        mapping = get_section(installation, "mapping")
        old_tax, new_tax = mapping.tax_rates["7.7"], mapping.tax_rates["8.1"]
        assert mapping.shipping_tax == new_tax  # one setting, the 8.1 % tax (valid from 2024)
    shop.control("dg1/tenants/demo/products", json={"site": "ch", "sku": "OLD-77", "name": "Teapot 2023",
                                                    "price": "40.00", "tax_rate": "7.70"})
    # An order of June 2023, at the rates of that time.
    back = datetime.now(timezone.utc) - datetime(2023, 6, 15, 10, tzinfo=timezone.utc)
    shop.control("clock", json={"advance": -back.total_seconds()})
    place_order(shop, items=[{"sku": "OLD-77", "quantity": 1}],
                shipments=[{"method": "Post Priority", "price": "9.00", "tax_rate": "7.70"}],
                payments=[{"method": "card", "status": "captured", "fee_amount": "1.50", "fee_tax_rate": "7.70"}])
    wait_delivered(shop, 1)
    shop.run_jobs()
    (old,) = bexio_state(shop)["invoices"]
    assert old["is_valid_from"] == "2023-06-15"
    assert _positions_taxes(old) == {"Teapot 2023": int(old_tax), "Versand: Post Priority": int(old_tax),
                                     "Zahlungsgebühr: card": int(old_tax)}  # a German invoice

    shop.control("clock", json={"advance": back.total_seconds()})  # today: 8.1 %
    place_order(shop)
    wait_delivered(shop, 2)
    shop.run_jobs()
    new = next(i for i in bexio_state(shop)["invoices"] if i["id"] != old["id"])
    assert _positions_taxes(new) == {"Espresso mug": int(new_tax), "Versand: Post Priority": int(new_tax),
                                     "Zahlungsgebühr: card": int(new_tax)}


def test_an_old_shipping_rate_that_is_not_mapped_fails_the_order_naming_rate_and_setting(shop):  # noqa: F811
    with shop.app.app_context():
        installation = find_tenant("demo")
        from bridge.settings import get_section

        mapping = get_section(installation, "mapping").model_dump(mode="json")
        mapping["tax_rates"].pop("7.7")
        save_section(installation, "mapping", mapping)
        db.session.commit()
    back = datetime.now(timezone.utc) - datetime(2023, 6, 15, 10, tzinfo=timezone.utc)
    shop.control("clock", json={"advance": -back.total_seconds()})
    order = place_order(shop, shipments=[{"method": "Post Priority", "price": "9.00", "tax_rate": "7.70"}],
                        payments=[{"method": "card", "status": "captured"}])
    wait_delivered(shop, 1)
    shop.run_jobs()
    assert bexio_state(shop)["invoices"] == []
    with shop.app.app_context():
        record = db.session.scalars(select(SyncRecord).where(SyncRecord.object_id == f"ch:{order['id']}")).one()
        assert record.state == "failed"
        assert "Shipping" in record.error_message and "7.70 %" in record.error_message
        assert "2023-06-15" in record.error_message and "Taxes mapping" in record.error_fix


def test_a_rotated_webhook_secret_keeps_dg1s_deliveries_coming_during_the_window_only(shop):  # noqa: F811
    with shop.app.app_context():
        # bridge gets DG1's new secret while the shop still signs with the old one.
        add_tenant("demo", api_key="dg1-demo-key-demo", webhook_secret="dg1-demo-webhook-demo-2026",
                   launch_secret="dg1-demo-launch-demo", rotation_window=3600)
    place_order(shop)
    assert wait_delivered(shop, 1)[0]["attempts"][-1]["status_code"] == 200
    shop.run_jobs()
    assert len(bexio_state(shop)["invoices"]) == 1

    shop.control("clock", json={"advance": 3601 + 60})  # the window is over
    place_order(shop)
    (failed,) = wait_delivered(shop, 1, status="retrying")
    assert failed["attempts"][-1]["status_code"] == 401, deliveries(shop)  # refused: DG1 keeps retrying
    assert len(bexio_state(shop)["invoices"]) == 1


def test_the_dg1_to_xero_cross_pair_still_follows_status_through_the_ledger_poll(kiwi_shop):  # noqa: F811
    """Only DG1 <-> Bexio moved to the daily job: a DG1 shop booking into Xero still gets
    "paid" through Xero's webhooks and the five-minute poll."""
    from bridge.sync.polling import poll_all
    from bridge.sync.status_from_ledger import request_daily_status

    live = kiwi_shop
    order = live.control("dg1/tenants/kiwi/orders", json={
        "site": "nz", "items": [{"sku": "FERN-1", "quantity": 1}], "shipments": [],
        "payments": [{"method": "invoice", "status": "pending"}]})
    deadline_wait(live, "kiwi")
    live.run_jobs()
    state = live.control(f"xero/orgs/{live.tenant}/state", method="GET")
    (invoice,) = [i for i in state["invoices"] if i["Type"] == "ACCREC"]
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/approve")
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/pay", json={})
    with live.app.app_context():
        assert request_daily_status() == 0  # not a daily-status pair
        assert poll_all()["connections"] == 1
    live.run_jobs()
    status = next(o for o in live.control("dg1/tenants/kiwi/state", method="GET")["orders"]
                  if o["id"] == order["id"])["status"]
    assert status == "COMPLETED"  # Xero's due date (not on the order) did not stand in the way
