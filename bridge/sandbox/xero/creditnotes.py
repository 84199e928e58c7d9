"""Credit notes and their allocations to invoices (official spec: CreditNotes,
/CreditNotes/{id}/Allocations; NOTES section 3 for the statuses they share with invoices).

A credit note is a document of its own (number ``CN-0001``, lines, totals) that reduces what
a customer owes only once it is *allocated* to an invoice of the same contact and currency:
the allocation moves the invoice's AmountCredited/AmountDue (and PAID when nothing is left)
and the credit note's RemainingCredit (PAID when all of it is used). Xero has no Url field on
a credit note and its Reference is printed, so a client recognises its own credit note only
through the invoice's ``CreditNotes`` list and the allocations, which is what this module
keeps right.
"""
from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from . import contacts, invoices, lines, query
from .common import Ctx, Invalid, NotFound, elements, listing, number, parse_date, run_batch
from .store import Org
from .wire import date_string, money, utc_string

TYPES = {"ACCRECCREDIT": "ACCREC", "ACCPAYCREDIT": "ACCPAY"}
CREATE_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED")
# As for invoices (NOTES section 3); PAID is set by Xero when RemainingCredit reaches 0.
TRANSITIONS = invoices.TRANSITIONS
NOT_VALID_STATUS = "Credit note not of valid status for modification"  # [M] wording
ZERO = Decimal("0.00")


def render(org: Org, cn: dict) -> dict:
    out = {k: v for k, v in cn.items() if not k.startswith("_")}
    contact = org.contacts.get(cn["_contact_id"], {})
    out["Contact"] = {k: contact[k] for k in ("ContactID", "Name", "ContactStatus") if contact.get(k) is not None}
    out["DateString"] = date_string(cn["Date"])
    out["UpdatedDateUTCString"] = utc_string(cn["UpdatedDateUTC"])
    out["LineItems"] = [{k: v for k, v in l.items() if not k.startswith("_")} for l in cn["LineItems"]]
    out["Allocations"] = [_render_allocation(org, a, with_credit_note=False) for a in cn["_allocations"]
                          if not a["IsDeleted"]]
    out["Payments"] = []
    if cn.get("FullyPaidOnDate") is None:
        out.pop("FullyPaidOnDate", None)
    return out


def _render_allocation(org: Org, a: dict, with_credit_note: bool = True) -> dict:
    inv = org.invoices[a["_invoice_id"]]
    out = {"AllocationID": a["AllocationID"], "Amount": a["Amount"], "Date": a["Date"], "IsDeleted": a["IsDeleted"],
           "Invoice": {"InvoiceID": inv["InvoiceID"], "InvoiceNumber": inv.get("InvoiceNumber", ""),
                       "Payments": [], "CreditNotes": [], "Prepayments": [], "Overpayments": [],
                       "HasErrors": False, "IsDiscounted": False, "LineItems": [], "ValidationErrors": []},
           "ValidationErrors": []}
    if with_credit_note:
        cn = org.credit_notes[a["_credit_note_id"]]
        out["CreditNote"] = {"CreditNoteID": cn["CreditNoteID"], "ID": cn["CreditNoteID"],
                             "CreditNoteNumber": cn.get("CreditNoteNumber", ""), "LineItems": []}
    return out


def on_invoice(org: Org, invoice_id: str) -> list[dict]:
    """The invoice's ``CreditNotes`` list: each credit note allocated to it, with the amount
    applied to this invoice (official spec: Invoice.CreditNotes, CreditNote.AppliedAmount)."""
    applied: dict[str, Decimal] = {}
    for cn in org.credit_notes.values():
        for a in cn["_allocations"]:
            if a["_invoice_id"] == invoice_id and not a["IsDeleted"]:
                applied[cn["CreditNoteID"]] = applied.get(cn["CreditNoteID"], ZERO) + a["Amount"]
    out = []
    for cn_id, amount in applied.items():
        cn = org.credit_notes[cn_id]
        out.append({"CreditNoteID": cn_id, "ID": cn_id, "CreditNoteNumber": cn.get("CreditNoteNumber", ""),
                    "Reference": cn.get("Reference", ""), "Date": cn["Date"], "Status": cn["Status"],
                    "Total": cn["Total"], "AppliedAmount": amount, "HasErrors": False, "LineItems": []})
    return out


