"""End to end against the sandbox DG1 over real HTTP: webhooks in, API calls out, the
admin menu's launch, and stock across sites."""
from __future__ import annotations

import re
import time
from decimal import Decimal
from html import unescape

import pytest
import requests
from sqlalchemy import select

from bridge.connectors.dg1.demo import seed_demo_tenant
from bridge.connectors.dg1.platform import DG1Platform
from bridge.connectors.dg1.tenants import find_tenant
from bridge.domain import InvoiceStatus, LineKind, StockLevel
from bridge.extensions import db
from bridge.models import InboxEvent, WorkItem
from bridge.ports import LedgerDocument


@pytest.fixture
def dg1(live):
    """The sandbox's tenant ``demo`` registered in bridge as the demo does; bridge's DG1
    clock is the sandbox's, so moving the sandbox clock keeps webhooks fresh."""
    live.app.config["DG1_CLOCK"] = live.sandbox.clock.time
    with live.app.app_context():
        list(seed_demo_tenant())
    yield live
    live.sandbox.systems["dg1"].reset()  # stops pending webhook retries


@pytest.fixture
def test_flows(stand_in_flows):
    """Stand-ins for the sync layer's flows: they record what they were asked to do."""
    recorded = stand_in_flows("invoice_to_ledger", "invoice_cancel")

    return lambda: [(flow, key) for flow, key, _ in recorded]


def deliveries(live) -> list[dict]:
    return live.control("dg1/deliveries?tenant=demo", method="GET")["deliveries"]


