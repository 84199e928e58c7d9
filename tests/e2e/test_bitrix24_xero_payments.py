"""Bitrix24 <- Xero, end to end over real HTTP: each Xero payment (and credit note) on a
synced invoice is written once under the Bitrix24 invoice (a timeline comment with the
amount, the date, part or full, and what is still due), whatever repeats or crashes."""
from __future__ import annotations

from bridge import faults
from tests.e2e.conftest import ACME
from tests.e2e.test_bitrix24_xero import deliver_events, new_invoice, xero_invoices
from tests.e2e.test_bitrix24_xero_invoices import ask, xero_api, xero_flush


def comments(live, item_id) -> list[str]:
    state = live.control(f"bitrix24/portals/{ACME}/state", method="GET")
    return [c["COMMENT"] for c in sorted(state["timeline"], key=lambda c: c["ID"]) if c["ENTITY_ID"] == int(item_id)]


def approved(live) -> tuple[dict, dict]:
    item = new_invoice(live)  # 2,300.00 NZD
    deliver_events(live)
    (invoice,) = xero_invoices(live)
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/approve")
    xero_flush(live)
    return item, invoice


def pay(live, invoice, amount, on) -> None:
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/pay",
                 json={"amount": amount, "date": on})


def test_each_payment_is_one_comment_with_the_balance(portal):
    live = portal
    item, invoice = approved(live)
    assert comments(live, item["id"]) == []
    pay(live, invoice, "800.00", "2026-12-01")
    xero_flush(live)
    (first,) = comments(live, item["id"])
    assert "800.00 NZD" in first and "2026-12-01" in first and "part payment" in first and "1500.00 NZD" in first
    pay(live, invoice, "1500.00", "2026-12-03")
    xero_flush(live)
    # the same change read again (a repeated webhook, the poll) adds nothing
    ask(live, "ledger_invoice_changed", f"ledger_invoice:{invoice['InvoiceID']}")
    xero_flush(live)
    notes = comments(live, item["id"])
    assert len(notes) == 2 and "paid in full" in notes[1] and "1500.00 NZD" in notes[1]


def test_the_invoice_tab_lists_each_payment_and_what_is_still_due(portal):
    """The tab shows each Xero payment (date, part or full, account, amount) and the balance."""
    from tests.e2e.test_bitrix24_xero_parties import invoice_tab
    live = portal
    item, invoice = approved(live)
    pay(live, invoice, "800.00", "2026-12-01")
    xero_flush(live)
    tab = invoice_tab(live, item["id"])
    assert "Payments and credit notes in Xero" in tab and "Part payment" in tab and "Dec 1, 2026" in tab
    assert "NZ$800.00" in tab and "Still due:</strong> NZ$1,500.00" in tab
    pay(live, invoice, "1500.00", "2026-12-03")
    xero_flush(live)
    tab = invoice_tab(live, item["id"])
    assert "Payment, paid in full" in tab and "NZ$1,500.00" in tab and "Still due:</strong> NZ$0.00" in tab


def test_a_crash_after_the_comment_is_not_a_second_comment(portal):
    live = portal
    item, invoice = approved(live)
    faults.arm("after invoice note", "raise", times=1)
    try:
        pay(live, invoice, "300.00", "2026-12-01")
        xero_flush(live)
    finally:
        faults.disarm("after invoice note")
    assert len(comments(live, item["id"])) == 1
    ask(live, "ledger_invoice_changed", f"ledger_invoice:{invoice['InvoiceID']}")
    assert len(comments(live, item["id"])) == 1


def test_a_credit_note_applied_in_xero_shows_under_the_invoice(portal):
    live = portal
    item, invoice = approved(live)
    note = xero_api(live, "PUT", "CreditNotes", {"CreditNotes": [{
        "Type": "ACCRECCREDIT", "Status": "AUTHORISED", "Contact": {"ContactID": invoice["Contact"]["ContactID"]},
        "LineAmountTypes": "Inclusive", "LineItems": [{"Description": "Goodwill", "Quantity": 1,
                                                       "UnitAmount": 230, "AccountCode": "200"}]}]}).json()
    cn = note["CreditNotes"][0]
    xero_api(live, "PUT", f"CreditNotes/{cn['CreditNoteID']}/Allocations", {"Allocations": [
        {"Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Amount": 230}]})
    xero_flush(live)
    (text,) = comments(live, item["id"])
    assert cn["CreditNoteNumber"] in text and "230.00 NZD" in text and "2070.00 NZD" in text
    from tests.e2e.test_bitrix24_xero_parties import invoice_tab
    tab = invoice_tab(live, item["id"])  # and on the tab, with what is still due
    assert f"Credit note {cn['CreditNoteNumber']}" in tab and "Still due:</strong> NZ$2,070.00" in tab


def test_a_payment_on_an_invoice_deleted_in_bitrix24_is_no_failure(portal):
    live = portal
    item, invoice = approved(live)
    live.control(f"bitrix24/portals/{ACME}/invoices/{item['id']}", method="DELETE")
    deliver_events(live)
    pay(live, invoice, "100.00", "2026-12-02")
    xero_flush(live)
    from tests.e2e.test_bitrix24_xero_invoices import records
    followed = records(live, flow="ledger_invoice_changed", object_id=item["id"])
    assert followed and all(r.state in ("succeeded", "skipped") for r in followed), [
        (r.state, r.error_message) for r in followed]
