"""The DG1 "Bexio integration" settings page and what its settings do, end to end over real
HTTP: saved whole or not at all, the currency checked against every site, taxes of both
periods (7.7 % and 8.1 %) mapped, automatic order sync off -> only manual syncs; a DG1
cancellation cancels an unpaid Bexio invoice and leaves a paid one to a person; the NOTES'
rounding sample leaves a fully paid order paid."""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from html import unescape

import pytest
import requests
from sqlalchemy import select

from bridge.connectors.dg1.tenants import add_tenant, find_tenant
from bridge.extensions import db
from bridge.models import Installation, SyncRecord
from bridge.settings import get_section, save_section
from tests.connectors.bexio.live_support import approve_page, ledger as bexio_ledger, state as bexio_state, submit
from tests.connectors.dg1.test_live import order_state, place_order, wait_delivered
from tests.e2e.conftest import Connected

TIMEOUT = 10


@dataclass
class Page:
    url: str
    text: str
    token: str
    csrf: str


def open_page(live, tenant: str, page: str, site: str = "ch") -> Page:
    """What the DG1 admin menu frames: the signed launch URL, followed."""
    url = live.control(f"dg1/launch-url?tenant={tenant}&site={site}&page={page}&user=admin", method="GET")["url"]
    answer = requests.get(url, timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text[:300]
    return Page(answer.url, answer.text, unescape(re.search(r'name="s" value="([^"]+)"', answer.text).group(1)),
                re.search(r'name="csrf" value="([^"]+)"', answer.text).group(1))


def taxes_by_rate(live, installation_id: int) -> dict[str, str]:
    """Bexio's 'UN' sales tax per rate: 7.7 (to 2023) and 8.1 (from 2024)."""
    with live.app.app_context():
        installation = db.session.get(Installation, installation_id)
        connection = installation.ledger_connections[0]
        taxes = bexio_ledger(live, Connected(installation_id, connection.id)).tax_codes()
    return {format(t.rate.normalize(), "f"): t.code for t in taxes if t.name.startswith("UN")}


def form(page: Page, taxes: dict[str, str], **changes) -> dict[str, str]:
    data = {"s": page.token, "csrf": page.csrf, "version": re.search(r'name="version" value="([^"]*)"', page.text).group(1),
            "general.enabled": "on", "invoices.create_payment": "on", "invoices.send_by_email": "on",
            "daily.sync_status": "on", "daily.sync_products": "on", "daily.sync_stock": "on",
            "daily.reconciliation_report": "on",
            "bexio.user_id": "101", "bexio.language": "de", "bexio.currency": "CHF",
            "mapping.shipping_tax": taxes["8.1"], "mapping.payment_fee_tax": taxes["8.1"],
            "tax_rate.0": "8.10", "tax_code.0": taxes["8.1"], "tax_rate.1": "7.70", "tax_code.1": taxes["7.7"],
            "tax_rate.2": "", "tax_code.2": ""}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def solo(live):
    """A DG1 tenant whose two sites both sell in CHF, connected to the Bexio company
    ``seeland`` through the real consent page, nothing configured yet."""
    live.app.config["DG1_CLOCK"] = live.sandbox.clock.time
    live.control("dg1/tenants", json={"id": "solo", "name": "Solo AG", "sites": [
        {"id": "ch", "currency": "CHF", "prices_include_tax": True, "default_language": "de"},
        {"id": "li", "currency": "CHF", "prices_include_tax": True, "default_language": "de"}]})
    live.control("dg1/tenants/solo/products", json={"site": "ch", "sku": "BOOK-1", "name": "Book", "price": "32.40",
                                                    "tax_rate": "8.10", "is_stock_managed": True, "stock_quantity": 5})
    with live.app.app_context():
        installation_id = add_tenant("solo", api_key="dg1-demo-key-solo", webhook_secret="dg1-demo-webhook-solo",
                                     launch_secret="dg1-demo-launch-solo", name="Solo AG").id
    browser, page = approve_page(live, installation_id)
    assert submit(live, browser, page, "seeland:101").status_code == 200
    yield live, installation_id
    live.sandbox.systems["dg1"].reset()


def sections(live, installation_id: int) -> dict:
    with live.app.app_context():
        installation = db.session.get(Installation, installation_id)
        return {name: get_section(installation, name).model_dump(mode="json")
                for name in ("general", "invoices", "mapping", "bexio", "daily")} | {
            "version": installation.settings.version if installation.settings else None}


def test_the_settings_page_saves_the_seeds_settings_whole(solo):
    live, installation_id = solo
    page = open_page(live, "solo", "settings")
    assert page.text.count('<option value="') > 10  # users, languages, currencies, taxes from Bexio
    connect = re.search(r'<a class="button" href="([^"]+)" target="_top">Authenticate with Bexio', page.text)
    assert connect and "/oauth/bexio/connect?installation=" in unescape(connect.group(1))  # top level, not the iframe
    taxes = taxes_by_rate(live, installation_id)
    assert "UN77" in page.text and "UN81" in page.text  # both periods offered

    saved = requests.post(f"{live.app_url}/dg1/settings", data=form(page, taxes, **{"general.automatic_sync": None}),
                          timeout=TIMEOUT, allow_redirects=False)
    assert saved.status_code == 302, saved.text[:2000]
    stored = sections(live, installation_id)
    assert stored["general"] == {"enabled": True, "automatic_sync": False}
    assert stored["mapping"]["tax_rates"] == {"8.1": taxes["8.1"], "7.7": taxes["7.7"]}
    assert stored["bexio"]["user_id"] == 101 and stored["bexio"]["currency"] == "CHF"
    assert stored["daily"] == {"sync_status": True, "sync_products": True, "sync_stock": True,
                               "reconciliation_report": True}
    assert stored["invoices"]["create_payment"] and stored["invoices"]["void_authorised_on_cancel"]

    # One wrong field anywhere: nothing is saved, and the error sits next to it.
    page = open_page(live, "solo", "settings")
    refused = requests.post(f"{live.app_url}/dg1/settings", timeout=TIMEOUT, data=form(
        page, taxes, **{"tax_code.0": taxes["7.7"], "daily.sync_stock": None}))
    assert refused.status_code == 422
    assert "is 7.7 %, not 8.1 %: the tax value must be the same in DG1 and Bexio" in unescape(refused.text)
    assert sections(live, installation_id) == stored
    # A form from before the last save is refused rather than overwriting it.
    stale = requests.post(f"{live.app_url}/dg1/settings", timeout=TIMEOUT,
                          data=form(page, taxes, version=str(stored["version"] - 1)))
    assert stale.status_code == 422 and "changed meanwhile" in stale.text
    # A forged CSRF token is refused.
    assert requests.post(f"{live.app_url}/dg1/settings", timeout=TIMEOUT,
                         data=form(page, taxes, csrf="0" * 64)).status_code == 400


def test_a_currency_other_than_a_sites_is_refused_naming_the_site(shop):
    with shop.app.app_context():
        installation_id = find_tenant("demo").id
    before = sections(shop, installation_id)
    page = open_page(shop, "demo", "settings")
    refused = requests.post(f"{shop.app_url}/dg1/settings", timeout=TIMEOUT,
                            data=form(page, taxes_by_rate(shop, installation_id)))
    assert refused.status_code == 422
    assert "The site" in refused.text and "(eu) sells in EUR, not CHF" in unescape(refused.text)
    assert sections(shop, installation_id) == before


def test_automatic_order_sync_off_leaves_orders_to_the_manual_action(solo):
    live, installation_id = solo
    page = open_page(live, "solo", "settings")
    taxes = taxes_by_rate(live, installation_id)
    assert requests.post(f"{live.app_url}/dg1/settings", timeout=TIMEOUT, allow_redirects=False,
                         data=form(page, taxes, **{"general.automatic_sync": None})).status_code == 302
    order = live.control("dg1/tenants/solo/orders", json={"site": "ch", "items": [{"sku": "BOOK-1", "quantity": 1}],
                                                          "payments": [{"method": "invoice", "status": "pending"}]})
    deadline_wait(live, "solo")
    live.run_jobs()
    assert bexio_state(live)["invoices"] == []
    orders = open_page(live, "solo", "orders")
    assert "Automatic order sync is switched off" in orders.text
    answer = requests.post(f"{live.app_url}/dg1/orders/{order['id']}/sync", timeout=TIMEOUT, allow_redirects=False,
                           data={"s": orders.token, "csrf": orders.csrf})
    assert answer.status_code == 302
    live.run_jobs()
    (invoice,) = bexio_state(live)["invoices"]
    assert invoice["api_reference"] == f"dg1:solo:ch:{order['id']}"
    orders = open_page(live, "solo", "orders")
    assert invoice["document_nr"] in orders.text and "succeeded" in orders.text


def deadline_wait(live, tenant: str) -> None:
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = live.control(f"dg1/deliveries?tenant={tenant}", method="GET")["deliveries"]
        if found and all(d["status"] == "succeeded" for d in found):
            return
        time.sleep(0.05)
    raise AssertionError("the webhook was not delivered")


def test_a_dg1_cancellation_cancels_the_unpaid_invoice_and_leaves_a_paid_one_to_a_person(shop):
    with shop.app.app_context():
        installation = find_tenant("demo")
        # What the settings page stores for DG1 (asserted above): cancel unpaid issued invoices.
        save_section(installation, "invoices", {"create_payment": True, "send_by_email": False,
                                                "void_authorised_on_cancel": True})
        db.session.commit()
    unpaid = place_order(shop, payments=[])
    paid = place_order(shop)
    wait_delivered(shop, 2)
    shop.run_jobs()
    by_ref = {i["api_reference"]: i for i in bexio_state(shop)["invoices"]}
    assert by_ref[f"dg1:demo:ch:{unpaid['id']}"]["kb_item_status_id"] == 8
    assert by_ref[f"dg1:demo:ch:{paid['id']}"]["kb_item_status_id"] == 9
    shop.control(f"dg1/tenants/demo/orders/{unpaid['id']}/cancel")
    shop.control(f"dg1/tenants/demo/orders/{paid['id']}/cancel")
    wait_delivered(shop, 4)
    shop.run_jobs()
    by_ref = {i["api_reference"]: i for i in bexio_state(shop)["invoices"]}
    assert by_ref[f"dg1:demo:ch:{unpaid['id']}"]["kb_item_status_id"] == 19  # cancelled
    assert by_ref[f"dg1:demo:ch:{paid['id']}"]["kb_item_status_id"] == 9  # left paid
    with shop.app.app_context():
        record = db.session.scalars(select(SyncRecord).where(
            SyncRecord.flow == "invoice_cancel", SyncRecord.object_id == f"ch:{paid['id']}")).one()
        assert record.state == "conflict" and "payments on it" in record.error_message
    assert order_state(shop, paid["id"])["status"] == "CANCELLED"


def test_the_notes_rounding_sample_leaves_a_fully_paid_order_paid(shop):
    # NOTES §8.1: 5 x 3.56 net, tax on top; at today's 8.1 %: 17.80 + 1.4418 = 19.2418, the
    # shop charges 19.24 and Bexio totals 19.25 (rounded to 0.05). Paid in full, never "partial".
    shop.control("dg1/tenants/demo/products", json={"site": "pro", "sku": "SCREW-5", "name": "Schrauben",
                                                    "price": "3.56", "tax_rate": "8.10"})
    order = place_order(shop, site="pro", items=[{"sku": "SCREW-5", "quantity": 5}], shipments=[],
                        payments=[{"method": "card", "status": "captured"}])
    wait_delivered(shop, 1)
    shop.run_jobs()
    (invoice,) = bexio_state(shop)["invoices"]
    assert Decimal(order["totals"]["grand_total"]) == Decimal("19.24")
    assert Decimal(invoice["total"]) == Decimal("19.25")
    assert invoice["kb_item_status_id"] == 9  # paid, not partial (16)


def test_status_sync_off_leaves_a_paid_order_as_it_is(shop):
    from bridge.sync.status_from_ledger import request_daily_status, status_request

    with shop.app.app_context():
        save_section(find_tenant("demo"), "daily", {"sync_status": False})
        db.session.commit()
    order = place_order(shop, payments=[])
    wait_delivered(shop, 1)
    shop.run_jobs()
    (invoice,) = bexio_state(shop)["invoices"]
    shop.control(f"bexio/companies/seeland/invoices/{invoice['id']}/mark_paid")
    with shop.app.app_context():
        assert request_daily_status() == 0  # switched off: no daily run at all
        # A run queued before it was switched off says why and moves nothing.
        from bridge.engine import request_work

        request_work(status_request(find_tenant("demo").id))
        db.session.commit()
    shop.run_jobs()
    assert order_state(shop, order["id"])["status"] != "COMPLETED"
    with shop.app.app_context():
        record = db.session.scalars(select(SyncRecord).where(SyncRecord.flow == "status_from_ledger")).one()
        assert record.state == "skipped" and "Status sync is switched off" in record.warning
