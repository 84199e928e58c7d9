"""Xero credit notes, payments and the online invoice, on the wire (official spec:
CreditNotes, /CreditNotes/{id}/Allocations, Invoice.Payments/CreditNotes,
/Invoices/{id}/OnlineInvoice).

Xero credit notes have no ``Url`` field and their Reference and number are printed for the
customer, so ours is recognised by what the invoice says (its ``CreditNotes`` and their
``AppliedAmount``) and, before it is applied, by contact, total and remaining credit.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from ...ports import CreditNote, Settlement
from .mapper import dec, parse_date


def settlements(xero_invoice: dict[str, Any]) -> tuple[Settlement, ...]:
    """The payments and credit notes applied to an invoice, oldest first."""
    out = [Settlement(kind="payment", ledger_id=str(p.get("PaymentID") or ""), amount=dec(p.get("Amount")),
                      on=parse_date(p.get("Date")), account=str((p.get("Account") or {}).get("Code") or ""))
           for p in xero_invoice.get("Payments") or [] if p.get("PaymentID")]
    out += [Settlement(kind="credit_note", ledger_id=str(c.get("CreditNoteID") or ""),
                       amount=dec(c.get("AppliedAmount")), on=parse_date(c.get("Date")),
                       number=str(c.get("CreditNoteNumber") or ""))
            for c in xero_invoice.get("CreditNotes") or [] if c.get("CreditNoteID")]
    return tuple(sorted(out, key=lambda s: (s.on is None, s.on)))


def credit_note_body(contact_id: str, currency: str, amount: Decimal, description: str,
                     account_code: str) -> dict[str, Any]:
    """An approved ACCRECCREDIT of one line over ``amount`` (tax included: the line says
    what the customer gets back, whatever the invoice's tax)."""
    line: dict[str, Any] = {"Description": description, "Quantity": 1, "UnitAmount": amount}
    if account_code:
        line["AccountCode"] = account_code
    body: dict[str, Any] = {"Type": "ACCRECCREDIT", "Status": "AUTHORISED", "Contact": {"ContactID": contact_id},
                            "LineAmountTypes": "Inclusive", "LineItems": [line]}
    if currency:
        body["CurrencyCode"] = currency
    return body


def allocation_body(invoice_id: str, amount: Decimal, on: datetime | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"Invoice": {"InvoiceID": invoice_id}, "Amount": amount}
    if on is not None:
        body["Date"] = on.date().isoformat()
    return body


def credit_note(data: dict[str, Any]) -> CreditNote:
    return CreditNote(ledger_id=str(data.get("CreditNoteID") or ""), number=str(data.get("CreditNoteNumber") or ""),
                      total=dec(data.get("Total")), remaining=dec(data.get("RemainingCredit")))


def unapplied_match(candidates: list[dict[str, Any]], contact_id: str, total: Decimal) -> CreditNote | None:
    """Of the credit notes read, one for the contact over ``total`` with nothing applied yet."""
    for data in candidates:
        note = credit_note(data)
        if (data.get("Type") == "ACCRECCREDIT" and data.get("Status") in ("AUTHORISED", "SUBMITTED", "DRAFT")
                and str((data.get("Contact") or {}).get("ContactID") or "").lower() == contact_id.lower()
                and note.total == total and note.remaining == note.total):
            return note
    return None


def online_url(answer: dict[str, Any] | None) -> str:
    items = (answer or {}).get("OnlineInvoices") or []
    return str(items[0].get("OnlineInvoiceUrl") or "") if items else ""
