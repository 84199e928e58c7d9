"""The real connector against the sandbox Xero over HTTP, under the real limits.

Every exchange the connector makes (identity, /connections, accounting) is checked against
Xero's official OpenAPI specs as it happens, and so is every webhook body the sandbox sent.
"""
from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from html import unescape

import pytest
import requests

from bridge.domain import Invoice, InvoiceStatus, Line, Party, PartyKind, Payment, Person
from bridge.errors import NeedsReconnect
from bridge.extensions import db
from bridge.models import InboxEvent, Installation, LedgerConnection
from bridge.ports import InvoiceWrite
from tests.conftest import require
from tests.support import xero_spec


@pytest.fixture
def checked(monkeypatch):
    """Every session the connector opens validates its traffic; violations are collected."""
    require(xero_spec.spec_dir() is not None, "Xero specs not found (XERO_SPEC_DIR)")
    from bridge.connectors.xero import client, oauth

    exchanges: list[str] = []
    violations: list[str] = []

    def session() -> requests.Session:
        s = requests.Session()

        def hook(response, *args, **kwargs):
            exchanges.append(f"{response.request.method} {response.request.url} -> {response.status_code}")
            try:
                xero_spec.validate_xero_exchange(response.request, response, check_request=True)
            except Exception as exc:  # noqa: BLE001 - reported below with the exchange
                violations.append(f"{exchanges[-1]}: {type(exc).__name__}: {exc}")
            return response
        s.hooks["response"].append(hook)
        return s

    monkeypatch.setattr(oauth, "make_session", session)
    monkeypatch.setattr(client, "make_session", session)
    return {"exchanges": exchanges, "violations": violations}


def _org(live, name: str) -> str:
    return next(o["tenantId"] for o in live.control("xero/orgs", method="GET") if o["name"] == name)


def _connect_in_browser(live, installation_id: int, choose: str) -> requests.Session:
    """What a user does: open settings, Connect, allow two organisations at Xero, pick one."""
    from bridge.web.xero.connect import signed_settings_url

    with live.app.test_request_context():
        settings_url = live.app_url + signed_settings_url(installation_id)
    browser = requests.Session()
    page = browser.get(settings_url, timeout=10)
    assert page.status_code == 200 and "Not connected" in page.text
    connect = unescape(re.search(r'href="([^"]*/oauth/xero/connect[^"]*)"', page.text).group(1))
    consent = browser.get(live.app_url + connect, timeout=10)  # -> Xero's consent page
    assert "Allow access" in consent.text
    form = {"consent": re.search(r'name="consent" value="([^"]+)"', consent.text).group(1), "action": "allow",
            "tenant": re.findall(r'name="tenant" value="([^"]+)"', consent.text)}
    chooser = browser.post(consent.url, data=form, timeout=10)  # -> our callback -> settings
    assert chooser.status_code == 200, chooser.text
    assert "Choose the organisation" in chooser.text
    sig = re.search(r'name="sig" value="([^"]+)"', chooser.text).group(1)
    done = browser.post(f"{live.app_url}/oauth/xero/choose",  # noqa: S113
                        data={"installation": installation_id, "sig": sig, "tenant_id": _org(live, choose)}, timeout=10)
    assert done.status_code == 200 and f"Connected to {choose}" in done.text
    return browser


def _party(key: str = "b24:member-e2e:CO:12", **kwargs) -> Party:
    values = dict(key=key, kind=PartyKind.COMPANY, name="Acme Ltd", email="ap@acme.test",
                  contact_persons=[Person("Ann", "Doe", "ann@acme.test")])
    values.update(kwargs)
    return Party(**values)


