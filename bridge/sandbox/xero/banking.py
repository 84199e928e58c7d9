"""Bank transactions: money that did not go through invoices (NOTES section 5). No webhooks."""
from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from . import contacts, lines, query
from .common import Ctx, Invalid, NotFound, elements, listing, parse_date, run_batch
from .store import Org
from .wire import date_string

CREATE_TYPES = ("RECEIVE", "SPEND")


def render(org: Org, bt: dict, with_lines: bool = True) -> dict:
    out = {k: v for k, v in bt.items() if not k.startswith("_")}
    contact = org.contacts.get(bt["_contact_id"], {})
    account = org.account_by_id(bt["_account_id"]) or {}
    out["Contact"] = {"ContactID": contact.get("ContactID"), "Name": contact.get("Name", ""),
                      "HasValidationErrors": False}
    out["BankAccount"] = {"AccountID": account.get("AccountID"), "Code": account.get("Code", ""),
                          "Name": account.get("Name", "")}
    out["DateString"] = date_string(bt["Date"])
    if with_lines:
        out["LineItems"] = [{k: v for k, v in l.items() if not k.startswith("_")} for l in bt["LineItems"]]
    else:
        out.pop("LineItems", None)
    return out


def create(ctx: Ctx, raw: dict) -> dict:
    org = ctx.org
    errors: list[str] = []
    bt_type = raw.get("Type")
    if bt_type not in CREATE_TYPES:
        errors.append("Type must be RECEIVE or SPEND")
    ref = raw.get("BankAccount") or {}
    account = None
    if isinstance(ref, dict) and ref.get("AccountID"):
        account = org.account_by_id(ref["AccountID"])
    elif isinstance(ref, dict) and ref.get("Code"):
        account = org.account_by_code(ref["Code"])
    if account is None or account["Type"] != "BANK":
        errors.append("A valid BankAccount must be specified")
    lat = raw.get("LineAmountTypes", "Exclusive")
    if lat not in lines.LINE_AMOUNT_TYPES:
        errors.append(f"LineAmountTypes must be one of {', '.join(lines.LINE_AMOUNT_TYPES)}")
        lat = "Exclusive"
    status = raw.get("Status", "AUTHORISED")
    if status != "AUTHORISED":
        errors.append("Bank transactions are created AUTHORISED")
    try:
        contact = contacts.resolve_for_document(ctx, raw.get("Contact"))
    except Invalid as exc:
        errors.extend(exc.messages)
        contact = None
    try:
        bt_date = parse_date(raw.get("Date"), "Date") or ctx.today
    except Invalid as exc:
        errors.extend(exc.messages)
        bt_date = ctx.today
    new_lines: list[dict] = []
    if not raw.get("LineItems"):
        errors.append("LineItems must be specified")
    else:
        try:
            new_lines = lines.replace_lines(org, raw["LineItems"], [], revenue=bt_type == "RECEIVE",
                                            discounts=False, lat=lat, unitdp=ctx.unitdp, strict=True)
        except Invalid as exc:
            errors.extend(exc.messages)
    if errors:
        raise Invalid(*errors)
    bt = {"BankTransactionID": str(uuid.uuid4()), "Type": bt_type, "Status": "AUTHORISED", "Date": bt_date,
          "Reference": raw.get("Reference", ""), "LineAmountTypes": lat, "LineItems": new_lines,
          "CurrencyCode": raw.get("CurrencyCode", org.base_currency), "CurrencyRate": Decimal("1"),
          "IsReconciled": bool(raw.get("IsReconciled", False)), "HasAttachments": False,
          "_contact_id": contact["ContactID"], "_account_id": account["AccountID"]}
    if raw.get("Url"):
        bt["Url"] = raw["Url"]
    bt.update({k: v for k, v in lines.totals(new_lines, lat).items() if k != "TotalDiscount"})
    bt["UpdatedDateUTC"] = org.stamp(ctx.now)
    org.bank_transactions[bt["BankTransactionID"]] = bt
    return render(org, bt)


def update(ctx: Ctx, bt: dict, raw: dict) -> dict:
    """Status DELETED/VOIDED, Reference and IsReconciled; lines are not edited here."""
    status = raw.get("Status", bt["Status"])
    if status != bt["Status"] and (bt["Status"] != "AUTHORISED" or status not in ("DELETED", "VOIDED")):
        raise Invalid("Bank transaction not of valid status for modification")
    bt["Status"] = status
    for key in ("Reference", "IsReconciled", "Url"):
        if key in raw:
            bt[key] = raw[key]
    bt["UpdatedDateUTC"] = ctx.org.stamp(ctx.now)
    return render(ctx.org, bt)


def handle(ctx: Ctx, parts: list[str]) -> tuple[int, Any]:
    org, args = ctx.org, ctx.args
    if ctx.method == "GET" and not parts:
        records = query.modified_since(list(org.bank_transactions.values()), ctx.if_modified_since)
        views = [render(org, b) for b in records]
        if args.get("where"):
            pred = query.parse_where(args["where"])
            views = [v for v in views if pred(v)]
        views = query.apply_order(views, args.get("order") or "UpdatedDateUTC")
        chunk, pagination = query.page_of(views, args.get("page"), args.get("pageSize"))
        # LineItems stay in unpaged answers too: the spec makes them required on BankTransaction.
        return listing(ctx, "BankTransactions", chunk, pagination)
    if ctx.method == "GET" and len(parts) == 1:
        bt = org.bank_transactions.get(parts[0].lower())
        if bt is None:
            raise NotFound()
        return listing(ctx, "BankTransactions", [render(org, bt)])
    if ctx.method in ("PUT", "POST") and not parts:
        items = elements(ctx.body, "BankTransactions")
        return run_batch(ctx, "BankTransactions", items, lambda raw: create(ctx, raw))
    if ctx.method == "POST" and len(parts) == 1:
        bt = org.bank_transactions.get(parts[0].lower())
        if bt is None:
            raise NotFound()
        items = elements(ctx.body, "BankTransactions")
        return run_batch(ctx, "BankTransactions", items[:1], lambda raw: update(ctx, bt, raw))
    raise NotFound()