def wait_delivered(live, count: int, status: str = "succeeded") -> list[dict]:
    """Wait until ``count`` webhook deliveries reached ``status`` (they are sent from the
    sandbox's background thread)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [d for d in deliveries(live) if d["status"] == status]
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"expected {count} deliveries {status}, log: {deliveries(live)}")


def place_order(live, **spec) -> dict:
    body = {"site": "ch", "items": [{"sku": "MUG-01", "quantity": 2}],
            "shipments": [{"method": "Post Priority", "price": "9.00", "tax_rate": "8.10"}],
            "payments": [{"method": "card", "status": "captured", "fee_amount": "1.50", "fee_tax_rate": "8.10"}],
            **spec}
    return live.control("dg1/tenants/demo/orders", json=body)


def order_state(live, order_id: str) -> dict:
    state = live.control("dg1/tenants/demo/state", method="GET")
    return next(o for o in state["orders"] if o["id"] == order_id)


def platform(live) -> DG1Platform:
    return DG1Platform.build(find_tenant("demo"))


def test_a_placed_order_reaches_the_inbox_and_becomes_invoice_work(dg1, test_flows):
    order = place_order(dg1)
    wait_delivered(dg1, 1)
    with dg1.app.app_context():
        (event,) = db.session.scalars(select(InboxEvent)).all()
        assert (event.topic, event.object_key) == ("order.placed", f"order:ch:{order['id']}")
    dg1.run_jobs()
    assert test_flows() == [("invoice_to_ledger", f"order:ch:{order['id']}")]
    with dg1.app.app_context():
        invoice = platform(dg1).get_invoice(f"ch:{order['id']}")
    assert invoice.key == f"dg1:demo:ch:{order['id']}" and invoice.status is InvoiceStatus.PAID
    kinds = [(line.kind, line.sku) for line in invoice.lines]
    assert kinds == [(LineKind.PRODUCT, "MUG-01"), (LineKind.SHIPPING, None), (LineKind.PAYMENT_FEE, None)]
    assert invoice.prices_include_tax is True
    assert sum(p.amount for p in invoice.payments) == Decimal(order["totals"]["grand_total"])


def test_a_resent_delivery_is_stored_once_and_a_cancellation_asks_for_the_cancellation_flow(dg1, test_flows):
    order = place_order(dg1, payments=[{"method": "invoice", "status": "pending"}])
    (placed,) = wait_delivered(dg1, 1)
    dg1.control(f"dg1/deliveries/{placed['delivery_id']}/resend")
    wait_delivered(dg1, 1)
    dg1.control(f"dg1/tenants/demo/orders/{order['id']}/cancel")
    wait_delivered(dg1, 2)
    with dg1.app.app_context():
        assert len(db.session.scalars(select(InboxEvent)).all()) == 2
    dg1.run_jobs()
    assert sorted(test_flows()) == [("invoice_cancel", f"order:ch:{order['id']}"),
                                  ("invoice_to_ledger", f"order:ch:{order['id']}")]


def test_paid_in_the_ledger_completes_the_order_and_shows_the_invoice_on_it(dg1, test_flows):
    order = place_order(dg1, payments=[{"method": "invoice", "status": "pending"}])
    pid = f"ch:{order['id']}"
    with dg1.app.app_context():
        adapter = platform(dg1)
        adapter.set_ledger_reference(pid, LedgerDocument(ledger_id="42", number="RE-00042",
                                                         status=InvoiceStatus.AUTHORISED,
                                                         url="https://office.bexio.com/kb_invoice/42"))
        adapter.set_invoice_status(pid, InvoiceStatus.PAID)
        adapter.set_invoice_status(pid, InvoiceStatus.PAID)  # a retry: a no-op in DG1
    state = order_state(dg1, order["id"])
    assert state["status"] == "COMPLETED"
    assert state["external_refs"] == {"bexio_invoice_id": "42", "bexio_document_nr": "RE-00042",
                                      "bexio_invoice_url": "https://office.bexio.com/kb_invoice/42"}
    # Our own status change comes back as order.updated, verified and stored like any event.
    assert "order.updated" in {d["topic"] for d in wait_delivered(dg1, 2)}


def test_the_admin_menu_of_the_sandbox_opens_bridges_orders_page_with_the_bexio_link(dg1):
    order = place_order(dg1)
    with dg1.app.app_context():
        platform(dg1).set_ledger_reference(f"ch:{order['id']}", LedgerDocument(
            ledger_id="7", number="RE-00007", status=InvoiceStatus.AUTHORISED, url="https://office.bexio.com/7"))
    menu = requests.get(f"{dg1.sandbox_url}/admin.dg1.ch/demo/bexio/orders?site=ch", timeout=10)
    src = unescape(re.search(r'<iframe[^>]*src="([^"]+)"', menu.text).group(1))
    assert src.startswith(f"{dg1.app_url}/dg1/launch?")
    page = requests.get(src, timeout=10)
    assert page.status_code == 200, page.text
    assert page.headers["Content-Security-Policy"] == f"frame-ancestors {dg1.sandbox_url}"
    assert "X-Frame-Options" not in page.headers
    assert "RE-00007" in page.text and 'href="https://office.bexio.com/7"' in page.text
    # The same URL, forged for another site, is refused.
    assert requests.get(src.replace("site=ch", "site=pro"), timeout=10).status_code == 401


def test_products_page_from_the_menu_warns_about_the_shared_sku(dg1):
    menu = requests.get(f"{dg1.sandbox_url}/admin.dg1.ch/demo/bexio/products?site=ch", timeout=10)
    src = unescape(re.search(r'<iframe[^>]*src="([^"]+)"', menu.text).group(1))
    page = requests.get(src, timeout=10)
    assert page.status_code == 200
    assert "TEA-100: sites ch, pro" in page.text


def test_stock_by_sku_is_applied_to_every_site_with_that_sku(dg1):
    with dg1.app.app_context():
        results = platform(dg1).set_stock([StockLevel(quantity=Decimal("42"), sku="TEA-100")])
    assert results[0].ok and results[0].ledger_id == "ch,pro"
    products = dg1.control("dg1/tenants/demo/state", method="GET")["products"]
    tea = {p["site_id"]: p["stock_quantity"] for p in products if p["sku"] == "TEA-100"}
    assert tea == {"ch": 42, "pro": 42}
    assert next(p for p in products if p["sku"] == "MUG-01")["stock_quantity"] != 42


def test_a_lost_webhook_is_found_by_the_reconcile_poll(dg1):
    before = dg1.sandbox.clock.now()
    dg1.control("dg1/tenants/demo/webhooks", json={"drop_next": 1})
    order = place_order(dg1)
    with dg1.app.app_context():
        assert db.session.scalars(select(InboxEvent)).all() == []
        changed = dict(platform(dg1).changed_invoices(before.replace(microsecond=0)))
    assert f"ch:{order['id']}" in changed


def test_webhooks_are_checked_against_bridges_clock(dg1, test_flows):
    """With bridge's clock behind DG1's by an hour, DG1's webhooks look replayed and are
    refused; DG1 retries them, and once the clocks agree the retry is accepted."""
    dg1.app.config["DG1_CLOCK"] = time.time
    dg1.control("clock", json={"advance": 3600})
    order = place_order(dg1)
    wait_delivered(dg1, 1, status="retrying")
    (refused,) = deliveries(dg1)
    assert refused["attempts"][0]["status_code"] == 401
    dg1.app.config["DG1_CLOCK"] = dg1.sandbox.clock.time
    dg1.control("clock", json={"advance": 60})  # the first retry is due after one minute
    dg1.control("dg1/deliveries/run")
    wait_delivered(dg1, 1)
    dg1.run_jobs()
    assert test_flows() == [("invoice_to_ledger", f"order:ch:{order['id']}")]
    with dg1.app.app_context():
        assert db.session.scalars(select(WorkItem.state)).all() == ["idle"]
