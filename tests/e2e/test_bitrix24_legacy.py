"""Old Bitrix24 invoices (crm.invoice.*) -> Xero through the same flows as smart invoices, end
to end over real HTTP against the sandboxes, on a self-hosted style portal that has only the
old invoices: install, the "Sync with" field, export, an edit, Xero's id written back, Xero's
"sent" and "paid" coming back as the portal's statuses, a Xero-side edit copied back, our own
write-back's echo skipped, a lost event caught by the reconcile, and cancellation."""
from __future__ import annotations

import json
import re
from dataclasses import replace
from decimal import Decimal
from html import unescape

import pytest
import requests
from sqlalchemy import select

from bridge.connectors.bitrix24 import store
from bridge.connectors.bitrix24.platform import Bitrix24Platform
from bridge.connectors.bitrix24.reconcile import reconcile_installation
from bridge.engine import WorkRequest, request_work
from bridge.extensions import db
from bridge.messages import render
from bridge.models import SyncRecord, WorkItem
from bridge.settings import save_section
from bridge.sandbox.xero import seed as xero_seed
from bridge.sync.preview import preview_invoice
from bridge.web.bitrix24.settings import choices_for
from tests.e2e.conftest import ACME
from tests.e2e.test_bitrix24_webhook import connect_webhook, poll
from tests.e2e.test_bitrix24_xero_parties import imported, seed_xero_contacts
from tests.e2e.old_invoices import deliver, failures, new_old_invoice, new_smart_invoice, old_invoice, state, xero_flush, \
    xero_invoices


@pytest.fixture
def legacy_portal(live, request):
    """The ``portal`` fixture's installation, on a portal whose invoices are the old ones only.
    An old invoice is in the portal's base currency (USD here: CURRENCY is read-only,
    crm-invoice-fields.html), so the Xero organisation has USD enabled as well."""
    live.control(f"bitrix24/portals/{ACME}/settings", json={"invoices": "legacy"})
    connected = request.getfixturevalue("portal")
    org = live.sandbox.systems["xero"].orgs[connected.tenant]
    org.currencies.append(xero_seed.currency("USD"))
    return connected


def test_install_on_an_old_invoice_portal_makes_the_sync_field(legacy_portal):
    live = legacy_portal
    fields = state(live)["legacy_userfields"]
    (sync,) = [f for f in fields if f["FIELD_NAME"] == "UF_CRM_XERO_SYNC"]
    assert sync["USER_TYPE_ID"] == "boolean"
    with live.app.app_context():
        setup = store.find(live.member_id).endpoints["setup"]
    assert setup["legacy_invoices"] is True and "ONCRMINVOICEUPDATE" in setup["events"]


def test_old_invoice_life_export_edit_reference_sent_paid(legacy_portal):
    live = legacy_portal
    invoice = new_old_invoice(live)
    deliver(live)
    assert failures(live) == []
    (xero,) = xero_invoices(live)
    assert xero["Status"] == "DRAFT" and xero["Contact"]["Name"] == "Globex Ltd"
    assert Decimal(str(xero["Total"])) == Decimal("2300.00")
    assert old_invoice(live, invoice["ID"])["XML_ID"] == xero["InvoiceID"]  # Xero's id written back

    # an edit in Bitrix24 updates the same draft; our own write-back's echo changes nothing
    live.control(f"bitrix24/portals/{ACME}/legacy-invoices/{invoice['ID']}", json={"fields": {"PRODUCT_ROWS": [
        {"ID": 0, "PRODUCT_NAME": "Workshop day", "QUANTITY": 3, "PRICE": "1000.00", "VAT_RATE": "0.15",
         "VAT_INCLUDED": "N"}]}})
    deliver(live)
    deliver(live)
    (xero,) = xero_invoices(live)
    assert Decimal(str(xero["Total"])) == Decimal("3450.00")

    # Xero: approved and sent -> the portal's "sent" status; paid -> its paid status (P)
    live.control(f"xero/orgs/{live.tenant}/invoices/{xero['InvoiceID']}/approve")
    live.control(f"xero/orgs/{live.tenant}/invoices/{xero['InvoiceID']}/send")
    xero_flush(live)
    assert old_invoice(live, invoice["ID"])["STATUS_ID"] == "S"
    live.control(f"xero/orgs/{live.tenant}/invoices/{xero['InvoiceID']}/pay", json={})
    xero_flush(live)
    paid = old_invoice(live, invoice["ID"])
    assert (paid["STATUS_ID"], paid["PAYED"]) == ("P", "Y")
    deliver(live)
    xero_flush(live)
    assert len(xero_invoices(live)) == 1
    assert failures(live) == []


