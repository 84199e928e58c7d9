"""Two Xero behaviours a client only meets in production: large organisations refuse
unoptimised ``where`` filters, and a SentToContact edit on a part-paid invoice moves
neither UpdatedDateUTC nor a webhook (specs/xero/NOTES.md section 2)."""
from __future__ import annotations

from email.utils import format_datetime

from tests.sandbox.xero_fixtures import xero, xero_spec  # noqa: F401


def _large(xero, threshold: int = 2) -> str:
    contact = xero.contact()
    for _ in range(threshold + 1):
        xero.invoice(contact["ContactID"])
    assert xero.control("POST", f"orgs/{xero.tenant_id}/high-volume", json={"threshold": threshold}).ok
    return contact["ContactID"]


def test_a_large_organisation_refuses_an_unoptimised_where_filter(xero):
    contact_id = _large(xero)
    for where in ('Reference=="PO-7"', 'Url=="https://portal.test/crm/invoice/7/"',
                  'Type=="ACCREC" AND Reference.Contains("7")'):
        resp = xero.call("GET", "Invoices", params={"where": where})
        assert resp.status_code == 400, where
        assert resp.json()["Type"] == "HighVolumeException" and "not filtering Invoices efficiently" in \
            resp.json()["Message"]
    # optimised filters and the list parameters still answer
    ok = xero.call("GET", "Invoices", params={"where": f'Type=="ACCREC" AND Contact.ContactID==Guid("{contact_id}")'})
    assert ok.status_code == 200 and len(ok.json()["Invoices"]) == 3
    mine = xero.call("GET", "Invoices", params={"ContactIDs": contact_id, "createdByMyApp": "true",
                                                "Statuses": "DRAFT,AUTHORISED", "page": 1})
    assert mine.status_code == 200 and len(mine.json()["Invoices"]) == 3


def test_a_small_organisation_runs_any_filter(xero):
    contact = xero.contact()
    xero.invoice(contact["ContactID"], Reference="PO-7")
    resp = xero.call("GET", "Invoices", params={"where": 'Reference=="PO-7"'})
    assert resp.status_code == 200 and len(resp.json()["Invoices"]) == 1


def _webhook_events(xero) -> list:
    return xero.control("GET", "webhooks/pending").json()["pending"]


def test_marking_a_part_paid_invoice_sent_moves_neither_its_date_nor_a_webhook(xero):
    xero.control("POST", "settings", json={"webhooks_enabled": False})
    try:
        contact = xero.contact()
        inv = xero.invoice(contact["ContactID"], status="AUTHORISED")
        path = f"orgs/{xero.tenant_id}/invoices/{inv['InvoiceID']}"
        assert xero.control("POST", f"{path}/pay", json={"amount": "50.00"}).ok
        before = xero.call("GET", f"Invoices/{inv['InvoiceID']}").json()["Invoices"][0]
        xero.control("POST", "webhooks/flush")
        xero.advance(5)
        sent = xero.control("POST", f"{path}/send")
        assert sent.ok and sent.json()["SentToContact"] is True
        after = xero.call("GET", f"Invoices/{inv['InvoiceID']}").json()["Invoices"][0]
        assert after["SentToContact"] is True and after["UpdatedDateUTC"] == before["UpdatedDateUTC"]
        assert [e for e in _webhook_events(xero) if e.get("resourceId") == inv["InvoiceID"]] == []
        since = xero.call("GET", "Invoices", headers={"If-Modified-Since": format_datetime(
            xero.system.host.clock.now() - __import__("datetime").timedelta(seconds=2), usegmt=True)})
        assert inv["InvoiceID"] not in [i["InvoiceID"] for i in since.json()["Invoices"]]
    finally:
        xero.control("POST", "webhooks/flush")
        xero.control("POST", "settings", json={"webhooks_enabled": True})


def test_marking_an_unpaid_invoice_sent_moves_its_date_and_emailing_marks_it_sent(xero):
    contact = xero.contact()
    inv = xero.invoice(contact["ContactID"], status="AUTHORISED")
    xero.advance(5)
    sent = xero.control("POST", f"orgs/{xero.tenant_id}/invoices/{inv['InvoiceID']}/send").json()
    assert sent["SentToContact"] is True and sent["UpdatedDateUTC"] != inv["UpdatedDateUTC"]
    other = xero.invoice(contact["ContactID"], status="AUTHORISED")
    assert xero.call("POST", f"Invoices/{other['InvoiceID']}/Email", json={}).status_code == 204
    assert xero.call("GET", f"Invoices/{other['InvoiceID']}").json()["Invoices"][0]["SentToContact"] is True
    draft = xero.invoice(contact["ContactID"])
    assert xero.call("POST", f"Invoices/{draft['InvoiceID']}/Email", json={}).status_code == 400