def test_connect_sync_approve_pay_and_webhooks_against_the_sandbox(live, checked):
    from bridge.connectors.xero.connection import build

    nz = _org(live, "Bridge Demo (NZ)")
    with live.app.app_context():
        installation = Installation(platform="bitrix24", account_id="member-e2e", domain="e2e.bitrix24.com")
        db.session.add(installation)
        db.session.commit()
        installation_id = installation.id
    browser = _connect_in_browser(live, installation_id, "Bridge Demo (NZ)")

    with live.app.app_context():
        installation = db.session.get(Installation, installation_id)
        connection = db.session.scalars(db.select(LedgerConnection)).one()
        assert (connection.organisation_id, connection.active) == (nz, True)
        connection_ref = connection.connection_ref
        ledger = build(installation)
        started = datetime.now(timezone.utc) - timedelta(seconds=2)

        # Someone else called "Acme Ltd" already exists in Xero, with another e-mail.
        ledger.client.save_contacts([{"Name": "Acme Ltd", "EmailAddress": "boss@other.test"}], "seed-1", create=True)
        codes = {t.code: t for t in ledger.tax_codes()}
        assert codes["OUTPUT2"].rate == Decimal("15") and "INPUT2" not in codes  # revenue rates only
        assert "200" in {a.code for a in ledger.sales_accounts()}

        match = ledger.match_party(_party(), None)
        assert match.ledger_id is None and match.name == "Acme Ltd (ap@acme.test)" and match.warning
        saved = ledger.save_party(_party(), match, "party-1")
        assert saved.ok, saved.error
        # A second sync finds the same contact by its ContactNumber.
        again = ledger.match_party(_party(), None)
        assert (again.ledger_id, again.matched_by) == (saved.ledger_id, "external_key")

        invoice = Invoice(key="b24:member-e2e:INV:7", number="B24-7", issue_date=date.today(), currency="NZD",
                          party=_party(), due_date=date.today() + timedelta(days=14),
                          lines=[Line("Widget", Decimal("3"), Decimal("19.99"), tax_rate=Decimal("15"),
                                      ledger_tax_code="OUTPUT2", ledger_account_code="200"),
                                 Line("Delivery", Decimal("1"), Decimal("4.3333"), tax_rate=Decimal("15"),
                                      ledger_tax_code="OUTPUT2", ledger_account_code="200")])
        preview = ledger.preview_invoice(invoice, saved.ledger_id)
        [created] = ledger.save_invoices([InvoiceWrite(invoice, saved.ledger_id, None, "inv-7-a")])
        assert created.ok, created.error and created.status == InvoiceStatus.DRAFT
        [document] = ledger.get_invoices([created.ledger_id])
        assert document.total == Decimal(preview["expected_totals"]["Total"]) == Decimal("73.95")
        assert document.invoice.lines[1].unit_price == Decimal("4.3333")  # unitdp=4 kept it
        assert ledger.find_invoice(invoice).ledger_id == created.ledger_id

        # A retry after the idempotency window cannot make a second invoice: PUT fails on the number.
        [duplicate] = ledger.save_invoices([InvoiceWrite(invoice, saved.ledger_id, None, "inv-7-b")])
        assert not duplicate.ok and duplicate.error.code == "already_exists"

        issued = ledger.issue_invoice(document)
        assert issued.ok and issued.status == InvoiceStatus.AUTHORISED
        paid = ledger.record_payment(document, Payment(Decimal("73.95"), date.today(), "NZD",
                                                       ledger_account_code="090"), "pay-7-a")
        assert paid.ok, paid.error
        changed = {d.ledger_id: d for d in ledger.changed_invoices(started)}
        assert changed[created.ledger_id].status == InvoiceStatus.PAID
        assert changed[created.ledger_id].amount_due == 0
        cancel = None
        try:
            ledger.cancel_invoice(changed[created.ledger_id], void_allowed=True)
        except Exception as exc:  # noqa: BLE001
            cancel = exc
        assert cancel is not None and cancel.code == "has_payments"

    deliveries = _delivered(live)
    assert deliveries and all(a["status"] == 200 for d in deliveries for a in d["attempts"])
    for delivery in deliveries:
        xero_spec.validate_xero_webhook_body(delivery["body"])
    with live.app.app_context():
        topics = {(e.topic, e.object_key) for e in db.session.scalars(db.select(InboxEvent))}
    assert ("INVOICE.CREATE", f"invoice:{created.ledger_id}") in topics
    assert any(t.startswith("CONTACT.") and key == f"contact:{saved.ledger_id}" for t, key in topics)

    intent = live.control("xero/webhooks/intent", json={"url": f"{live.app_url}/hooks/xero"})
    assert intent["ok"], intent

    # Disconnect removes the connection at Xero (by connection id) and revokes the tokens.
    page = _settings_page(browser, live, installation_id)
    sig = re.search(r'name="sig" value="([^"]+)"', page).group(1)
    gone = browser.post(f"{live.app_url}/oauth/xero/disconnect", data={"installation": installation_id, "sig": sig})
    assert "Disconnected from Bridge Demo (NZ)" in gone.text and "Not connected" in gone.text
    assert any(re.search(rf"DELETE .*/connections/{connection_ref} -> 204", e) for e in checked["exchanges"])
    assert any(re.search(r"POST .*/connect/revocation -> 200", e) for e in checked["exchanges"])

    assert checked["exchanges"] and not checked["violations"], "\n".join(checked["violations"])
    assert any("/connect/token" in e for e in checked["exchanges"])
    assert any("/connections" in e.lower() for e in checked["exchanges"])


