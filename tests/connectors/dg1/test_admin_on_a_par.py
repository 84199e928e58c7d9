"""The DG1 admin on a par with the Bitrix24 app: alerts on every page, the dry-run preview of
an order's Bexio invoice, invoice numbers as links, the frame told the page's height."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import responses

from bridge.dashboard.models import SentAlert
from bridge.domain import Invoice, Line, Party, PartyKind
from bridge.extensions import db
from bridge.messages import N_
from bridge.models import Link, SyncRecord, WorkItem, utcnow
from bridge.stored_messages import key_of
from bridge.sync.preview import Preview

from .conftest import ADMIN_ORIGIN, SITES, sample_order
from .test_web import session_token


@responses.activate
def test_an_invoice_number_links_to_bexio_even_when_dg1_kept_no_url(client, tenant, clock, api):
    order = sample_order(id="6", number="1006", site_id="ch", external_refs={"bexio_invoice_id": "43",
                                                                            "bexio_document_nr": "RE-00043"})
    responses.get(f"{api}/sites/ch/orders", json={"data": [order], "next_cursor": None})
    page = client.get(f"/dg1/orders?s={session_token(client)}")
    assert '/index.php/kb_invoice/show/id/43"' in page.text and ">RE-00043</a>" in page.text


@responses.activate
def test_every_admin_page_shows_the_shops_recent_alerts_with_where_to_act(client, tenant, clock, api, app):
    message = N_("bridge can no longer reach your accounting system: the connection must be renewed.")
    db.session.add(SentAlert(installation_id=tenant.id, cause="needs_reconnect", day=utcnow().date().isoformat(),
                             message=message, message_i18n=key_of(message), channels=""))
    db.session.commit()
    responses.get(f"{api}/sites/ch/orders", json={"data": [], "next_cursor": None})
    responses.get(f"{api}/sites", json={"data": SITES, "next_cursor": None})
    responses.get(f"{api}/sites/ch/products", json={"data": [], "next_cursor": None})
    token = session_token(client)
    for page in ("orders", "products"):
        body = client.get(f"/dg1/{page}?s={token}").text
        assert 'id="alerts"' in body and "the connection must be renewed" in body, page
        assert "/dg1/settings?s=" in body.split('id="alerts"')[1].split("</div>")[0]  # where to act


def test_a_page_without_alerts_has_no_banner(client, tenant, clock, api):
    with responses.RequestsMock() as mocked:
        mocked.get(f"{api}/sites/ch/orders", json={"data": [], "next_cursor": None})
        assert 'id="alerts"' not in client.get(f"/dg1/orders?s={session_token(client)}").text


def test_the_preview_shows_what_a_sync_would_send_and_writes_nothing(client, tenant, clock, monkeypatch):
    asked = []

    def preview(installation, platform_id):
        asked.append(platform_id)
        party = Party(key="c-1", kind=PartyKind.COMPANY, name="Café Alpenblick GmbH")
        invoice = Invoice(key=platform_id, number="1005", issue_date=date(2026, 12, 1), currency="CHF", party=party,
                          lines=[Line(description="Espresso beans", quantity=Decimal("2"), unit_price=Decimal("25.00"),
                                      tax_rate=Decimal("8.1"))])
        return Preview(contact={"name": "Café Alpenblick GmbH", "ledger_id": None, "matched_by": None,
                                "warning": None, "new": True}, invoice=invoice)

    monkeypatch.setattr("bridge.web.dg1.admin.preview_invoice", preview)
    token = session_token(client)
    answer = client.get(f"/dg1/orders/5/preview?s={token}", headers={"HX-Request": "true"})
    assert answer.status_code == 200 and asked == ["ch:5"]  # the launching site's order
    assert answer.text.lstrip().startswith('<tr id="preview-5"')
    assert "Espresso beans" in answer.text and "Café Alpenblick GmbH" in answer.text and "nothing is sent" in answer.text
    assert db.session.query(WorkItem).count() == 0 and db.session.query(SyncRecord).count() == 0
    assert db.session.query(Link).count() == 0
    page = client.get(f"/dg1/orders/5/preview?s={token}")  # without htmx: a page of its own
    assert page.status_code == 200 and "Espresso beans" in page.text and "Back to the orders" in page.text


def test_the_page_tells_only_the_shops_admin_its_height(client, tenant, clock, api):
    with responses.RequestsMock() as mocked:
        mocked.get(f"{api}/sites/ch/orders", json={"data": [], "next_cursor": None})
        body = client.get(f"/dg1/orders?s={session_token(client)}").text
    assert '"bridge:height"' in body and f'var origin = "{ADMIN_ORIGIN}";' in body


def test_an_expired_session_says_so_inside_the_shops_frame_in_its_language(client, tenant, clock, monkeypatch):
    from flask_babel import refresh

    from bridge.connectors.dg1 import session as admin_session

    token = admin_session.start(tenant.id, tenant.account_id, "ch", "admin", "de").token
    monkeypatch.setattr(admin_session, "SESSION_MAX_AGE", -1)
    refresh()
    answer = client.get(f"/dg1/orders?s={token}")
    assert answer.status_code == 401
    assert answer.headers["Content-Security-Policy"] == f"frame-ancestors {ADMIN_ORIGIN}"
    assert "Ihre Sitzung ist abgelaufen" in answer.text
    # A forged token names no shop: framed by no one (test_web.py::test_pages_need_a_valid_session).
