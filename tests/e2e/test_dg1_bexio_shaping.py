"""DG1 -> Bexio, end to end over real HTTP: the Bexio invoice of an order carries the title,
header and footer of the user's templates (issue 20 item 5), and none of them when the
templates are empty (Bexio's own texts stay)."""
from __future__ import annotations

from html import unescape

import requests

from bridge.connectors.dg1.tenants import find_tenant
from bridge.extensions import db
from bridge.settings import get_section, save_section
from tests.connectors.bexio.live_support import state as bexio_state
from tests.connectors.dg1.test_live import place_order, wait_delivered
from tests.e2e.test_dg1_bexio_settings import TIMEOUT, form, open_page, solo, taxes_by_rate  # noqa: F401 (solo: a fixture)


def _templates(live, **values) -> None:
    with live.app.app_context():
        save_section(find_tenant("demo"), "document", values)
        db.session.commit()


def test_an_orders_bexio_invoice_carries_the_users_title_header_and_footer(shop):
    _templates(shop, title_template="Rechnung {number}", header_template="Guten Tag {customer}",
               footer_template="Danke für Ihre Bestellung vom {date}.")
    order = place_order(shop)
    wait_delivered(shop, 1)
    shop.run_jobs()
    (invoice,) = bexio_state(shop)["invoices"]
    assert invoice["title"] == f"Rechnung {order['number']}"
    customer = order["customer"]["company"] or f"{order['customer']['first_name']} {order['customer']['last_name']}"
    assert invoice["header"] == f"Guten Tag {customer}"
    assert invoice["footer"].startswith("Danke für Ihre Bestellung vom 20")


def test_without_templates_the_invoice_keeps_bexios_own_header_and_footer(shop):
    place_order(shop)
    wait_delivered(shop, 1)
    shop.run_jobs()
    (invoice,) = bexio_state(shop)["invoices"]
    assert invoice["title"].startswith("Bestellung")
    assert not invoice.get("header") and not invoice.get("footer")


def test_the_dg1_admin_saves_the_templates_and_refuses_an_unknown_placeholder_under_its_field(solo):
    live, installation_id = solo
    taxes = taxes_by_rate(live, installation_id)
    page = open_page(live, "solo", "settings")
    assert 'name="document.footer_template"' in page.text
    refused = requests.post(f"{live.app_url}/dg1/settings", timeout=TIMEOUT, data=form(
        page, taxes, **{"document.title_template": "Rechnung {nummer}"}))
    assert refused.status_code == 422
    error = unescape(refused.text).split('id="err-document-title_template">', 1)[1].split("</p>", 1)[0]
    assert "nummer" in error and "{number}" in error
    page = open_page(live, "solo", "settings")
    saved = requests.post(f"{live.app_url}/dg1/settings", timeout=TIMEOUT, allow_redirects=False, data=form(
        page, taxes, **{"document.title_template": "Rechnung {number}", "document.footer_template": "Danke!"}))
    assert saved.status_code == 302, saved.text[:2000]
    with live.app.app_context():
        document = get_section(find_tenant("solo"), "document")
    assert (document.title_template, document.header_template, document.footer_template) == \
        ("Rechnung {number}", "", "Danke!")


def test_a_template_change_is_no_conflict_for_an_issued_invoice(shop):
    """A change of a document setting is not an edit (docs/sync.md, "What the customer
    sees"): the issued Bexio invoice keeps the header it was issued with, and the order's next
    event shows no conflict."""
    from sqlalchemy import select

    from bridge.models import SyncRecord

    _templates(shop, header_template="Guten Tag {customer}")
    order = place_order(shop, payments=[])  # paid later: the invoice stays issued, open
    wait_delivered(shop, 1)
    shop.run_jobs()
    (issued,) = bexio_state(shop)["invoices"]
    assert issued["kb_item_status_id"] == 8 and issued["header"].startswith("Guten Tag")
    _templates(shop, header_template="Hallo {customer}")  # the admin rewords the header
    shop.control(f"dg1/tenants/demo/orders/{order['id']}/ship")  # the order's next event
    wait_delivered(shop, 2)
    shop.run_jobs()
    (after,) = bexio_state(shop)["invoices"]
    assert after["header"] == issued["header"] and after["updated_at"] == issued["updated_at"]
    with shop.app.app_context():
        last = db.session.scalars(select(SyncRecord).where(SyncRecord.object_id == f"ch:{order['id']}")
                                  .order_by(SyncRecord.id.desc())).first()
        assert (last.state, last.flow) == ("skipped", "invoice_to_ledger"), (last.state, last.error_message)
        assert "keeps what it was approved with" in last.warning