def test_a_xero_edit_of_the_due_date_is_copied_to_the_old_invoice(legacy_portal):
    live = legacy_portal
    invoice = new_old_invoice(live)
    deliver(live)
    (xero,) = xero_invoices(live)
    live.control(f"xero/orgs/{live.tenant}/invoices/{xero['InvoiceID']}/approve")  # Xero is master once approved
    xero_flush(live)
    live.control(f"xero/orgs/{live.tenant}/invoices/{xero['InvoiceID']}/edit", json={"DueDate": "2027-01-31"})
    xero_flush(live)
    deliver(live)
    assert old_invoice(live, invoice["ID"])["DATE_PAY_BEFORE"].startswith("2027-01-31")

    assert failures(live) == []


def test_sync_box_off_sends_nothing_and_a_lost_event_is_reconciled(legacy_portal):
    live = legacy_portal
    new_old_invoice(live, UF_CRM_XERO_SYNC="0")
    deliver(live)
    assert xero_invoices(live) == []

    live.control("bitrix24/events/drop", json={"count": 100})
    new_old_invoice(live)
    live.control("bitrix24/events/wait", json={"timeout": 5})
    live.control("bitrix24/events/drop", json={"count": 0})
    live.run_jobs()
    assert xero_invoices(live) == []
    with live.app.app_context():
        counts = reconcile_installation(store.find(live.member_id))
    assert counts["legacy_invoices"] >= 1
    live.run_jobs()
    assert len(xero_invoices(live)) == 1


def test_a_deleted_old_invoice_voids_its_xero_draft(legacy_portal):
    live = legacy_portal
    invoice = new_old_invoice(live)
    deliver(live)
    (xero,) = xero_invoices(live)
    live.control(f"bitrix24/portals/{ACME}/legacy-invoices/{invoice['ID']}", method="DELETE")
    deliver(live)
    (after,) = [i for i in xero_invoices(live) if i["InvoiceID"] == xero["InvoiceID"]]
    assert after["Status"] in ("DELETED", "VOIDED")


def test_our_own_write_back_echo_writes_nothing_to_xero(legacy_portal):
    """crm.invoice.update fires ONCRMINVOICEUPDATE even for our XML_ID write-back
    (crm-invoice-update.html documents no skip): the flow knows the version it left."""
    live = legacy_portal
    invoice = new_old_invoice(live)
    for _ in range(5):  # until the export and its write-back are done (work may wait to be gathered)
        deliver(live)
        if old_invoice(live, invoice["ID"])["XML_ID"]:
            break
    since = live.control("requests", method="GET")["next"]
    deliver(live)  # the write-back's own event
    calls = live.control(f"requests?since={since}", method="GET")["requests"]
    assert [c["path"] for c in calls if "api.xro" in c["path"]] == []  # not even a read of Xero
    assert len(xero_invoices(live)) == 1
    with live.app.app_context():
        last = db.session.scalars(select(SyncRecord).where(SyncRecord.flow == "invoice_to_ledger")
                                  .order_by(SyncRecord.id.desc())).first()
        assert last.state == "skipped"


def test_preview_of_an_old_invoice_sends_nothing(legacy_portal):
    live = legacy_portal
    live.control("bitrix24/events/drop", json={"count": 100})
    invoice = new_old_invoice(live)
    live.control("bitrix24/events/wait", json={"timeout": 5})
    live.control("bitrix24/events/drop", json={"count": 0})
    with live.app.app_context():
        preview = preview_invoice(store.find(live.member_id), f"L{invoice['ID']}")
    assert preview.problems == [] and preview.contact["name"] == "Globex Ltd"
    assert Decimal(preview.document["expected_totals"]["Total"]) == Decimal("2300.00")
    assert xero_invoices(live) == []


