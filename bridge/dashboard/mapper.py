"""Xero bank transactions and payments -> the values of a ``LedgerTransaction`` row. Pure.

Direction of money, from the bank account's point of view:
- BankTransactions: ``RECEIVE*`` types bring money in, ``SPEND*`` take it out (Xero's
  Type enum: RECEIVE, RECEIVE-OVERPAYMENT, RECEIVE-PREPAYMENT, RECEIVE-TRANSFER, SPEND, ...).
- Payments: a payment on a sales invoice (ACCRECPAYMENT) or a refund received on a supplier
  credit note (APCREDITPAYMENT, APOVERPAYMENTPAYMENT, APPREPAYMENTPAYMENT) is money in;
  the others (ACCPAYPAYMENT, ARCREDITPAYMENT, ...) are money out.
Amounts are kept positive; the direction says which way they went.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..connectors.xero.mapper import dec, parse_date, parse_datetime
from .models import to_e4

PAYMENT_TYPES_IN = {"ACCRECPAYMENT", "APCREDITPAYMENT", "APOVERPAYMENTPAYMENT", "APPREPAYMENTPAYMENT"}


def _text(value: Any, limit: int = 255) -> str:
    return str(value or "")[:limit]


def bank_transaction_row(bt: dict[str, Any]) -> dict[str, Any]:
    kind_type = _text(bt.get("Type"), 40)
    contact = bt.get("Contact") or {}
    account = bt.get("BankAccount") or {}
    return {
        "kind": "bank_transaction", "ledger_id": _text(bt.get("BankTransactionID"), 64).lower(),
        "type": kind_type, "direction": "out" if kind_type.startswith("SPEND") else "in",
        "date": parse_date(bt.get("Date")), "status": _text(bt.get("Status"), 20),
        "contact_id": contact.get("ContactID"), "contact_name": _text(contact.get("Name")),
        "account_id": account.get("AccountID"), "account_code": _text(account.get("Code"), 20),
        "account_name": _text(account.get("Name")), "reference": _text(bt.get("Reference")),
        "document_number": "", "currency": _text(bt.get("CurrencyCode"), 3),
        "amount_e4": to_e4(abs(dec(bt.get("Total")))), "reconciled": bt.get("IsReconciled"),
        "ledger_updated_at": parse_datetime(bt.get("UpdatedDateUTC")),
    }


def payment_row(payment: dict[str, Any]) -> dict[str, Any]:
    kind_type = _text(payment.get("PaymentType"), 40)
    invoice = payment.get("Invoice") or {}
    contact = invoice.get("Contact") or {}
    account = payment.get("Account") or {}
    amount: Decimal = abs(dec(payment.get("Amount")))
    return {
        "kind": "payment", "ledger_id": _text(payment.get("PaymentID"), 64).lower(),
        "type": kind_type, "direction": "in" if kind_type in PAYMENT_TYPES_IN else "out",
        "date": parse_date(payment.get("Date")), "status": _text(payment.get("Status"), 20),
        "contact_id": contact.get("ContactID"), "contact_name": _text(contact.get("Name")),
        "account_id": account.get("AccountID"), "account_code": _text(account.get("Code"), 20),
        "account_name": _text(account.get("Name")), "reference": _text(payment.get("Reference")),
        "document_number": _text(invoice.get("InvoiceNumber")),
        "currency": _text(invoice.get("CurrencyCode") or payment.get("CurrencyCode"), 3),
        "amount_e4": to_e4(amount), "reconciled": payment.get("IsReconciled"),
        "ledger_updated_at": parse_datetime(payment.get("UpdatedDateUTC")),
    }
