"""Bitrix24 -> Xero, end to end over real HTTP: what the customer sees is the user's
(issue 20 item 5). A line's product section mapped to a tracking option, the installation's
branding theme and a Reference template arrive in Xero that way, at no extra call per
invoice; with the settings empty, a Reference typed in Xero stays; a paid invoice moved to
the user's "refunded" stage is credited like one moved to the failure stage."""
from __future__ import annotations

from bridge.sandbox.xero import branding
from tests.e2e.conftest import ACME
from tests.e2e.test_bitrix24_xero import deliver_events, xero_invoices
from tests.e2e.test_bitrix24_xero_credit_notes import approved_and_part_paid, credit_notes
from tests.e2e.test_bitrix24_xero_invoices import edit_invoice, rows, settings, xero_flush
from tests.e2e.test_lone_invoice import calls, company, mark


def _org(live):
    return live.sandbox.systems["xero"].orgs[live.tenant]


def _region_tracking(live) -> None:
    """A "Region" category with two options, as a person makes it in Xero's web app."""
    category = branding._create_category(_org(live), {"Name": "Region"})
    stored = _org(live).tracking_categories[category["TrackingCategoryID"]]
    for option in ("North", "South"):
        branding._add_option(stored, {"Name": option})


def _theme_id(live, name: str) -> str:
    return next(t["BrandingThemeID"] for t in _org(live).branding_themes if t["Name"] == name)


def test_sections_tracking_theme_and_reference_arrive_in_xero_at_no_extra_call(portal):
    live = portal
    _region_tracking(live)
    special = _theme_id(live, "Special Projects")
    settings(live, "document", {"tracking_category": "Region", "tracking_source": "section",
                                "tracking_options": {"14": "North", "13": "South"}, "branding_theme": special,
                                "reference_template": "{number} {title}"})
    customer = company(live, "Initech")
    live.control(f"bitrix24/portals/{ACME}/invoices", json={
        "fields": {"title": "Spring fair", "companyId": customer, "currencyId": "NZD", "accountNumber": "B24-7"},
        "rows": [dict(rows()[0], productName="Laptop stand", productId=101)]})  # section 13: the customer's first
    deliver_events(live)
    since = mark(live)
    live.control(f"bitrix24/portals/{ACME}/invoices", json={
        "fields": {"title": "Workshop", "companyId": customer, "currencyId": "NZD", "accountNumber": "B24-8"},
        "rows": [dict(rows()[0], productName="Workshop", productId=104),  # section 15, under 14
                 dict(rows()[0], productName="Laptop stand", productId=101),  # section 13
                 dict(rows()[0], productName="Free text")]})  # no product: no section, no tracking
    deliver_events(live)
    counted = calls(live, since)
    assert counted["xero"] == [("PUT", "Invoices")]  # the lone-invoice figure: nothing added
    invoice = next(i for i in xero_invoices(live) if i["Reference"] == "B24-8 Workshop")
    assert invoice["BrandingThemeID"] == special
    assert [[(t["Name"], t["Option"]) for t in line["Tracking"]] for line in invoice["LineItems"]] == [
        [("Region", "North")], [("Region", "South")], []]


def test_with_the_settings_empty_a_reference_typed_in_xero_stays(portal):
    live = portal
    customer = company(live, "Umbrella")
    item = live.control(f"bitrix24/portals/{ACME}/invoices", json={
        "fields": {"title": "Spring fair", "companyId": customer, "currencyId": "NZD"}, "rows": rows()})["item"]
    deliver_events(live)
    (draft,) = xero_invoices(live)
    theme = _theme_id(live, "Special Projects")
    # What a person types in Xero on the draft: a PO number and another theme.
    _org(live).invoices[draft["InvoiceID"]].update({"Reference": "PO 4711", "BrandingThemeID": theme})
    edit_invoice(live, item["id"], rows=rows(quantity=3))
    (after,) = xero_invoices(live)
    assert after["LineItems"][0]["Quantity"] == 3  # our edit arrived...
    assert after["Reference"] == "PO 4711" and after["BrandingThemeID"] == theme  # ...and theirs stayed


