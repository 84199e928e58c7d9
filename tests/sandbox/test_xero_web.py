"""go.xero.com in the sandbox: the invoice page Xero's deep links open, where a Xero user
approves, marks as sent and adds a payment, each firing the webhooks the API path fires."""
from __future__ import annotations

import requests

from tests.sandbox.xero_fixtures import xero, xero_spec  # noqa: F401


def view_url(xero, invoice_id: str) -> str:
    return f"{xero.url}/go.xero.com/AccountsReceivable/View.aspx?InvoiceID={invoice_id}"


def press(xero, invoice_id: str, **form: str) -> requests.Response:
    return requests.post(view_url(xero, invoice_id), data=form, timeout=10)


def pending_events(xero) -> int:
    return xero.control("GET", "webhooks/deliveries").json()["pending"]


def test_a_xero_user_approves_marks_sent_and_pays_on_the_invoice_page_and_bridge_hears_each(xero):
    xero.control("POST", "settings", json={"webhooks_enabled": False})  # count them instead of sending
    invoice = xero.invoice(xero.contact("Harbour Cafe Ltd")["ContactID"])
    before = pending_events(xero)
    page = requests.get(view_url(xero, invoice["InvoiceID"]), timeout=10)
    assert page.status_code == 200 and invoice["InvoiceNumber"] in page.text and "Harbour Cafe Ltd" in page.text
    assert ">Approve<" in page.text and "Add payment" not in page.text  # a draft cannot be paid

    page = press(xero, invoice["InvoiceID"], action="approve")
    assert "AUTHORISED" in page.text and ">Mark as sent<" in page.text and "Add payment" in page.text
    assert pending_events(xero) == before + 1

    page = press(xero, invoice["InvoiceID"], action="sent")
    assert "AUTHORISED (sent)" in page.text and ">Mark as sent<" not in page.text
    assert pending_events(xero) == before + 2

    page = press(xero, invoice["InvoiceID"], action="pay")  # the amount due, as Xero suggests it
    assert "PAID" in page.text and "Add payment" not in page.text
    assert pending_events(xero) > before + 2
    state = xero.control("GET", f"orgs/{xero.tenant_id}/state").json()
    paid = next(i for i in state["invoices"] if i["InvoiceID"] == invoice["InvoiceID"])
    assert paid["Status"] == "PAID" and paid["SentToContact"] is True


def test_a_refused_action_is_said_on_the_page_and_an_unknown_invoice_is_a_readable_404(xero):
    invoice = xero.invoice(xero.contact("Slow Payer Ltd")["ContactID"], status="AUTHORISED")
    page = press(xero, invoice["InvoiceID"], action="pay", amount="-5")
    assert "Enter the amount paid." in page.text and "AUTHORISED" in page.text
    missing = requests.get(view_url(xero, "00000000-0000-0000-0000-000000000000"), timeout=10)
    assert missing.status_code == 404 and "does not exist" in missing.text


def test_the_organisation_list_leads_to_its_sales_invoices(xero):
    invoice = xero.invoice(xero.contact("Listed Ltd")["ContactID"])
    home = requests.get(f"{xero.url}/go.xero.com/", timeout=10)
    assert "Test Org" in home.text
    listing = requests.get(f"{xero.url}/go.xero.com/AccountsReceivable/Search.aspx?tenant={xero.tenant_id}", timeout=10)
    assert invoice["InvoiceNumber"] in listing.text and "Listed Ltd" in listing.text
