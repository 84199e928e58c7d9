"""Bitrix24 -> Xero, end to end over real HTTP: changing a document setting (what the customer
sees) is not a user edit of the invoices already synced.

- An approved invoice keeps what it was approved with: its next event after the user picks
  another branding theme shows no conflict and writes nothing to it in Xero.
- A draft takes the new theme on its next write.
- While the setting does not own tracking, a tracking option a person chose on a draft line
  in Xero survives bridge rewriting the lines; once the setting owns it, ours wins.
- Tracking mapped from an invoice field (not a product section) arrives in Xero per line.
"""
from __future__ import annotations

from tests.e2e.conftest import ACME
from tests.e2e.test_bitrix24_xero import deliver_events, xero_invoices
from tests.e2e.test_bitrix24_xero_invoices import edit_invoice, records, rows, settings, xero_api, xero_flush
from tests.e2e.test_bitrix24_xero_shaping import _org, _region_tracking, _theme_id
from tests.e2e.test_lone_invoice import company, mark


def _invoice(live, title: str, **fields) -> dict:
    return live.control(f"bitrix24/portals/{ACME}/invoices", json={
        "fields": {"title": title, "companyId": company(live, f"{title} Ltd"), "currencyId": "NZD", **fields},
        "rows": rows()})["item"]


def _xero_invoice(live, url_tail: str) -> dict:
    return next(i for i in xero_invoices(live) if i["Url"].endswith(url_tail))


def _invoice_writes(live, since: int) -> list[dict]:
    log = live.control(f"requests?since={since}", method="GET")["requests"]
    return [c for c in log if "/api.xro/2.0/Invoices" in c["path"] and c["method"] in ("PUT", "POST")]


def test_a_branding_change_is_no_conflict_for_an_approved_invoice_and_a_draft_takes_it(portal):
    live = portal
    standard, special = _theme_id(live, "Standard"), _theme_id(live, "Special Projects")
    settings(live, "document", {"branding_theme": standard})
    approved, draft = _invoice(live, "Approved"), _invoice(live, "Draft")
    deliver_events(live)
    sent = _xero_invoice(live, f"/details/{approved['id']}/")
    live.control(f"xero/orgs/{live.tenant}/invoices/{sent['InvoiceID']}/approve")
    xero_flush(live)
    before = _xero_invoice(live, f"/details/{approved['id']}/")
    assert before["Status"] == "AUTHORISED" and before["BrandingThemeID"] == standard

    settings(live, "document", {"branding_theme": special})  # the user picks another theme
    since = mark(live)
    for item in (approved, draft):  # an edit of something the Xero invoice does not show
        edit_invoice(live, item["id"], fields={"comments": "Called the customer"})
    live.control(f"xero/orgs/{live.tenant}/invoices/{sent['InvoiceID']}/pay", json={"amount": "15.00"})
    xero_flush(live)  # and an event from Xero for the approved one

    after = _xero_invoice(live, f"/details/{approved['id']}/")
    assert after["BrandingThemeID"] == standard and after["AmountPaid"] == 15
    assert not [c for c in _invoice_writes(live, since) if sent["InvoiceID"] in c["path"] + c["body"]]
    shown = [r for r in records(live, flow=None) if r.object_id in (str(approved["id"]), str(draft["id"]))]
    assert [r for r in shown if r.state in ("conflict", "failed")] == []
    last = records(live, object_id=approved["id"])[-1]
    assert last.state == "skipped" and "keeps what it was approved with" in last.warning
    assert _xero_invoice(live, f"/details/{draft['id']}/")["BrandingThemeID"] == special  # a draft takes it


def _tracking(invoice: dict) -> list[list[tuple[str, str]]]:
    return [[(t["Name"], t["Option"]) for t in line.get("Tracking") or []] for line in invoice["LineItems"]]


def _person_tracks_first_line(live, invoice: dict, option: str) -> None:
    """A person picks a tracking option on the draft's first line in Xero."""
    line = invoice["LineItems"][0]["LineItemID"]
    answer = xero_api(live, "POST", "Invoices", {"Invoices": [{"InvoiceID": invoice["InvoiceID"], "LineItems": [
        {"LineItemID": line, "Tracking": [{"Name": "Region", "Option": option}]}]}]})
    assert answer.status_code == 200, answer.text
    xero_flush(live)


def test_a_persons_tracking_on_a_draft_line_survives_our_rewrite_while_the_setting_does_not_own_it(portal):
    live = portal
    _region_tracking(live)
    item = _invoice(live, "Tracked")
    deliver_events(live)
    draft = _xero_invoice(live, f"/details/{item['id']}/")
    _person_tracks_first_line(live, draft, "North")
    edit_invoice(live, item["id"], rows=[dict(rows()[0], quantity=3), dict(rows()[0], productName="Setup")])
    after = _xero_invoice(live, f"/details/{item['id']}/")
    assert [line["Quantity"] for line in after["LineItems"]] == [3, 1]  # our rewrite arrived...
    assert _tracking(after) == [[("Region", "North")], []]  # ...and the person's tracking stayed


def _region_field(live) -> None:
    """A text field "Region" on the portal's invoices, as its administrator adds it."""
    from bridge.connectors.bitrix24 import store
    with live.app.app_context():
        store.client_for(store.find(live.member_id)).call("userfieldconfig.add", {"moduleId": "crm", "field": {
            "entityId": "CRM_SMART_INVOICE", "fieldName": "UF_CRM_SMART_INVOICE_REGION", "userTypeId": "string"}})


def test_tracking_from_an_invoice_field_arrives_and_once_owned_ours_wins_over_a_persons(portal):
    live = portal
    _region_tracking(live)
    _region_field(live)
    # The field named as Bitrix24's field settings show it; crm.item reads it as ufCrmSmartInvoiceRegion.
    settings(live, "document", {"tracking_category": "Region", "tracking_source": "field",
                                "tracking_field": "UF_CRM_SMART_INVOICE_REGION",
                                "tracking_options": {"N": "North", "S": "South"}})
    item = _invoice(live, "Owned", ufCrmSmartInvoiceRegion="S")
    deliver_events(live)
    draft = _xero_invoice(live, f"/details/{item['id']}/")
    assert _tracking(draft) == [[("Region", "South")]]  # mapped from the invoice's field
    _person_tracks_first_line(live, draft, "North")
    edit_invoice(live, item["id"], rows=rows(quantity=2))
    assert _tracking(_xero_invoice(live, f"/details/{item['id']}/")) == [[("Region", "South")]]  # ours wins
    edit_invoice(live, item["id"], fields={"ufCrmSmartInvoiceRegion": "N"})  # the field changes: the lines follow
    assert _tracking(_xero_invoice(live, f"/details/{item['id']}/")) == [[("Region", "North")]]
    edit_invoice(live, item["id"], fields={"ufCrmSmartInvoiceRegion": "W"})  # a value with no option: none
    assert _tracking(_xero_invoice(live, f"/details/{item['id']}/")) == [[]]