def test_a_paid_invoice_moved_to_the_refunded_stage_gets_one_credit_note(portal):
    live = portal
    settings(live, "invoices", {"stage_refunded": "DT31_1:UC_AWAIT"})  # "Awaiting payment", as the user chose
    item, invoice = approved_and_part_paid(live, "800.00")
    edit_invoice(live, item["id"], fields={"stageId": "DT31_1:UC_AWAIT"})
    xero_flush(live)
    deliver_events(live)
    (note,) = credit_notes(live)
    assert note["Total"] == 2300 and note["Contact"]["ContactID"] == invoice["Contact"]["ContactID"]
    (after,) = xero_invoices(live)
    assert after["AmountCredited"] == 1500 and after["AmountDue"] == 0


def test_a_company_that_names_its_own_theme_gets_it_through_the_field_the_upgrade_step_made(portal):
    from bridge.connectors.bitrix24 import store
    from bridge.sync.registry import ledger_for
    from bridge.web.bitrix24.settings import company_theme_field

    live = portal
    with live.app.app_context():  # what saving a theme on the settings page does
        installation = store.find(live.member_id)
        themes = ledger_for(installation)[0].branding_themes()
        assert company_theme_field(installation) is None  # the field is made...
        assert company_theme_field(installation) is None  # ...once
        listed = store.client_for(installation).call("crm.company.userfield.list", {
            "filter": {"FIELD_NAME": "UF_CRM_BRIDGE_THEME"}}).result
        assert [u["USER_TYPE_ID"] for u in listed] == ["string"]
    settings(live, "document", {"branding_theme": themes["Standard"], "known_themes": themes})
    own = live.control(f"bitrix24/portals/{ACME}/companies", json={"fields": {
        "TITLE": "Wayne Enterprises", "UF_CRM_BRIDGE_THEME": "Special Projects"}})["ID"]
    other = company(live, "Stark Industries")
    for customer in (own, other):
        live.control(f"bitrix24/portals/{ACME}/invoices", json={
            "fields": {"title": "Gala", "companyId": customer, "currencyId": "NZD"}, "rows": rows()})
    deliver_events(live)
    by_customer = {i["Contact"]["Name"]: i["BrandingThemeID"] for i in xero_invoices(live)}
    assert by_customer == {"Wayne Enterprises": themes["Special Projects"], "Stark Industries": themes["Standard"]}


def test_an_invoice_whose_shaped_fields_did_not_change_is_not_written_again(portal):
    from bridge.connectors.bitrix24 import store
    from bridge.engine import WorkRequest, request_work
    from bridge.extensions import db

    live = portal
    _region_tracking(live)
    settings(live, "document", {"tracking_category": "Region", "tracking_source": "section",
                                "tracking_options": {"14": "North"}, "reference_template": "{number} {title}"})
    item = live.control(f"bitrix24/portals/{ACME}/invoices", json={
        "fields": {"title": "Workshop", "companyId": company(live, "Cyberdyne"), "currencyId": "NZD"},
        "rows": [dict(rows()[0], productName="Workshop", productId=104)]})["item"]
    deliver_events(live)
    since = mark(live)
    with live.app.app_context():  # "Sync now" on the invoice tab
        request_work(WorkRequest(store.find(live.member_id).id, "invoice_to_ledger", f"invoice:{item['id']}",
                                 {"manual": True}))
        db.session.commit()
    live.run_jobs()
    log = live.control(f"requests?since={since}", method="GET")["requests"]
    writes = [c for c in log if c["path"].endswith("/Invoices") and c["method"] in ("PUT", "POST")]
    assert writes == [] and len(xero_invoices(live)) == 1
