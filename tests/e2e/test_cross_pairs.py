"""The cross pairs, proving the canonical model: a Bitrix24 invoice to Bexio and a DG1
order to Xero, through the same flows as the seeds' pairs, configured per installation
(which ledger it connected, its settings), end to end over real HTTP."""
from __future__ import annotations

from decimal import Decimal

import pytest

from bridge.connectors.bitrix24 import store
from bridge.connectors.dg1.tenants import add_tenant
from bridge.extensions import db
from bridge.models import Installation
from bridge.settings import save_section
from tests.conftest import require
from tests.connectors.bexio.live_support import approve_page, ledger as bexio_ledger, state as bexio_state, submit
from tests.connectors.xero.test_end_to_end import _connect_in_browser, _org
from tests.e2e.test_bitrix24_xero import ACME, deliver_events
from tests.e2e.conftest import Connected
from tests.e2e.test_dg1_bexio_settings import deadline_wait
from tests.support import xero_spec


def test_a_bitrix24_invoice_becomes_a_bexio_invoice(live):
    live.control("bitrix24/settings", json={"allow_insecure_handlers": True})
    auth = live.control(f"bitrix24/portals/{ACME}/install", json={"mode": "page"})["auth"]
    with live.app.app_context():
        installation_id = store.find(auth["member_id"]).id
    browser, page = approve_page(live, installation_id)
    assert submit(live, browser, page, "seeland:101").status_code == 200
    with live.app.app_context():
        installation = db.session.get(Installation, installation_id)
        connection = installation.ledger_connections[0]
        taxes = bexio_ledger(live, Connected(installation_id, connection.id)).tax_codes()
        un81 = next(t.code for t in taxes if t.rate == Decimal("8.1") and t.name.startswith("UN"))
        save_section(installation, "mapping", {"tax_rates": {"8.1": un81}})
        save_section(installation, "bexio", {"language": "de", "currency": "CHF"})
        db.session.commit()
    company = live.control(f"bitrix24/portals/{ACME}/companies", json={"fields": {
        "TITLE": "Zuger Werkstatt AG", "EMAIL": [{"VALUE": "ap@zuger.test", "VALUE_TYPE": "WORK"}]}})
    item = live.control(f"bitrix24/portals/{ACME}/invoices", json={
        "fields": {"title": "Kurs Dezember", "companyId": company["ID"], "accountNumber": "B24-7",
                   "currencyId": "CHF", "closedate": "2026-12-15"},
        "rows": [{"productName": "Kurstag", "price": "1081.00", "quantity": 2, "taxRate": 8.1,
                  "taxIncluded": "N"}]})["item"]
    deliver_events(live)
    (invoice,) = bexio_state(live)["invoices"]
    assert [p["text"] for p in invoice["positions"]] == ["Kurstag"]
    assert Decimal(invoice["total"]) == Decimal("2162.00")
    assert invoice["api_reference"] == f"b24:{auth['member_id']}:SI:{item['id']}"  # the invoice's own key
    contacts = [c for c in bexio_state(live)["contacts"] if c.get("name_1") == "Zuger Werkstatt AG"]
    assert len(contacts) == 1
    deliver_events(live)  # the app's own write-back events: still one invoice
    assert len(bexio_state(live)["invoices"]) == 1


@pytest.fixture
def kiwi_shop(live):
    """A DG1 tenant selling in NZD, connected to the Xero organisation of the sandbox."""
    require(xero_spec.spec_dir() is not None, "Xero specs not found (XERO_SPEC_DIR)")
    live.app.config["DG1_CLOCK"] = live.sandbox.clock.time
    live.control("dg1/tenants", json={"id": "kiwi", "name": "Kiwi Ltd", "sites": [
        {"id": "nz", "currency": "NZD", "prices_include_tax": False, "default_language": "en"}]})
    live.control("dg1/tenants/kiwi/products", json={"site": "nz", "sku": "FERN-1", "name": "Fern print",
                                                    "price": "100.00", "tax_rate": "15.00"})
    with live.app.app_context():
        installation_id = add_tenant("kiwi", api_key="dg1-demo-key-kiwi", webhook_secret="dg1-demo-webhook-kiwi",
                                     launch_secret="dg1-demo-launch-kiwi", name="Kiwi Ltd").id
    _connect_in_browser(live, installation_id, "Bridge Demo (NZ)")
    with live.app.app_context():
        installation = db.session.get(Installation, installation_id)
        save_section(installation, "mapping", {"tax_rates": {"15": "OUTPUT2"}, "default_sales_account": "200",
                                               "shipping_tax": "OUTPUT2"})
        db.session.commit()
    live.tenant = _org(live, "Bridge Demo (NZ)")
    yield live
    live.sandbox.systems["dg1"].reset()


def test_a_dg1_order_becomes_a_xero_invoice(kiwi_shop):
    live = kiwi_shop
    order = live.control("dg1/tenants/kiwi/orders", json={
        "site": "nz", "items": [{"sku": "FERN-1", "quantity": 2}],
        "shipments": [{"method": "Courier", "price": "10.00", "tax_rate": "15.00"}],
        "payments": [{"method": "invoice", "status": "pending"}]})
    deadline_wait(live, "kiwi")
    live.run_jobs()
    state = live.control(f"xero/orgs/{live.tenant}/state", method="GET")
    (invoice,) = [i for i in state["invoices"] if i["Type"] == "ACCREC"]
    assert [line["Description"] for line in invoice["LineItems"]][:1] == ["Fern print"]
    assert Decimal(str(invoice["Total"])) == Decimal(order["totals"]["grand_total"])
    assert invoice["Status"] == "DRAFT" and invoice["CurrencyCode"] == "NZD"
    refs = next(o for o in live.control("dg1/tenants/kiwi/state", method="GET")["orders"]
                if o["id"] == order["id"])["external_refs"]
    assert refs["xero_invoice_id"] == invoice["InvoiceID"]
