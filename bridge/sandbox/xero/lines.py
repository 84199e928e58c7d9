"""Line items and totals of invoices and bank transactions (NOTES section 3).

Tax is computed per line and rounded to 2 decimals, then summed (Xero's rounding, Lesson 8).
"""
from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from . import branding
from .common import Invalid, number
from .store import Org
from .wire import FOUR, TWO, money

LINE_AMOUNT_TYPES = ("Exclusive", "Inclusive", "NoTax")
ZERO = Decimal("0.00")


def _unit(value: Decimal, unitdp: int) -> Decimal:
    # UnitAmount keeps 2 decimals unless unitdp=4 (NOTES section 2).
    return value.quantize(FOUR if unitdp == 4 else TWO, rounding=ROUND_HALF_UP)


def build_line(org: Org, raw: dict, previous: dict | None, *, revenue: bool, discounts: bool,
               lat: str, unitdp: int, strict: bool) -> dict:
    """One line, merged over its previous version when it keeps its LineItemID.

    ``strict`` (any status past DRAFT) also needs an account code on every line with an amount.
    """
    line = dict(previous or {})
    for key in ("Description", "Quantity", "UnitAmount", "ItemCode", "AccountCode", "TaxType",
                "TaxAmount", "LineAmount", "DiscountRate", "DiscountAmount", "Tracking"):
        if key in raw:
            line[key] = raw[key]
    if previous is None or "TaxAmount" not in raw:
        line.pop("_tax_override", None)
    if "TaxAmount" in raw and raw["TaxAmount"] is not None:
        line["_tax_override"] = True
    errors: list[str] = []
    if line.get("ItemCode"):
        item = next((i for i in org.items.values() if i["Code"].lower() == str(line["ItemCode"]).lower()), None)
        if item is None:
            errors.append(f"Item code '{line['ItemCode']}' is not valid")
        else:
            details = item.get("SalesDetails" if revenue else "PurchaseDetails") or {}
            line.setdefault("Description", item.get("Description") or item.get("Name"))
            for src, dst in (("UnitPrice", "UnitAmount"), ("AccountCode", "AccountCode"), ("TaxType", "TaxType")):
                if details.get(src) is not None and line.get(dst) is None:
                    line[dst] = details[src]
    if not str(line.get("Description") or "").strip() and not line.get("ItemCode"):
        errors.append("Description must be specified")  # at least 1 character (NOTES section 3)
    try:
        qty = number(line.get("Quantity"), "Quantity")
        unit = number(line.get("UnitAmount"), "UnitAmount")
        rate = number(line.get("DiscountRate"), "DiscountRate")
        disc_amount = number(line.get("DiscountAmount"), "DiscountAmount")
        given_line_amount = number(line.get("LineAmount"), "LineAmount") if "LineAmount" in raw else None
        given_tax = number(line.get("TaxAmount"), "TaxAmount") if line.get("_tax_override") else None
    except Invalid as exc:
        raise Invalid(*errors, *exc.messages) from None
    if unit is not None and qty is None:
        qty = Decimal("1")
    if (rate or disc_amount) and not discounts:
        errors.append("Discounts are only supported on sales (ACCREC) documents")  # NOTES section 3
    tracking = line.get("Tracking") or []
    if not isinstance(tracking, list) or len(tracking) > 2:
        errors.append("A line item can have at most 2 tracking categories")  # NOTES section 3
    else:
        try:
            tracking = branding.resolve_line_tracking(org, tracking)
        except Invalid as exc:
            errors.extend(exc.messages)
    if qty is not None:
        qty = qty.quantize(FOUR, rounding=ROUND_HALF_UP)
    if unit is not None:
        unit = _unit(unit, unitdp)
    gross = money((qty or 0) * (unit or 0))
    discount = ZERO
    if rate:
        discount = money(gross * rate / 100)
    elif disc_amount:
        discount = money(disc_amount)
    amount = money(gross - discount)
    if given_line_amount is not None and money(given_line_amount) != amount:
        # [M] a LineAmount that is not Quantity x UnitAmount less discount is refused.
        errors.append(f"The line total {money(given_line_amount)} does not match the expected line total {amount}")
    account = None
    if line.get("AccountCode"):
        account = org.account_by_code(line["AccountCode"])
        if account is None or account["Status"] != "ACTIVE":
            errors.append(f"Account code '{line['AccountCode']}' is not a valid code for this document.")
            account = None
    elif strict and amount != 0:
        errors.append("Account code must be specified")  # [M] needed once the document leaves DRAFT
    if lat == "NoTax":
        line["TaxType"] = "NONE"
    tax_type = line.get("TaxType") or (account or {}).get("TaxType") or (
        org.default_sales_tax if revenue else org.default_purchase_tax)
    tax = org.tax_rate(tax_type)
    if tax is None or tax["Status"] != "ACTIVE":
        errors.append(f"The TaxType code '{tax_type}' does not exist or cannot be used for this type of transaction.")
        tax_rate = Decimal(0)
    else:
        tax_type = tax["TaxType"]
        if not tax["CanApplyToRevenue" if revenue else "CanApplyToExpenses"]:
            # [N] "The TaxType code 'x' cannot be used with account code 'y'"
            errors.append(f"The TaxType code '{tax_type}' cannot be used with account code "
                          f"'{line.get('AccountCode') or ''}'")
        tax_rate = tax["EffectiveRate"]
    if errors:
        raise Invalid(*errors)
    if lat == "Exclusive":
        computed_tax = money(amount * tax_rate / 100)
    elif lat == "Inclusive":
        computed_tax = money(amount * tax_rate / (100 + tax_rate))
    else:
        computed_tax = ZERO
    out: dict[str, Any] = {
        "LineItemID": (previous or {}).get("LineItemID") or str(uuid.uuid4()),
        "Description": line.get("Description") or "",
        "TaxType": tax_type,
        "TaxAmount": money(given_tax) if given_tax is not None else computed_tax,
        "LineAmount": amount,
        "Tracking": tracking,
        "_tax_override": bool(line.get("_tax_override")),
    }
    if qty is not None:
        out["Quantity"] = qty
    if unit is not None:
        out["UnitAmount"] = unit
    if line.get("AccountCode"):
        out["AccountCode"] = account["Code"] if account else line["AccountCode"]
        out["AccountID"] = account["AccountID"] if account else None
    if line.get("ItemCode"):
        out["ItemCode"] = line["ItemCode"]
    if rate:
        out["DiscountRate"] = rate
    elif disc_amount:
        out["DiscountAmount"] = money(disc_amount)
    return out


