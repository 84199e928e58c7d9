"""Payments against invoices (NOTES section 5). There is no Payment webhook; paying an
invoice fires an INVOICE UPDATE [N: likely]."""
from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from . import invoices, query
from .common import Ctx, Invalid, NotFound, elements, listing, number, parse_date, run_batch
from .store import Org
from .wire import money, utc_string


def render(org: Org, p: dict) -> dict:
    out = {k: v for k, v in p.items() if not k.startswith("_")}
    inv = org.invoices[p["_invoice_id"]]
    contact = org.contacts.get(inv["_contact_id"], {})
    account = org.account_by_id(p["_account_id"]) or {}
    out["Invoice"] = {"InvoiceID": inv["InvoiceID"], "InvoiceNumber": inv.get("InvoiceNumber", ""),
                      "Type": inv["Type"], "CurrencyCode": inv["CurrencyCode"], "IsDiscounted": False,
                      "HasErrors": False, "Payments": [], "CreditNotes": [], "Prepayments": [], "Overpayments": [],
                      "Contact": {"ContactID": contact.get("ContactID"), "Name": contact.get("Name", ""),
                                  "HasValidationErrors": False}}
    out["Account"] = {"AccountID": account.get("AccountID"), "Code": account.get("Code", "")}
    out["UpdatedDateUTCString"] = utc_string(p["UpdatedDateUTC"])
    return out


def create(ctx: Ctx, raw: dict) -> dict:
    org = ctx.org
    errors: list[str] = []
    ref = raw.get("Invoice") or {}
    inv = None
    if isinstance(ref, dict) and ref.get("InvoiceID"):
        inv = org.invoices.get(str(ref["InvoiceID"]).lower())
    elif isinstance(ref, dict) and ref.get("InvoiceNumber"):
        inv = invoices.find(org, str(ref["InvoiceNumber"]))
    if inv is None:
        raise Invalid("You must specify an Invoice, CreditNote, Prepayment or Overpayment for the payment")
    acc_ref = raw.get("Account") or {}
    account = None
    if isinstance(acc_ref, dict) and acc_ref.get("AccountID"):
        account = org.account_by_id(acc_ref["AccountID"])
    elif isinstance(acc_ref, dict) and acc_ref.get("Code"):
        account = org.account_by_code(acc_ref["Code"])
    if account is None:
        errors.append("Account could not be found")
    elif account["Type"] != "BANK" and not account.get("EnablePaymentsToAccount"):
        # BANK or EnablePaymentsToAccount=true [N]
        errors.append("Payments cannot be made to this account. Enable payments on the account or use a bank account.")
    amount = number(raw.get("Amount"), "Amount")
    if inv["Status"] != "AUTHORISED":
        errors.append("Payments can only be made against Authorised documents")  # [M] message
    elif amount is None or amount <= 0:
        errors.append("Payment amount must be greater than zero")
    elif money(amount) > inv["AmountDue"]:
        errors.append("Payment amount exceeds the amount outstanding on this document")  # [N]
    pay_date = parse_date(raw.get("Date"), "Date") or ctx.today
    if errors:
        raise Invalid(*errors)
    amount = money(amount)
    payment = {"PaymentID": str(uuid.uuid4()), "Date": pay_date, "Amount": amount, "BankAmount": amount,
               "Reference": raw.get("Reference", ""), "CurrencyRate": Decimal(str(raw.get("CurrencyRate", 1))),
               "PaymentType": "ACCRECPAYMENT" if inv["Type"] == "ACCREC" else "ACCPAYPAYMENT",
               "Status": "AUTHORISED", "IsReconciled": bool(raw.get("IsReconciled", False)), "HasAccount": True,
               "HasValidationErrors": False, "_invoice_id": inv["InvoiceID"], "_account_id": account["AccountID"],
               "_created_by": ctx.grant.client_id}
    payment["UpdatedDateUTC"] = org.stamp(ctx.now)
    org.payments[payment["PaymentID"]] = payment
    inv["_payment_ids"].append(payment["PaymentID"])
    _apply_to_invoice(ctx, inv, amount, pay_date)
    return render(org, payment)


def _apply_to_invoice(ctx: Ctx, inv: dict, amount: Decimal, when: Any) -> None:
    org = ctx.org
    inv["AmountPaid"] = inv["AmountPaid"] + amount
    inv["AmountDue"] = inv["Total"] - inv["AmountPaid"] - inv["AmountCredited"]
    if inv["AmountDue"] == 0 and inv["Status"] == "AUTHORISED":
        inv["Status"] = "PAID"  # set by Xero when AmountDue reaches 0 (NOTES section 3)
        inv["FullyPaidOnDate"] = when
    elif inv["AmountDue"] > 0 and inv["Status"] == "PAID":
        inv["Status"] = "AUTHORISED"
        inv.pop("FullyPaidOnDate", None)
    inv["UpdatedDateUTC"] = org.stamp(ctx.now)
    ctx.event("INVOICE", inv["InvoiceID"], "UPDATE", inv["UpdatedDateUTC"])


def delete(ctx: Ctx, payment: dict, raw: dict) -> dict:
    """Payments cannot be edited, only deleted with {"Status":"DELETED"} [M]."""
    if raw.get("Status") != "DELETED" or payment["Status"] == "DELETED":
        raise Invalid("Payments can only be deleted (Status DELETED); they cannot be edited.")
    org = ctx.org
    payment["Status"] = "DELETED"
    payment["UpdatedDateUTC"] = org.stamp(ctx.now)
    _apply_to_invoice(ctx, org.invoices[payment["_invoice_id"]], -payment["Amount"], None)
    return render(org, payment)


def handle(ctx: Ctx, parts: list[str]) -> tuple[int, Any]:
    org, args = ctx.org, ctx.args
    if ctx.method == "GET" and not parts:
        records = query.modified_since(list(org.payments.values()), ctx.if_modified_since)
        views = [render(org, p) for p in records]
        if args.get("where"):
            pred = query.parse_where(args["where"])
            views = [v for v in views if pred(v)]
        views = query.apply_order(views, args.get("order") or "UpdatedDateUTC")
        chunk, pagination = query.page_of(views, args.get("page"), args.get("pageSize"))
        return listing(ctx, "Payments", chunk, pagination)
    if ctx.method == "GET" and len(parts) == 1:
        payment = org.payments.get(parts[0].lower())
        if payment is None:
            raise NotFound()
        return listing(ctx, "Payments", [render(org, payment)])
    if ctx.method in ("PUT", "POST") and not parts:
        items = elements(ctx.body, "Payments")
        return run_batch(ctx, "Payments", items, lambda raw: create(ctx, raw))
    if ctx.method == "POST" and len(parts) == 1:
        payment = org.payments.get(parts[0].lower())
        if payment is None:
            raise NotFound()
        items = elements(ctx.body, "Payments")
        return run_batch(ctx, "Payments", items[:1], lambda raw: delete(ctx, payment, raw))
    raise NotFound()