def _delivered(live) -> list[dict]:
    """Every webhook the sandbox queued, once its background sender is done with them."""
    for _ in range(100):
        live.control("xero/webhooks/flush")
        log = live.control("xero/webhooks/deliveries", method="GET")
        if not log["pending"] and all(d["delivered"] for d in log["deliveries"]):
            return log["deliveries"]
        time.sleep(0.05)
    raise AssertionError(f"webhooks still undelivered: {log}")


def _settings_page(browser, live, installation_id) -> str:
    from bridge.web.xero.connect import signed_settings_url
    with live.app.test_request_context():
        return browser.get(live.app_url + signed_settings_url(installation_id), timeout=10).text


def test_expired_tokens_refresh_and_a_dead_grant_asks_for_reconnect(live, checked):
    from bridge.connectors.xero.connection import build
    from bridge.vault import vault_for_app

    uk = _org(live, "Bridge Demo (UK)")
    minted = live.control("xero/tokens", json={"tenant_ids": [uk]})
    with live.app.app_context():
        installation = Installation(platform="dg1", account_id="tenant-e2e")
        db.session.add(installation)
        db.session.flush()
        credential_id = vault_for_app(live.app).create("xero", {k: minted[k] for k in
                                                                ("access_token", "refresh_token", "expires_in")})
        db.session.add(LedgerConnection(installation_id=installation.id, ledger="xero", organisation_id=uk,
                                        organisation_name="Bridge Demo (UK)", credential_id=credential_id,
                                        connection_ref=minted["connections"][0]["id"]))
        db.session.commit()
        ledger = build(installation)
        assert ledger.client.organisation()["Name"] == "Bridge Demo (UK)"

        # 31 minutes later at Xero, the access token is dead although bridge's clock says
        # otherwise: the 401 triggers one refresh, and the call goes through.
        live.control("clock", json={"advance": 31 * 60})
        assert "GBP" in {c["Code"] for c in ledger.client.currencies()}
        assert vault_for_app(live.app).read(credential_id).data["refresh_token"] != minted["refresh_token"]

        # 61 days on, the refresh token has expired: needs reconnect, shown on the connection.
        live.control("clock", json={"advance": 61 * 86400})
        with pytest.raises(NeedsReconnect):
            build(installation).client.currencies()
        db.session.expire_all()
        assert db.session.scalars(db.select(LedgerConnection)).one().health == "needs_reconnect"
    assert not checked["violations"], "\n".join(checked["violations"])