def _next_number(org: Org) -> str:
    used = {str(c.get("CreditNoteNumber", "")).lower() for c in org.credit_notes.values()}
    while True:
        org.credit_note_seq += 1
        candidate = f"CN-{org.credit_note_seq:04d}"  # Xero's default prefix [M]
        if candidate.lower() not in used:
            return candidate


def upsert(ctx: Ctx, raw: dict, allow_update: bool, forced_id: str | None = None) -> dict:
    org = ctx.org
    cn_id = forced_id or raw.get("CreditNoteID")
    existing = None
    if cn_id:
        existing = org.credit_notes.get(str(cn_id).lower())
        if existing is None:
            raise Invalid(f"Credit note with ID {cn_id} could not be found.")
        if not allow_update:
            raise Invalid("PUT creates credit notes only; use POST to update.")  # NOTES section 2
    base = existing or {}
    cn_type = raw.get("Type", base.get("Type"))
    if cn_type not in TYPES:
        raise Invalid("Credit note Type must be ACCRECCREDIT or ACCPAYCREDIT")
    status = raw.get("Status", base.get("Status", "DRAFT"))
    old = base.get("Status")
    if existing is None and status not in CREATE_STATUSES:
        raise Invalid(NOT_VALID_STATUS)
    if existing is not None and status != old:
        allowed = TRANSITIONS.get(old, set())
        if status not in allowed or (status == "VOIDED" and _allocated(existing) > 0):
            raise Invalid(NOT_VALID_STATUS)
    if existing is not None and existing["Status"] in ("AUTHORISED", "PAID", "VOIDED", "DELETED"):
        financial = [k for k in invoices.FINANCIAL if k in raw and k != "Type"]
        if financial or existing["Status"] in ("VOIDED", "DELETED", "PAID") and status == old:
            raise Invalid(NOT_VALID_STATUS)
    if existing is not None and status in ("VOIDED", "DELETED"):
        existing["Status"] = status
        existing["RemainingCredit"] = ZERO
        existing["UpdatedDateUTC"] = org.stamp(ctx.now)
        ctx.event("CREDITNOTE", existing["CreditNoteID"], "UPDATE", existing["UpdatedDateUTC"])
        return render(org, existing)

    errors: list[str] = []
    lat = raw.get("LineAmountTypes", base.get("LineAmountTypes", "Exclusive"))
    if lat not in lines.LINE_AMOUNT_TYPES:
        errors.append(f"LineAmountTypes must be one of {', '.join(lines.LINE_AMOUNT_TYPES)}")
        lat = "Exclusive"
    currency = raw.get("CurrencyCode", base.get("CurrencyCode", org.base_currency))
    if currency not in {c["Code"] for c in org.currencies}:
        errors.append(f"Organisation is not subscribed to currency {currency}")
    try:
        cn_date = parse_date(raw["Date"], "Date") if "Date" in raw else base.get("Date")
    except Invalid as exc:
        errors.extend(exc.messages)
        cn_date = None
    number_ = raw.get("CreditNoteNumber", base.get("CreditNoteNumber"))
    if number_ and any(c["CreditNoteID"] != base.get("CreditNoteID")
                       and str(c.get("CreditNoteNumber", "")).lower() == str(number_).lower()
                       for c in org.credit_notes.values()):
        errors.append("Credit Note # must be unique.")  # [M] as for invoice numbers
    try:
        contact = contacts.resolve_for_document(ctx, raw["Contact"]) if "Contact" in raw else (
            org.contacts[base["_contact_id"]] if base else contacts.resolve_for_document(ctx, None))
    except Invalid as exc:
        errors.extend(exc.messages)
        contact = None
    revenue = cn_type == "ACCRECCREDIT"
    new_lines = base.get("LineItems", [])
    if "LineItems" in raw or existing is None:
        if not raw.get("LineItems"):
            errors.append("LineItems must be specified")
        else:
            try:
                new_lines = lines.replace_lines(org, raw["LineItems"], base.get("LineItems", []), revenue=revenue,
                                                discounts=revenue, lat=lat, unitdp=ctx.unitdp,
                                                strict=status != "DRAFT")
            except Invalid as exc:
                errors.extend(exc.messages)
    if errors:
        raise Invalid(*errors)
    totals = lines.totals(new_lines, lat)
    totals.pop("TotalDiscount", None)
    cn = existing or {"CreditNoteID": str(uuid.uuid4()), "Reference": "", "SentToContact": False,
                      "CurrencyRate": Decimal("1"), "HasAttachments": False, "HasErrors": False,
                      "_allocations": [], "_created_by": ctx.grant.client_id}
    cn.update({"Type": cn_type, "Status": status, "LineAmountTypes": lat, "CurrencyCode": currency,
               "Date": cn_date or ctx.today, "LineItems": new_lines, "_contact_id": contact["ContactID"], **totals,
               "CreditNoteNumber": number_ or base.get("CreditNoteNumber") or (_next_number(org) if revenue else "")})
    for key in ("Reference", "BrandingThemeID"):
        if key in raw and revenue:
            cn[key] = raw[key]  # Reference is ACCRECCREDIT only (official spec)
    if "SentToContact" in raw and status in ("AUTHORISED", "PAID"):
        cn["SentToContact"] = bool(raw["SentToContact"])
    cn["RemainingCredit"] = cn["Total"] - _allocated(cn)
    cn["UpdatedDateUTC"] = org.stamp(ctx.now)
    org.credit_notes[cn["CreditNoteID"]] = cn
    ctx.event("CREDITNOTE", cn["CreditNoteID"], "UPDATE" if existing else "CREATE", cn["UpdatedDateUTC"])
    return render(org, cn)