def test_a_portal_with_both_kinds_syncs_both(live, request):
    live.control(f"bitrix24/portals/{ACME}/settings", json={"invoices": "both"})
    live = request.getfixturevalue("portal")
    live.sandbox.systems["xero"].orgs[live.tenant].currencies.append(xero_seed.currency("USD"))
    with live.app.app_context():
        setup = store.find(live.member_id).endpoints["setup"]
    assert setup["smart_invoices"] is True and setup["legacy_invoices"] is True
    assert "CRM_SMART_INVOICE_DETAIL_TAB" in setup["placements"]
    new_old_invoice(live)
    new_smart_invoice(live, "Initech", "Smart one", "115.00", 15)
    deliver(live)
    assert sorted(i["Contact"]["Name"] for i in xero_invoices(live)) == ["Globex Ltd", "Initech"]
    assert failures(live) == []


def test_a_missing_catalog_scope_is_named_at_install_on_the_settings_page_and_on_the_record(live, request):
    """A portal set up from old docs (no ``catalog``): the sales account by product section
    cannot be read. bridge says so everywhere, and never books to the default account."""
    live.control("bitrix24/app", json={"scopes": ["crm", "placement", "userfieldconfig", "im", "user_brief"]})
    live = request.getfixturevalue("legacy_portal")
    with live.app.test_request_context():
        installation = store.find(live.member_id)
        assert installation.endpoints["setup"]["missing_scopes"] == ["catalog"]
        problems = choices_for(installation).problems
    assert any("catalog" in str(p) for p in problems)
    assert "Missing Bitrix24 scope catalog" in launch(live, "DEFAULT", {}).text  # the main page too
    company = live.control(f"bitrix24/portals/{ACME}/companies", json={"fields": {"TITLE": "Globex Ltd"}})
    live.control(f"bitrix24/portals/{ACME}/legacy-invoices", json={"fields": {
        "ORDER_TOPIC": "Support", "PERSON_TYPE_ID": 1, "PAY_SYSTEM_ID": 1, "UF_COMPANY_ID": company["ID"],
        "PRODUCT_ROWS": [{"ID": 0, "PRODUCT_ID": 103, "QUANTITY": 1, "VAT_RATE": "0.15", "VAT_INCLUDED": "N"}]}})
    deliver(live)
    assert xero_invoices(live) == []
    ((flow, message),) = failures(live)
    assert flow == "invoice_to_ledger" and "catalog" in str(message)


def test_the_settings_page_maps_the_old_invoices_statuses(legacy_portal):
    """Only "P" (paid) is a fixed code in the docs: the statuses are the portal's own, read
    with their semantics, and the administrator's choice wins (here: "sent" is the portal's
    "D" status, as a portal that renamed its statuses might want)."""
    live = legacy_portal
    with live.app.test_request_context():
        installation = store.find(live.member_id)
        choices = choices_for(installation)
        assert choices.problems == []
        assert [s.id for s in choices.stages] == ["N", "S", "P", "D"]
        save_section(installation, "bitrix24_stages", {"stage_map": {"S": "draft", "D": "authorised"}})
        db.session.commit()
    assert status_after_xero_sent(live) == "D"


def status_after_xero_sent(live) -> str:
    """A new old invoice exported, approved and sent in Xero: the status it then has."""
    invoice = new_old_invoice(live)
    deliver(live)
    (xero,) = xero_invoices(live)
    live.control(f"xero/orgs/{live.tenant}/invoices/{xero['InvoiceID']}/approve")
    live.control(f"xero/orgs/{live.tenant}/invoices/{xero['InvoiceID']}/send")
    xero_flush(live)
    return old_invoice(live, invoice["ID"])["STATUS_ID"]


def test_the_old_invoice_card_shows_its_sync_state_and_sync_now(legacy_portal):
    """Old invoices have no detail tab: the app is bound to their card's toolbar, and opens
    the same page for the invoice "L<ID>": its state, its Xero number, Sync now."""
    live = legacy_portal
    with live.app.app_context():
        setup = store.find(live.member_id).endpoints["setup"]
    assert "CRM_INVOICE_DETAIL_TOOLBAR" in setup["placements"]
    assert [p["placement"] for p in state(live)["placements"] if p["placement"].startswith("CRM_INVOICE")] == \
        ["CRM_INVOICE_DETAIL_TOOLBAR"]
    main = launch(live, "DEFAULT", {}).text
    assert "Old invoices, in the card" in main and "Invoice tab:" not in main and "Missing Bitrix24 scope" not in main
    invoice = new_old_invoice(live)
    deliver(live)
    (xero,) = xero_invoices(live)
    page = launch(live, "CRM_INVOICE_DETAIL_TOOLBAR", {"ID": str(invoice["ID"])})
    assert page.status_code == 200 and xero["InvoiceNumber"] in page.text and "Sync now" in page.text
    sync = re.search(r'action="([^"]*/bitrix24/placement/invoice/L\d+/sync)"', page.text)
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
    again = requests.post(live.app_url + unescape(sync.group(1)), data={"token": token}, timeout=10)
    assert again.status_code == 200 and "Sync requested" in again.text
    with live.app.app_context():
        assert db.session.scalar(select(WorkItem).where(WorkItem.object_key == f"invoice:L{invoice['ID']}"))


