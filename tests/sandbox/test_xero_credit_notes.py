"""Credit notes, their allocations to invoices and the online invoice link, every exchange
checked against the official spec: what a client sees on the invoice after a credit."""
from __future__ import annotations

from tests.sandbox.xero_fixtures import xero, xero_spec  # noqa: F401


def messages(resp) -> list[str]:
    return [e["Message"] for el in resp.json()["Elements"] for e in el["ValidationErrors"]]


def credit_note(xero, contact_id: str, amount, status: str = "AUTHORISED", **fields):
    body = {"Type": "ACCRECCREDIT", "Contact": {"ContactID": contact_id}, "Status": status,
            "LineItems": [{"Description": "Refund", "Quantity": 1, "UnitAmount": amount, "AccountCode": "200"}],
            **fields}
    resp = xero.call("PUT", "CreditNotes", json={"CreditNotes": [body]})
    assert resp.status_code == 200, resp.text
    return resp.json()["CreditNotes"][0]


def allocate(xero, cn_id: str, invoice_id: str, amount):
    return xero.call("PUT", f"CreditNotes/{cn_id}/Allocations", json={"Allocations": [
        {"Invoice": {"InvoiceID": invoice_id}, "Amount": amount, "Date": "2030-01-06"}]})


def invoice(xero, iid: str) -> dict:
    return xero.call("GET", f"Invoices/{iid}").json()["Invoices"][0]


def test_a_credit_note_allocated_to_a_part_paid_invoice_settles_it(xero):
    contact = xero.contact()
    inv = xero.invoice(contact["ContactID"], status="AUTHORISED")  # 200 + 15% = 230
    xero.call("PUT", "Payments", json={"Payments": [{"Invoice": {"InvoiceID": inv["InvoiceID"]},
                                                     "Account": {"Code": "090"}, "Amount": 100}]})
    cn = credit_note(xero, contact["ContactID"], 200, Reference="Refund order 7")
    assert cn["CreditNoteNumber"] == "CN-0001" and cn["Total"] == 230 and cn["RemainingCredit"] == 230
    # only what is still due can be allocated
    too_much = allocate(xero, cn["CreditNoteID"], inv["InvoiceID"], 230)
    assert too_much.status_code == 400
    assert messages(too_much) == ["Allocation amount exceeds the amount due on the invoice"]
    ok = allocate(xero, cn["CreditNoteID"], inv["InvoiceID"], 130)
    assert ok.status_code == 200 and ok.json()["Allocations"][0]["Amount"] == 130
    after = invoice(xero, inv["InvoiceID"])
    assert after["Status"] == "PAID" and after["AmountDue"] == 0 and after["AmountCredited"] == 130
    assert [(c["CreditNoteID"], c["AppliedAmount"]) for c in after["CreditNotes"]] == [(cn["CreditNoteID"], 130)]
    back = xero.call("GET", f"CreditNotes/{cn['CreditNoteID']}").json()["CreditNotes"][0]
    assert back["RemainingCredit"] == 100 and back["Status"] == "AUTHORISED"
    assert [a["Invoice"]["InvoiceID"] for a in back["Allocations"]] == [inv["InvoiceID"]]
    # an allocated credit note cannot be voided, nor an invoice with a credit
    assert xero.call("POST", f"CreditNotes/{cn['CreditNoteID']}", json={"Status": "VOIDED"}).status_code == 400
    assert xero.call("POST", f"Invoices/{inv['InvoiceID']}", json={"Status": "VOIDED"}).status_code == 400