def _allocated(cn: dict) -> Decimal:
    return sum((a["Amount"] for a in cn["_allocations"] if not a["IsDeleted"]), ZERO)


def allocate(ctx: Ctx, cn: dict, raw: dict) -> dict:
    """One allocation of ``cn`` to an invoice (PUT /CreditNotes/{id}/Allocations)."""
    org = ctx.org
    ref = raw.get("Invoice") or {}
    inv = org.invoices.get(str(ref.get("InvoiceID", "")).lower()) if isinstance(ref, dict) else None
    if inv is None:
        raise Invalid("Invoice could not be found")  # [M] wording
    errors: list[str] = []
    amount = number(raw.get("Amount"), "Amount")
    if cn["Status"] != "AUTHORISED":
        errors.append("Only approved credit notes can be allocated")  # [M] wording; rule [N]
    if inv["Status"] != "AUTHORISED":
        errors.append("Credit notes can only be allocated to approved invoices with an amount due")  # [M]
    if TYPES[cn["Type"]] != inv["Type"]:
        errors.append("The credit note and the invoice must be of the same kind (sales or purchases)")  # [M]
    if inv["_contact_id"] != cn["_contact_id"]:
        errors.append("The credit note and the invoice must be for the same contact")  # [M]
    if inv["CurrencyCode"] != cn["CurrencyCode"]:
        errors.append("The credit note and the invoice must be in the same currency")  # [M]
    if amount is None or amount <= 0:
        errors.append("Allocation amount must be greater than zero")
    else:
        amount = money(amount)
        if amount > cn["RemainingCredit"]:
            errors.append("Allocation amount exceeds the remaining credit on the credit note")  # [M]
        if amount > inv["AmountDue"]:
            errors.append("Allocation amount exceeds the amount due on the invoice")  # [M]
    if errors:
        raise Invalid(*errors)
    when = parse_date(raw.get("Date"), "Date") or ctx.today
    allocation = {"AllocationID": str(uuid.uuid4()), "Amount": amount, "Date": when, "IsDeleted": False,
                  "_invoice_id": inv["InvoiceID"], "_credit_note_id": cn["CreditNoteID"]}
    cn["_allocations"].append(allocation)
    _apply(ctx, cn, inv, amount, when)
    return _render_allocation(org, allocation)