def launch(live, placement: str, options: dict) -> requests.Response:
    """The page as the portal opens it (POST, launch parameters in the query and the form);
    placement DEFAULT: the app's main page."""
    pair = live.control(f"bitrix24/portals/{ACME}/tokens", json={"user_id": 1})
    form = dict(live.installed["form"], AUTH_ID=pair["access_token"], REFRESH_ID=pair["refresh_token"],
                PLACEMENT=placement, PLACEMENT_OPTIONS=json.dumps(options))
    path = "/bitrix24/app" if placement == "DEFAULT" else "/bitrix24/placement/invoice"
    return requests.post(f"{live.app_url}{path}", params=live.installed["query"], data=form, timeout=10)


def test_an_invoice_voided_in_xero_gets_the_portals_failure_status(legacy_portal):
    live = legacy_portal
    invoice = new_old_invoice(live)
    deliver(live)
    (xero,) = xero_invoices(live)
    live.control(f"xero/orgs/{live.tenant}/invoices/{xero['InvoiceID']}/approve")
    live.control(f"xero/orgs/{live.tenant}/invoices/{xero['InvoiceID']}/void")
    xero_flush(live)
    assert old_invoice(live, invoice["ID"])["STATUS_ID"] == "D"  # the failure status (semantics F)
    assert failures(live) == []


def test_ledger_lines_written_back_replace_the_old_invoices_rows(legacy_portal):
    """What the flow-back does with Xero's lines (the sandbox's Xero refuses line edits on an
    approved invoice, so the adapter is driven directly): PRODUCT_ROWS replaced whole,
    read back as the same lines."""
    live = legacy_portal
    invoice = new_old_invoice(live)
    with live.app.app_context():
        adapter = Bitrix24Platform.build(store.find(live.member_id))
        read = adapter.get_invoice(f"L{invoice['ID']}")
        line = replace(read.lines[0], quantity=Decimal(4), description="Workshop day (4)")
        extra = replace(read.lines[0], quantity=Decimal(1), unit_price=Decimal("50.00"), description="Travel")
        adapter.apply_invoice_changes(f"L{invoice['ID']}", replace(read, lines=[line, extra]), {"lines"})
        again = Bitrix24Platform.build(store.find(live.member_id)).get_invoice(f"L{invoice['ID']}")
    assert [(x.description, x.quantity, x.unit_price, x.tax_rate) for x in again.lines] == [
        ("Workshop day (4)", Decimal(4), Decimal("1000.00"), Decimal(15)), ("Travel", Decimal(1), Decimal("50.00"), Decimal(15))]
    assert Decimal(old_invoice(live, invoice["ID"])["PRICE"]) == Decimal("4657.50")


def test_backfill_from_a_date_sends_the_old_invoices_changed_since(legacy_portal):
    live = legacy_portal
    live.control("bitrix24/events/drop", json={"count": 100})  # these predate the app's events
    new_old_invoice(live, quantity=1)
    live.control("clock", json={"advance": 120})
    since = new_old_invoice(live, quantity=2)["DATE_UPDATE"]
    new_old_invoice(live, quantity=3)
    live.control("bitrix24/events/wait", json={"timeout": 5})
    live.control("bitrix24/events/drop", json={"count": 0})
    assert xero_invoices(live) == []
    with live.app.app_context():
        request_work(WorkRequest(store.find(live.member_id).id, "invoice_backfill", "backfill:invoices",
                                 {"since": since}))
        db.session.commit()
    live.run_jobs()
    assert sorted(Decimal(str(i["Total"])) for i in xero_invoices(live)) == [Decimal("2300.00"), Decimal("3450.00")]