def replace_lines(org: Org, raw_lines: Any, old: list[dict], **kw: Any) -> list[dict]:
    """A line with a known LineItemID is updated, one without is new, missing ones go [N]."""
    if not isinstance(raw_lines, list):
        raise Invalid("LineItems must be a list")
    by_id = {l["LineItemID"]: l for l in old}
    result, errors = [], []
    for i, raw in enumerate(raw_lines):
        if not isinstance(raw, dict):
            errors.append(f"Line item {i + 1} must be an object")
            continue
        previous = by_id.get(str(raw.get("LineItemID") or "").lower())
        try:
            result.append(build_line(org, raw, previous, **kw))
        except Invalid as exc:
            errors.extend(exc.messages)
    if errors:
        raise Invalid(*errors)
    return result


def totals(lines: list[dict], lat: str) -> dict:
    amount = sum((l["LineAmount"] for l in lines), ZERO)
    tax = sum((l["TaxAmount"] for l in lines), ZERO)
    discount = ZERO
    for l in lines:
        if l.get("UnitAmount") is not None and l.get("Quantity") is not None:
            discount += money(l["Quantity"] * l["UnitAmount"]) - l["LineAmount"]
    if lat == "Inclusive":
        sub, total = amount - tax, amount
    else:
        sub, total = amount, amount + tax
    return {"SubTotal": money(sub), "TotalTax": money(tax), "Total": money(total), "TotalDiscount": money(discount)}
