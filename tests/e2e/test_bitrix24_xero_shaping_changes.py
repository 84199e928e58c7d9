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
from tests.e2e.test_bitrix24_xero_invoices import edit_invoice, records, rows, settings, xero_flush
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