def test_a_portal_with_both_kinds_maps_the_old_invoices_statuses_on_the_settings_page(live, request):
    """A portal with smart and old invoices lists its smart stages under Stages and, below them,
    the old invoices' own statuses: the administrator maps them there (here "sent" is the
    portal's "D" status), and Xero's "sent" sets it."""
    live.control(f"bitrix24/portals/{ACME}/settings", json={"invoices": "both"})
    live = request.getfixturevalue("portal")
    live.sandbox.systems["xero"].orgs[live.tenant].currencies.append(xero_seed.currency("USD"))
    main = launch(live, "DEFAULT", {}).text
    token = unescape(re.search(r'/bitrix24/app/settings\?token=([^"&]+)', main).group(1))
    page = requests.get(f"{live.app_url}/bitrix24/app/settings", params={"token": token}, timeout=30).text
    assert 'name="stage:DT31_1:P"' in page and 'name="legacy:D"' in page and "Old invoice status" in page
    stages = page.split('id="bitrix24_stages"', 1)[1]
    loaded = re.search(r'name="loaded" value="([^"]+)"', stages).group(1)
    form_token = re.search(r'name="token" value="([^"]+)"', stages).group(1)
    saved = requests.post(f"{live.app_url}/bitrix24/app/settings/bitrix24_stages", timeout=30,
                          data={"token": form_token, "loaded": loaded, "legacy:D": "authorised"})
    assert saved.status_code == 200 and "Saved." in saved.text
    assert status_after_xero_sent(live) == "D" and failures(live) == []


def xero_contact_of(live, xero_invoice: dict) -> dict:
    contacts = live.control(f"xero/orgs/{live.tenant}/state", method="GET")["contacts"]
    return next(c for c in contacts if c["ContactID"] == xero_invoice["Contact"]["ContactID"])


@pytest.mark.parametrize("mode", ["app", "webhook"])
def test_old_invoices_follow_the_seeds_customer_rules_and_sales_accounts(live, request, mode):
    """The seed's "how logic works" on old invoices, with the app and in webhook mode: a company
    goes to Xero with its persons and no primary person, a contact alone as a person; each product
    row books to the account of its product or catalogue section, a free-text row to the default one."""
    if mode == "app":
        live, sync = request.getfixturevalue("legacy_portal"), deliver
    else:
        connect_webhook(live, invoices="legacy")
        sync = poll
    with live.app.app_context():
        save_section(store.find(live.member_id), "mapping", {
            "tax_rates": {"15": "OUTPUT2"}, "default_sales_account": "200",
            "sales_account_by_product": {"101": "260"}, "sales_account_by_section": {"14": "270"}})
        db.session.commit()
    company = live.control(f"bitrix24/portals/{ACME}/companies", json={"fields": {
        "TITLE": "Umbrella Corp", "EMAIL": [{"VALUE": "ap@umbrella.test", "VALUE_TYPE": "WORK"}]}})
    for name in ("Alice", "Bob"):
        live.control(f"bitrix24/portals/{ACME}/contacts", json={"fields": {
            "NAME": name, "LAST_NAME": "Umbrella", "COMPANY_ID": company["ID"],
            "EMAIL": [{"VALUE": f"{name.lower()}@umbrella.test", "VALUE_TYPE": "WORK"}]}})
    row = {"ID": 0, "QUANTITY": 1, "PRICE": "100.00", "VAT_RATE": "0.15", "VAT_INCLUDED": "N"}
    live.control(f"bitrix24/portals/{ACME}/legacy-invoices", json={"fields": {
        "ORDER_TOPIC": "Accounts", "PERSON_TYPE_ID": 2, "PAY_SYSTEM_ID": 1, "UF_COMPANY_ID": company["ID"],
        "PRODUCT_ROWS": [dict(row, PRODUCT_ID=101, PRODUCT_NAME="Product 101"),
                         dict(row, PRODUCT_ID=103, PRODUCT_NAME="Product in Services"),  # section 14
                         dict(row, PRODUCT_NAME="Free text")]}})
    jane = live.control(f"bitrix24/portals/{ACME}/contacts", json={"fields": {
        "NAME": "Jane", "LAST_NAME": "Doe", "EMAIL": [{"VALUE": "jane@doe.test", "VALUE_TYPE": "WORK"}]}})
    live.control(f"bitrix24/portals/{ACME}/legacy-invoices", json={"fields": {
        "ORDER_TOPIC": "Coaching", "PERSON_TYPE_ID": 1, "PAY_SYSTEM_ID": 1, "UF_CONTACT_ID": jane["ID"],
        "PRODUCT_ROWS": [dict(row, PRODUCT_NAME="Coaching")]}})
    sync(live)
    assert failures(live) == []
    umbrella, coaching = sorted(xero_invoices(live), key=lambda i: len(i["LineItems"]), reverse=True)
    assert [(line["Description"], line["AccountCode"]) for line in umbrella["LineItems"]] == [
        ("Product 101", "260"), ("Product in Services", "270"), ("Free text", "200")]
    company_contact = xero_contact_of(live, umbrella)
    assert company_contact["Name"] == "Umbrella Corp" and not company_contact.get("FirstName")
    assert sorted(p["FirstName"] for p in company_contact["ContactPersons"]) == ["Alice", "Bob"]
    person = xero_contact_of(live, coaching)
    assert (person["Name"], person["FirstName"], person["LastName"]) == ("Jane Doe", "Jane", "Doe")