def test_allocation_rules(xero):
    contact, other = xero.contact(), xero.contact("Other Ltd")
    inv = xero.invoice(contact["ContactID"], status="AUTHORISED")
    draft = credit_note(xero, contact["ContactID"], 10, status="DRAFT")
    assert messages(allocate(xero, draft["CreditNoteID"], inv["InvoiceID"], 5)) == [
        "Only approved credit notes can be allocated"]
    foreign = credit_note(xero, other["ContactID"], 10)
    assert messages(allocate(xero, foreign["CreditNoteID"], inv["InvoiceID"], 5)) == [
        "The credit note and the invoice must be for the same contact"]
    small = credit_note(xero, contact["ContactID"], 10)  # 11.50
    assert messages(allocate(xero, small["CreditNoteID"], inv["InvoiceID"], 20)) == [
        "Allocation amount exceeds the remaining credit on the credit note"]
    whole = allocate(xero, small["CreditNoteID"], inv["InvoiceID"], "11.50").json()["Allocations"][0]
    paid = xero.call("GET", f"CreditNotes/{small['CreditNoteID']}").json()["CreditNotes"][0]
    assert paid["Status"] == "PAID" and paid["RemainingCredit"] == 0
    # removing the allocation gives the credit back and the amount due with it
    gone = xero.call("DELETE", f"CreditNotes/{small['CreditNoteID']}/Allocations/{whole['AllocationID']}")
    assert gone.status_code == 200
    assert invoice(xero, inv["InvoiceID"])["AmountDue"] == 230
    assert xero.call("GET", f"CreditNotes/{small['CreditNoteID']}").json()["CreditNotes"][0]["Status"] == "AUTHORISED"


def test_credit_notes_are_listed_incrementally_and_put_only_creates(xero):
    contact = xero.contact()
    cn = credit_note(xero, contact["ContactID"], 10)
    again = xero.call("PUT", "CreditNotes", json={"CreditNotes": [{"CreditNoteID": cn["CreditNoteID"],
                                                                   "Type": "ACCRECCREDIT"}]})
    assert again.status_code == 400
    listed = xero.call("GET", "CreditNotes", params={"page": 1}).json()["CreditNotes"]
    assert [c["CreditNoteID"] for c in listed] == [cn["CreditNoteID"]]


def test_online_invoice_link_only_for_approved_sales_invoices(xero):
    contact = xero.contact()
    draft = xero.invoice(contact["ContactID"])
    assert xero.call("GET", f"Invoices/{draft['InvoiceID']}/OnlineInvoice").status_code == 400
    approved = xero.invoice(contact["ContactID"], status="AUTHORISED")
    first = xero.call("GET", f"Invoices/{approved['InvoiceID']}/OnlineInvoice").json()["OnlineInvoices"][0]
    assert first["OnlineInvoiceUrl"].startswith("https://in.xero.com/")
    second = xero.call("GET", f"Invoices/{approved['InvoiceID']}/OnlineInvoice").json()["OnlineInvoices"][0]
    assert second == first  # the link a customer was sent keeps working


def test_branding_themes_and_tracking_categories_shape_the_invoice(xero):
    themes = xero.call("GET", "BrandingThemes").json()["BrandingThemes"]
    assert [t["Name"] for t in themes] == ["Standard", "Special Projects"] and themes[0]["SortOrder"] == 0
    region = xero.call("PUT", "TrackingCategories", json={"Name": "Region"}).json()["TrackingCategories"][0]
    xero.call("PUT", f"TrackingCategories/{region['TrackingCategoryID']}/Options", json={"Name": "North"})
    xero.call("PUT", "TrackingCategories", json={"Name": "Team"})
    third = xero.call("PUT", "TrackingCategories", json={"Name": "Third"})
    assert third.status_code == 400 and messages(third) == ["You can only have 2 active tracking categories"]
    contact = xero.contact()
    line = {"Description": "x", "Quantity": 1, "UnitAmount": 10, "AccountCode": "200",
            "Tracking": [{"Name": "Region", "Option": "North"}]}
    inv = xero.invoice(contact["ContactID"], lines=[line], BrandingThemeID=themes[1]["BrandingThemeID"])
    (tracked,) = inv["LineItems"][0]["Tracking"]
    assert tracked["Option"] == "North" and tracked["TrackingCategoryID"] == region["TrackingCategoryID"]
    assert inv["BrandingThemeID"] == themes[1]["BrandingThemeID"]
    unknown = xero.call("PUT", "Invoices", json={"Invoices": [{
        "Type": "ACCREC", "Contact": {"ContactID": contact["ContactID"]},
        "LineItems": [{**line, "Tracking": [{"Name": "Region", "Option": "South"}]}]}]})
    assert messages(unknown) == ["Tracking option 'South' is not an active option of 'Region'"]
