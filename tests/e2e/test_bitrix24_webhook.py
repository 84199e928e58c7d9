"""Webhook mode end to end over real HTTP: a self-hosted portal connected by an inbound
webhook, set up from docs/bitrix24.md alone (``flask bitrix24 webhook URL``, then
``flask xero settings-link ID``, ``flask bitrix24 settings ID mapping JSON``). The command creates the "Sync with" field; changes are
polled (no event can be bound by a webhook); Xero's sent and paid come back."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
import requests
from markupsafe import escape
from sqlalchemy import select

from bridge.extensions import db
from bridge.messages import render
from bridge.models import Cursor, Installation, SyncRecord
from bridge.sandbox.xero import seed as xero_seed
from tests.conftest import require
from tests.connectors.xero.test_end_to_end import _connect_in_browser, _org
from tests.e2e.conftest import ACME
from tests.e2e.old_invoices import failures, new_old_invoice, new_smart_invoice, old_invoice, xero_flush, xero_invoices
from tests.e2e.test_bitrix24_xero_parties import imported, seed_xero_contacts
from tests.support import xero_spec

WEBHOOK_SCOPES = ["crm", "catalog", "userfieldconfig"]


def connect_webhook(live, invoices: str = "smart") -> str:
    """What docs/bitrix24.md tells a self-hosted administrator to do."""
    require(xero_spec.spec_dir() is not None, "Xero specs not found (XERO_SPEC_DIR)")
    live.control(f"bitrix24/portals/{ACME}/settings", json={"invoices": invoices})
    url = live.control(f"bitrix24/portals/{ACME}/webhooks", json={"secret": "selfhostedhook1", "scopes": WEBHOOK_SCOPES})
    out = live.app.test_cli_runner().invoke(args=["bitrix24", "webhook", url["url"]])
    assert out.exit_code == 0, out.output
    assert "webhook mode" in out.output and "polled every 2 minutes" in out.output
    with live.app.app_context():
        installation = db.session.scalars(select(Installation).where(Installation.account_id.like("webhook:%"))).one()
        installation_id, live.member_id = installation.id, installation.account_id
    link = live.app.test_cli_runner().invoke(args=["xero", "settings-link", str(installation_id)])
    assert link.exit_code == 0 and "/xero/settings?installation=" in link.output
    _connect_in_browser(live, installation_id, "Bridge Demo (NZ)")
    live.tenant = _org(live, "Bridge Demo (NZ)")
    live.sandbox.systems["xero"].orgs[live.tenant].currencies.append(xero_seed.currency("USD"))
    refused = live.app.test_cli_runner().invoke(args=["bitrix24", "settings", str(installation_id), "mapping",
                                                      '{"tax_rates": {"15": "nonsense"}, "default_sales_account": 7}'])
    assert refused.exit_code != 0 and "Traceback" not in refused.output
    mapped = live.app.test_cli_runner().invoke(args=["bitrix24", "settings", str(installation_id), "mapping",
                                                     '{"tax_rates": {"15": "OUTPUT2"}, "default_sales_account": "200"}'])
    assert mapped.exit_code == 0, mapped.output
    return out.output


def poll(live) -> None:
    """What the ``bitrix24_webhook_poll`` job does every two minutes (``flask bitrix24 poll``),
    then the work."""
    out = live.app.test_cli_runner().invoke(args=["bitrix24", "poll"])
    assert out.exit_code == 0 and "webhook:" in out.output, out.output
    live.run_jobs()


def portal_state(live) -> dict:
    return live.control(f"bitrix24/portals/{ACME}/state", method="GET")


def test_smart_invoices_in_webhook_mode(live):
    connect_webhook(live)
    state = portal_state(live)
    assert state["handlers"] == [] and state["placements"] == []  # nothing a webhook may not do
    assert any("XERO_SYNC" in str(field) for field in state["userfields"])  # the box, made through the webhook
    url = live.control(f"bitrix24/portals/{ACME}/webhooks", json={"secret": "selfhostedhook1",
                                                                  "scopes": WEBHOOK_SCOPES})["url"]
    again = live.app.test_cli_runner().invoke(args=["bitrix24", "webhook", url])  # run again: nothing twice
    assert again.exit_code == 0 and portal_state(live)["userfields"] == state["userfields"]
    company = live.control(f"bitrix24/portals/{ACME}/companies", json={"fields": {"TITLE": "Globex Ltd"}})
    body = {"fields": {"title": "Workshop", "companyId": company["ID"], "currencyId": "NZD"},
            "rows": [{"productName": "Workshop day", "price": "1150.00", "quantity": 2, "taxRate": 15,
                      "taxIncluded": "N"}]}
    item = live.control(f"bitrix24/portals/{ACME}/invoices", json=body)["item"]
    off = live.control(f"bitrix24/portals/{ACME}/invoices", json={
        **body, "fields": {**body["fields"], "title": "Not for Xero", "ufCrmSmartInvoiceXeroSync": "N"}})["item"]
    poll(live)
    (xero,) = xero_invoices(live)
    assert Decimal(str(xero["Total"])) == Decimal("2300.00")
    live.control(f"xero/orgs/{live.tenant}/invoices/{xero['InvoiceID']}/approve")
    live.control(f"xero/orgs/{live.tenant}/invoices/{xero['InvoiceID']}/send")
    live.control(f"xero/orgs/{live.tenant}/invoices/{xero['InvoiceID']}/pay", json={})
    xero_flush(live)
    stage = next(i for i in portal_state(live)["invoices"] if i["id"] == item["id"])["stageId"]
    assert stage.endswith(":P") and off["id"] != item["id"]
    poll(live)  # our own write-back, seen by the poll, changes nothing
    assert len(xero_invoices(live)) == 1 and failures(live) == []


def test_old_invoices_in_webhook_mode(live):
    output = connect_webhook(live, invoices="legacy")
    assert "old invoices" in output
    fields = portal_state(live)["legacy_userfields"]
    assert [f["FIELD_NAME"] for f in fields] == ["UF_CRM_XERO_SYNC"]
    company = live.control(f"bitrix24/portals/{ACME}/companies", json={"fields": {"TITLE": "Globex Ltd"}})
    invoice = live.control(f"bitrix24/portals/{ACME}/legacy-invoices", json={"fields": {
        "ORDER_TOPIC": "Workshop", "PERSON_TYPE_ID": 1, "PAY_SYSTEM_ID": 1, "UF_COMPANY_ID": company["ID"],
        "PRODUCT_ROWS": [{"ID": 0, "PRODUCT_NAME": "Workshop day", "QUANTITY": 2, "PRICE": "1000.00",
                          "VAT_RATE": "0.15", "VAT_INCLUDED": "N"}]}})
    poll(live)
    (xero,) = xero_invoices(live)
    live.control(f"xero/orgs/{live.tenant}/invoices/{xero['InvoiceID']}/approve")
    live.control(f"xero/orgs/{live.tenant}/invoices/{xero['InvoiceID']}/pay", json={})
    xero_flush(live)
    old = next(i for i in portal_state(live)["legacy_invoices"] if i["ID"] == invoice["ID"])
    assert (old["XML_ID"], old["STATUS_ID"]) == (xero["InvoiceID"], "P")
    poll(live)
    assert len(xero_invoices(live)) == 1 and failures(live) == []


@pytest.mark.parametrize("scopes", [["crm", "catalog"]])
def test_a_webhook_without_userfieldconfig_says_the_box_is_missing(live, scopes):
    url = live.control(f"bitrix24/portals/{ACME}/webhooks", json={"secret": "narrowhook12345", "scopes": scopes})
    out = live.app.test_cli_runner().invoke(args=["bitrix24", "webhook", url["url"]])
    assert out.exit_code == 0
    assert "userfieldconfig" in out.output and "sync field could not be created" in out.output


def pages(live) -> dict[str, str]:
    """``flask bitrix24 pages-link ID``: the sync log, settings page and dashboard of a webhook
    installation, which has no app in Bitrix24 to open them from."""
    with live.app.app_context():
        installation_id = db.session.scalars(select(Installation.id).where(
            Installation.account_id == live.member_id)).one()
    out = live.app.test_cli_runner().invoke(args=["bitrix24", "pages-link", str(installation_id)])
    assert out.exit_code == 0, out.output
    return dict(line.split(": ", 1) for line in out.output.strip().splitlines())


def test_the_admin_of_a_webhook_portal_sees_the_sync_log_settings_and_dashboard(live):
    """Webhook mode has no app pages in Bitrix24: ``pages-link`` opens them from outside. A failed
    invoice reads on the sync log in plain words with what to do, the import from Xero starts from
    the settings page and writes through the webhook, and the dashboard opens."""
    connect_webhook(live)
    new_smart_invoice(live, "Globex Ltd", "Unmapped tax", "100.00", 20)
    poll(live)
    ((flow, message),) = failures(live)
    links = pages(live)
    assert set(links) == {"Sync log", "Settings", "Dashboard"}
    log = requests.get(links["Sync log"], timeout=30)
    assert log.status_code == 200 and "failed" in log.text and "Traceback" not in log.text
    with live.app.test_request_context():
        fix = db.session.scalars(select(SyncRecord.error_fix).where(SyncRecord.state == "failed")).one()
        assert escape(render(message, "en")) in log.text and fix and escape(render(fix, "en")) in log.text
    settings = requests.get(links["Settings"], timeout=30)
    assert settings.status_code == 200 and "/bitrix24/app/settings/start/import" in settings.text
    ids = seed_xero_contacts(live)
    token = re.search(r'name="token" value="([^"]+)"', settings.text).group(1)
    started = requests.post(f"{live.app_url}/bitrix24/app/settings/start/import", data={"token": token}, timeout=30)
    assert started.status_code == 200 and "Started." in started.text
    live.run_jobs()
    companies, _contacts = imported(live)
    assert [(c["TITLE"], c["ORIGIN_ID"]) for c in companies] == [("Wayne Enterprises", ids["Wayne Enterprises"])]
    assert requests.get(links["Dashboard"], timeout=30).status_code == 200


def test_old_invoice_edits_both_ways_and_cancellation_in_webhook_mode(live):
    """Webhook mode within what docs/bitrix24.md states: an edit in Bitrix24 reaches the Xero draft
    by the poll, Xero's edit of an approved invoice comes back through the webhook, and an invoice
    set to the portal's failure status deletes its draft (a deletion: the sweep's test below)."""
    connect_webhook(live, invoices="legacy")
    invoice, cancelled = new_old_invoice(live), new_old_invoice(live, quantity=1)
    poll(live)
    assert sorted(Decimal(str(i["Total"])) for i in xero_invoices(live)) == [Decimal("1150.00"), Decimal("2300.00")]
    live.control("clock", json={"advance": 5})
    live.control(f"bitrix24/portals/{ACME}/legacy-invoices/{invoice['ID']}", json={"fields": {"PRODUCT_ROWS": [
        {"ID": 0, "PRODUCT_NAME": "Workshop day", "QUANTITY": 3, "PRICE": "1000.00", "VAT_RATE": "0.15",
         "VAT_INCLUDED": "N"}]}})
    live.control(f"bitrix24/portals/{ACME}/legacy-invoices/{cancelled['ID']}", json={"fields": {"STATUS_ID": "D"}})
    poll(live)
    xero = {Decimal(str(i["Total"])): i for i in xero_invoices(live)}
    assert xero[Decimal("1150.00")]["Status"] == "DELETED" and xero[Decimal("3450.00")]["Status"] == "DRAFT"
    edited = xero[Decimal("3450.00")]["InvoiceID"]
    live.control(f"xero/orgs/{live.tenant}/invoices/{edited}/approve")
    xero_flush(live)
    live.control(f"xero/orgs/{live.tenant}/invoices/{edited}/edit", json={"DueDate": "2027-01-31"})
    xero_flush(live)
    assert old_invoice(live, invoice["ID"])["DATE_PAY_BEFORE"].startswith("2027-01-31")
    poll(live)
    assert failures(live) == []


def test_a_deleted_webhook_is_one_failed_record_with_what_to_do_and_a_new_one_resumes(live):
    """The poll is all a webhook portal has: when Bitrix24 refuses the webhook (deleted:
    INVALID_CREDENTIALS), the sync log says so once per outage, in plain words with what to do,
    instead of the sync stopping in silence; a new webhook set by the command resumes it."""
    connect_webhook(live)
    live.sandbox.systems["bitrix24"].cloud.portals[ACME].webhooks.pop("selfhostedhook1")
    new_smart_invoice(live, "Globex Ltd", "Made while the webhook was gone", "100.00", 15)
    poll(live)
    poll(live)
    with live.app.app_context():
        (record,) = db.session.scalars(select(SyncRecord).where(SyncRecord.flow == "bitrix24_poll")).all()
        assert (record.state, record.error_code, record.attempt) == ("failed", "INVALID_CREDENTIALS", 2)
    log = requests.get(pages(live)["Sync log"], timeout=30).text
    assert "no longer accepts the inbound webhook" in log and "flask --app app bitrix24 webhook" in log
    token = re.search(r'name="token" value="([^"]+)"', log).group(1)
    retried = requests.post(f"{live.app_url}/bitrix24/app/log/retry/{record.id}", data={"token": token}, timeout=30)
    assert retried.status_code == 200 and "Retry of portal" in retried.text
    live.run_jobs()  # the Retry polls the portal now: still refused, the same record counts it
    with live.app.app_context():
        assert db.session.get(SyncRecord, record.id).attempt == 3
    assert xero_invoices(live) == []
    url = live.control(f"bitrix24/portals/{ACME}/webhooks", json={"secret": "replacedhook0001",
                                                                  "scopes": WEBHOOK_SCOPES})["url"]
    assert live.app.test_cli_runner().invoke(args=["bitrix24", "webhook", url]).exit_code == 0
    poll(live)
    assert len(xero_invoices(live)) == 1
    with live.app.app_context():
        states = db.session.scalars(select(SyncRecord.state).where(SyncRecord.flow == "bitrix24_poll")
                                    .order_by(SyncRecord.id)).all()
    assert states == ["failed", "succeeded"]


def test_invoices_from_before_the_webhook_are_sent_by_the_backfill_on_the_settings_page(live):
    """The poll starts at the connection: older invoices come with the backfill the settings
    page of ``pages-link`` starts, read through the webhook."""
    live.control(f"bitrix24/portals/{ACME}/settings", json={"invoices": "legacy"})
    live.control("clock", json={"advance": -120})
    new_old_invoice(live, quantity=1)  # made two minutes before bridge knew the portal
    live.control("clock", json={"advance": 120})
    connect_webhook(live, invoices="legacy")
    poll(live)
    assert xero_invoices(live) == []
    settings = requests.get(pages(live)["Settings"], timeout=30).text
    token = re.search(r'name="token" value="([^"]+)"', settings).group(1)
    started = requests.post(f"{live.app_url}/bitrix24/app/settings/start/backfill", timeout=30,
                            data={"token": token, "since": "2000-01-01"})
    assert started.status_code == 200 and "Started." in started.text
    live.run_jobs()
    assert [Decimal(str(i["Total"])) for i in xero_invoices(live)] == [Decimal("1150.00")]
    assert failures(live) == []


def ten_minutes_pass(live) -> None:
    """The deletion sweep runs with the poll at most every 10 minutes (deletions.SWEEP_SECONDS)."""
    with live.app.app_context():
        for cursor in db.session.scalars(select(Cursor).where(Cursor.name == "bitrix24_reconcile")):
            cursor.value = {k: v for k, v in cursor.value.items() if k != "deleted_sweep"}
        db.session.commit()


@pytest.mark.parametrize("invoices", ["smart", "legacy"])
def test_an_invoice_deleted_in_webhook_mode_deletes_its_xero_draft_by_the_sweep(live, invoices):
    """No event tells a webhook of a deletion and no list shows a deleted invoice: the poll's
    sweep asks for the linked invoices by id, and the one gone has its Xero draft deleted; the
    sweeps after that ask for it no more."""
    connect_webhook(live, invoices=invoices)
    kept, deleted = (new_old_invoice(live, quantity=1), new_old_invoice(live)) if invoices == "legacy" else \
        (new_smart_invoice(live, "Initech", "Kept", "100.00", 15)["item"],
         new_smart_invoice(live, "Globex Ltd", "Deleted", "200.00", 15)["item"])
    poll(live)
    assert len(xero_invoices(live)) == 2
    gone_id = deleted["ID"] if invoices == "legacy" else deleted["id"]
    path = "legacy-invoices" if invoices == "legacy" else "invoices"
    live.control(f"bitrix24/portals/{ACME}/{path}/{gone_id}", method="DELETE")
    poll(live)
    assert all(i["Status"] == "DRAFT" for i in xero_invoices(live))  # not yet: the sweep ran 2 minutes ago
    ten_minutes_pass(live)
    poll(live)
    assert sorted(i["Status"] for i in xero_invoices(live)) == ["DELETED", "DRAFT"]
    ten_minutes_pass(live)
    poll(live)
    with live.app.app_context():
        runs = db.session.scalars(select(SyncRecord).where(SyncRecord.flow == "invoice_to_ledger")).all()
        assert len([r for r in runs if r.object_id.endswith(str(gone_id))]) == 2  # export, cancel: no more
    assert failures(live) == [] and kept