def test_an_old_invoice_portal_imports_from_xero_follows_xero_contact_edits_and_has_the_dashboard(legacy_portal):
    """What the seed offers beside invoices works the same on a portal with old invoices only:
    companies and contacts imported from Xero, a Xero contact's edit copied to its company, and
    the dashboard of Xero transactions opened from the app's main page."""
    live = legacy_portal
    new_old_invoice(live)
    deliver(live)
    (xero,) = xero_invoices(live)
    live.control(f"xero/orgs/{live.tenant}/contacts/{xero['Contact']['ContactID']}/edit",
                 json={"EmailAddress": "billing@globex.test"})
    xero_flush(live)
    deliver(live)
    globex = next(c for c in state(live)["companies"] if c["TITLE"] == "Globex Ltd")
    assert [e["VALUE"] for e in globex["EMAIL"]] == ["billing@globex.test"]
    live.control("xero/settings", json={"webhooks_enabled": False})
    ids = seed_xero_contacts(live)
    with live.app.app_context():
        request_work(WorkRequest(store.find(live.member_id).id, "party_import", "import:parties", {"manual": True}))
        db.session.commit()
    live.run_jobs()
    companies, contacts = imported(live)
    assert ids["Wayne Enterprises"] in [c["ORIGIN_ID"] for c in companies if c["TITLE"] == "Wayne Enterprises"]
    assert {c["NAME"] for c in contacts} >= {"Jane", "Bruce", "Alfred"}
    main = launch(live, "DEFAULT", {}).text
    token = unescape(re.search(r'/bitrix24/app/settings\?token=([^"&]+)', main).group(1))
    dashboard = requests.get(f"{live.app_url}/bitrix24/dashboard", params={"token": token}, timeout=30)
    assert dashboard.status_code == 200 and "Traceback" not in dashboard.text
    assert failures(live) == []


def test_a_self_hosted_portal_closed_to_the_public_is_a_failure_that_says_which_setting_reopens_it(legacy_portal):
    """A self-hosted portal with "Temporary closure of the public part of the site" on answers every
    call PORTAL_DELETED (error-codes.html, 403): the invoice's record says so and what to turn off,
    never a server hiccup retried for ever; once reopened, Retry sends the invoice."""
    live = legacy_portal
    new_old_invoice(live)
    live.control(f"bitrix24/portals/{ACME}/settings", json={"deleted": True})
    deliver(live)
    ((flow, message),) = failures(live)
    with live.app.app_context():
        record = db.session.scalars(select(SyncRecord).where(SyncRecord.state == "failed")).one()
        assert record.error_code == "PORTAL_DELETED"
        assert "public part is closed" in render(message, "en")
        assert "Temporary closure of the public part of the site" in render(record.error_fix, "en")
    assert xero_invoices(live) == []
    live.control(f"bitrix24/portals/{ACME}/settings", json={"deleted": False})
    with live.app.app_context():
        request_work(WorkRequest(store.find(live.member_id).id, flow, f"invoice:{record.object_id}", {"manual": True}))
        db.session.commit()
    live.run_jobs()
    assert len(xero_invoices(live)) == 1