def _apply(ctx: Ctx, cn: dict, inv: dict, amount: Decimal, when: Any) -> None:
    org = ctx.org
    cn["RemainingCredit"] = cn["Total"] - _allocated(cn)
    if cn["RemainingCredit"] == 0 and cn["Status"] == "AUTHORISED":
        cn["Status"], cn["FullyPaidOnDate"] = "PAID", when
    elif cn["RemainingCredit"] > 0 and cn["Status"] == "PAID":
        cn["Status"] = "AUTHORISED"
        cn.pop("FullyPaidOnDate", None)
    cn["UpdatedDateUTC"] = org.stamp(ctx.now)
    inv["AmountCredited"] = inv["AmountCredited"] + amount
    inv["AmountDue"] = inv["Total"] - inv["AmountPaid"] - inv["AmountCredited"]
    if inv["AmountDue"] == 0 and inv["Status"] == "AUTHORISED":
        inv["Status"], inv["FullyPaidOnDate"] = "PAID", when
    elif inv["AmountDue"] > 0 and inv["Status"] == "PAID":
        inv["Status"] = "AUTHORISED"
        inv.pop("FullyPaidOnDate", None)
    inv["CreditNotes"] = on_invoice(org, inv["InvoiceID"])
    inv["UpdatedDateUTC"] = org.stamp(ctx.now)
    ctx.event("CREDITNOTE", cn["CreditNoteID"], "UPDATE", cn["UpdatedDateUTC"])
    ctx.event("INVOICE", inv["InvoiceID"], "UPDATE", inv["UpdatedDateUTC"])


def delete_allocation(ctx: Ctx, cn: dict, allocation_id: str) -> dict:
    """DELETE /CreditNotes/{id}/Allocations/{AllocationID}: the credit returns to the note."""
    allocation = next((a for a in cn["_allocations"] if a["AllocationID"] == allocation_id.lower()
                       and not a["IsDeleted"]), None)
    if allocation is None:
        raise NotFound()
    allocation["IsDeleted"] = True
    _apply(ctx, cn, ctx.org.invoices[allocation["_invoice_id"]], -allocation["Amount"], None)
    return _render_allocation(ctx.org, allocation)


def _csv(value: str) -> list[str]:
    return [v.strip().lower() for v in value.split(",") if v.strip()]


def handle(ctx: Ctx, parts: list[str]) -> tuple[int, Any]:
    org, args = ctx.org, ctx.args
    if ctx.method == "GET" and not parts:
        records = list(org.credit_notes.values())
        records = query.modified_since(records, ctx.if_modified_since)
        views = [render(org, r) for r in records]
        if args.get("where"):
            pred = query.parse_where(args["where"])
            views = [v for v in views if pred(v)]
        views = query.apply_order(views, args.get("order") or "UpdatedDateUTC")
        chunk, pagination = query.page_of(views, args.get("page"), args.get("pageSize"))
        return listing(ctx, "CreditNotes", chunk, pagination)
    cn = None
    if parts:
        key = parts[0].lower()
        cn = org.credit_notes.get(key) or next(
            (c for c in org.credit_notes.values() if str(c.get("CreditNoteNumber", "")).lower() == key), None)
    if ctx.method == "GET" and len(parts) == 1:
        if cn is None:
            raise NotFound()
        return listing(ctx, "CreditNotes", [render(org, cn)])
    if ctx.method in ("PUT", "POST") and not parts:
        items = elements(ctx.body, "CreditNotes")
        return run_batch(ctx, "CreditNotes", items, lambda raw: upsert(ctx, raw, ctx.method == "POST"), "HasErrors")
    if ctx.method == "POST" and len(parts) == 1:
        if cn is None:
            raise NotFound()
        items = elements(ctx.body, "CreditNotes")
        return run_batch(ctx, "CreditNotes", items[:1], lambda raw: upsert(ctx, raw, True, cn["CreditNoteID"]),
                         "HasErrors")
    if len(parts) >= 2 and parts[1].lower() == "allocations":
        if cn is None:
            raise NotFound()
        if ctx.method == "PUT" and len(parts) == 2:
            items = elements(ctx.body, "Allocations")
            return run_batch(ctx, "Allocations", items, lambda raw: allocate(ctx, cn, raw))
        if ctx.method == "DELETE" and len(parts) == 3:
            # The answer is the bare Allocation, IsDeleted true (official spec), no envelope.
            return 200, delete_allocation(ctx, cn, parts[2])
    raise NotFound()
