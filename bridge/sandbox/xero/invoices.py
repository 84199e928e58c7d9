"""Invoices (ACCREC and ACCPAY): numbering, statuses, editability, lines (NOTES section 3)."""
from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from . import branding, contacts, lines, query
from .common import Ctx, Invalid, NotFound, elements, listing, parse_date, run_batch
from .store import Org
from .wire import date_string, high_volume_exception, utc_string

TYPES = ("ACCREC", "ACCPAY")
CREATE_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED")
# NOTES section 3, allowed changes; PAID is set by Xero, VOIDED/DELETED/PAID are terminal.
TRANSITIONS = {
    "DRAFT": {"SUBMITTED", "AUTHORISED", "DELETED"},
    "SUBMITTED": {"DRAFT", "AUTHORISED", "DELETED"},
    "AUTHORISED": {"VOIDED"},
}
NOT_VALID_STATUS = "Invoice not of valid status for modification"
# Fields that change the money or who owes it. Editable only while DRAFT or SUBMITTED.
# Xero may also allow them on an AUTHORISED invoice without payments [M]; the sandbox takes
# the documented-safe reading and refuses, so a client never depends on it.
FINANCIAL = ("Contact", "Date", "LineItems", "LineAmountTypes", "CurrencyCode", "CurrencyRate", "Type")
MAX_IDS = 50   # IDs= with more GUIDs breaks the URL and Xero answers 404 [I Xero-OpenAPI#534]


def render(org: Org, inv: dict, with_lines: bool = True) -> dict:
    out = {k: v for k, v in inv.items() if not k.startswith("_")}
    contact = org.contacts.get(inv["_contact_id"], {})
    out["Contact"] = {k: contact[k] for k in ("ContactID", "ContactNumber", "Name", "ContactStatus",
                                               "EmailAddress", "FirstName", "LastName") if contact.get(k) is not None}
    out["Contact"]["HasValidationErrors"] = False
    out["DateString"] = date_string(inv["Date"])
    if inv.get("DueDate"):
        out["DueDateString"] = date_string(inv["DueDate"])
    if inv.get("FullyPaidOnDate") is None:
        out.pop("FullyPaidOnDate", None)
    out["UpdatedDateUTCString"] = utc_string(inv["UpdatedDateUTC"])
    out["Payments"] = [{"PaymentID": p["PaymentID"], "Date": p["Date"], "Amount": p["Amount"],
                        "Reference": p.get("Reference", ""), "CurrencyRate": p["CurrencyRate"],
                        "HasAccount": True, "HasValidationErrors": False}
                       for p in (org.payments[i] for i in inv["_payment_ids"]) if p["Status"] == "AUTHORISED"]
    if with_lines:
        out["LineItems"] = [{k: v for k, v in l.items() if not k.startswith("_")} for l in inv["LineItems"]]
    else:
        out.pop("LineItems", None)
    return out


def _next_number(org: Org) -> str:
    used = {str(i.get("InvoiceNumber", "")).lower() for i in org.invoices.values() if i["Type"] == "ACCREC"}
    while True:
        org.invoice_seq += 1
        candidate = f"INV-{org.invoice_seq:04d}"
        if candidate.lower() not in used:
            return candidate


def _number_taken(org: Org, number: str, self_id: str | None) -> bool:
    return any(i["Type"] == "ACCREC" and i["InvoiceID"] != self_id
               and str(i.get("InvoiceNumber", "")).lower() == number.lower() for i in org.invoices.values())


def _find_for_update(org: Org, raw: dict, forced_id: str | None, allow_update: bool) -> dict | None:
    invoice_id = forced_id or raw.get("InvoiceID")
    if invoice_id:
        inv = org.invoices.get(str(invoice_id).lower())
        if inv is None:
            raise Invalid(f"Invoice with ID {invoice_id} could not be found.")
        if not allow_update:
            raise Invalid("PUT creates invoices only; use POST to update.")  # NOTES section 2
        return inv
    if allow_update and raw.get("InvoiceNumber") and raw.get("Type", "ACCREC") == "ACCREC":
        # POST with the InvoiceNumber of an existing ACCREC invoice updates it [M].
        return next((i for i in org.invoices.values() if i["Type"] == "ACCREC"
                     and str(i.get("InvoiceNumber", "")).lower() == str(raw["InvoiceNumber"]).lower()), None)
    return None


def _check_edit(inv: dict, raw: dict) -> None:
    status = inv["Status"]
    if status in ("VOIDED", "DELETED"):
        raise Invalid(NOT_VALID_STATUS)
    if status in ("AUTHORISED", "PAID"):
        changed = [k for k in FINANCIAL if k in raw and _differs(inv, k, raw[k])]
        if changed:
            if inv["AmountPaid"] > 0 or inv["AmountCredited"] > 0:
                raise Invalid("This document cannot be edited as it has a payment or credit note allocated to it.")
            raise Invalid(NOT_VALID_STATUS)


def _differs(inv: dict, key: str, value: Any) -> bool:
    if key == "Contact":
        return not (isinstance(value, dict) and str(value.get("ContactID", "")).lower() == inv["_contact_id"]
                    and set(value) <= {"ContactID", "Name"})
    if key == "Date":
        try:
            return parse_date(value, "Date") != inv["Date"]
        except Invalid:
            return True
    if key == "CurrencyRate":
        return Decimal(str(value)) != inv.get("CurrencyRate")
    if key == "LineItems":
        return True
    return value != inv.get(key)


# Edits that do not move UpdatedDateUTC on a part-paid document [N, NOTES section 2]. The
# sandbox sends no webhook for them either (the harder reading): only a re-read sees them.
UNSTAMPED_ON_PART_PAID = {"SentToContact", "DueDate"}


def upsert(ctx: Ctx, raw: dict, allow_update: bool, forced_id: str | None = None) -> dict:
    org = ctx.org
    existing = _find_for_update(org, raw, forced_id, allow_update)
    if existing is not None:
        _check_edit(existing, raw)
        if _part_paid(existing) and set(raw) - {"InvoiceID"} <= UNSTAMPED_ON_PART_PAID:
            return _quiet_edit(ctx, existing, raw)
    base = existing or {}
    inv_type = raw.get("Type", base.get("Type"))
    if inv_type not in TYPES:
        raise Invalid("Invoice Type must be ACCREC or ACCPAY")
    status = raw.get("Status", base.get("Status", "DRAFT"))
    old_status = base.get("Status")
    if existing is None and status not in CREATE_STATUSES:
        raise Invalid(NOT_VALID_STATUS)
    if existing is not None and status != old_status:
        allowed = TRANSITIONS.get(old_status, set())
        if status not in allowed or (status == "VOIDED" and (existing["AmountPaid"] > 0 or existing["AmountCredited"] > 0)):
            raise Invalid(NOT_VALID_STATUS)  # [I Xero-NetStandard#79]
    if status in ("DELETED", "VOIDED"):
        return _finish(ctx, existing, {"Status": status, **_non_financial(raw, status)}, None)

    errors: list[str] = []
    lat = raw.get("LineAmountTypes", base.get("LineAmountTypes", "Exclusive"))
    if lat not in lines.LINE_AMOUNT_TYPES:
        errors.append(f"LineAmountTypes must be one of {', '.join(lines.LINE_AMOUNT_TYPES)}")
        lat = "Exclusive"
    currency = raw.get("CurrencyCode", base.get("CurrencyCode", org.base_currency))
    if currency not in {c["Code"] for c in org.currencies}:
        errors.append(f"Organisation is not subscribed to currency {currency}")  # [N]
    try:
        inv_date = parse_date(raw["Date"], "Date") if "Date" in raw else base.get("Date")
        due = parse_date(raw["DueDate"], "DueDate") if "DueDate" in raw else base.get("DueDate")
        expected = parse_date(raw["ExpectedPaymentDate"], "ExpectedPaymentDate") if "ExpectedPaymentDate" in raw else base.get("ExpectedPaymentDate")
    except Invalid as exc:
        errors.extend(exc.messages)
        inv_date = due = expected = None
    inv_date = inv_date or ctx.today  # defaults to today in the org's timezone
    if status != "DRAFT" and due is None:
        errors.append("Due Date must be specified")  # [M] no default payment terms in a new org
    number = raw.get("InvoiceNumber", base.get("InvoiceNumber"))
    if number is not None and len(str(number)) > 255:
        errors.append("Invoice number must not exceed 255 characters")
    if inv_type == "ACCREC" and number and _number_taken(org, str(number), base.get("InvoiceID")):
        errors.append("Invoice # must be unique.")  # [S acc example; I pyxero#328]
    try:
        contact = contacts.resolve_for_document(ctx, raw["Contact"]) if "Contact" in raw else (
            org.contacts[base["_contact_id"]] if base else contacts.resolve_for_document(ctx, None))
        if contact["ContactStatus"] == "ARCHIVED" and ("Contact" in raw or existing is None):
            errors.append(f"The contact '{contact['Name']}' is archived and cannot be used.")  # [N]
    except Invalid as exc:
        errors.extend(exc.messages)
        contact = None
    new_lines = base.get("LineItems", [])
    if "LineItems" in raw or existing is None:
        if not raw.get("LineItems"):
            errors.append("LineItems must be specified")  # required on create (NOTES section 3)
        else:
            try:
                new_lines = lines.replace_lines(org, raw["LineItems"], base.get("LineItems", []),
                                                revenue=inv_type == "ACCREC", discounts=inv_type == "ACCREC",
                                                lat=lat, unitdp=ctx.unitdp, strict=status != "DRAFT")
            except Invalid as exc:
                errors.extend(exc.messages)
    elif status != "DRAFT" and old_status == "DRAFT" or lat != base.get("LineAmountTypes"):
        # Approving, or a new LineAmountTypes: re-check and recompute the kept lines.
        try:
            kept = [{k: v for k, v in l.items() if k not in ("LineAmount",) and not (k == "TaxAmount" and not l.get("_tax_override"))}
                    for l in new_lines]
            new_lines = lines.replace_lines(org, kept, new_lines, revenue=inv_type == "ACCREC",
                                            discounts=inv_type == "ACCREC", lat=lat, unitdp=4, strict=status != "DRAFT")
        except Invalid as exc:
            errors.extend(exc.messages)
    if raw.get("BrandingThemeID") and not branding.theme_exists(org, raw["BrandingThemeID"]):
        errors.append("Branding theme could not be found")  # [M] wording
    if errors:
        raise Invalid(*errors)
    if inv_type == "ACCREC" and not number:
        number = _next_number(org)  # auto numbering "INV-0001" (NOTES section 3)
    fields = {
        "Type": inv_type, "Status": status, "LineAmountTypes": lat, "CurrencyCode": currency,
        "Date": inv_date, "DueDate": due, "ExpectedPaymentDate": expected,
        "InvoiceNumber": number or "", "LineItems": new_lines, "_contact_id": contact["ContactID"],
        **lines.totals(new_lines, lat), **_non_financial(raw, status, base),
    }
    if "CurrencyRate" in raw:
        fields["CurrencyRate"] = Decimal(str(raw["CurrencyRate"]))
    if inv_type == "ACCPAY":
        fields.pop("Reference", None)  # Reference is ACCREC only (NOTES section 3)
    # IsCustomer/IsSupplier do not move UpdatedDateUTC [N].
    contact["IsCustomer" if inv_type == "ACCREC" else "IsSupplier"] = True
    return _finish(ctx, existing, fields, contact)


def _part_paid(inv: dict) -> bool:
    return inv["Status"] == "AUTHORISED" and (inv["AmountPaid"] > 0 or inv["AmountCredited"] > 0)


def _quiet_edit(ctx: Ctx, inv: dict, raw: dict) -> dict:
    """SentToContact/DueDate on a part-paid invoice: stored, UpdatedDateUTC kept, no event."""
    if "SentToContact" in raw:
        inv["SentToContact"] = bool(raw["SentToContact"])
    if "DueDate" in raw:
        inv["DueDate"] = parse_date(raw["DueDate"], "DueDate")
    return render(ctx.org, inv)


def online_invoice_url(inv: dict) -> str:
    """GET /Invoices/{id}/OnlineInvoice (official spec: OnlineInvoices[].OnlineInvoiceUrl, e.g.
    ``https://in.xero.com/<token>``). Only approved sales invoices have one; a draft is refused
    [M: wording]. The token is stable per invoice, as the link a customer was sent keeps working."""
    if inv["Type"] != "ACCREC" or inv["Status"] not in ("AUTHORISED", "PAID"):
        raise Invalid("An online invoice is only available for approved sales invoices.")
    token = inv.setdefault("_online_token", uuid.uuid4().hex + uuid.uuid4().hex[:8])
    return f"https://in.xero.com/{token}"


def email(ctx: Ctx, inv: dict) -> None:
    """POST /Invoices/{id}/Email: approved sales invoices only; Xero marks it sent (NOTES 3)."""
    if inv["Type"] != "ACCREC" or inv["Status"] not in ("AUTHORISED", "PAID"):
        raise Invalid("Only approved sales invoices can be emailed.")
    if not inv.get("SentToContact"):
        upsert(ctx, {"SentToContact": True}, True, inv["InvoiceID"])


def _non_financial(raw: dict, status: str, base: dict | None = None) -> dict:
    out = {k: raw[k] for k in ("Reference", "Url", "BrandingThemeID") if k in raw}
    if "SentToContact" in raw and status in ("AUTHORISED", "PAID"):
        out["SentToContact"] = bool(raw["SentToContact"])  # only on approved invoices (NOTES 3)
    if "DueDate" in raw and base is None:
        out["DueDate"] = parse_date(raw["DueDate"], "DueDate")
    return out


def _finish(ctx: Ctx, existing: dict | None, fields: dict, contact: dict | None) -> dict:
    org = ctx.org
    if existing is None:
        inv = {"InvoiceID": str(uuid.uuid4()), "Reference": "", "SentToContact": False, "CurrencyRate": Decimal("1"),
               "AmountPaid": Decimal("0.00"), "AmountCredited": Decimal("0.00"), "HasAttachments": False,
               "IsDiscounted": False, "HasErrors": False, "CreditNotes": [], "Prepayments": [], "Overpayments": [],
               "_payment_ids": [], "_created_by": ctx.grant.client_id}
    else:
        inv = existing
    inv.update({k: v for k, v in fields.items() if v is not None or k in ("DueDate", "ExpectedPaymentDate")})
    for key in ("DueDate", "ExpectedPaymentDate"):
        if inv.get(key) is None:
            inv.pop(key, None)
    inv["IsDiscounted"] = any(l.get("DiscountRate") or l.get("DiscountAmount") for l in inv["LineItems"])
    inv["AmountDue"] = inv["Total"] - inv["AmountPaid"] - inv["AmountCredited"]
    inv["UpdatedDateUTC"] = org.stamp(ctx.now)
    org.invoices[inv["InvoiceID"]] = inv
    ctx.event("INVOICE", inv["InvoiceID"], "UPDATE" if existing else "CREATE", inv["UpdatedDateUTC"])
    return render(org, inv)


def find(org: Org, key: str) -> dict | None:
    """By InvoiceID, or by InvoiceNumber [M]."""
    if contacts.is_guid(key):
        return org.invoices.get(key.lower())
    return next((i for i in org.invoices.values() if str(i.get("InvoiceNumber", "")).lower() == key.lower()), None)


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def handle(ctx: Ctx, parts: list[str]) -> tuple[int, Any]:
    org, args = ctx.org, ctx.args
    if ctx.method == "GET" and not parts:
        records = list(org.invoices.values())
        if args.get("IDs"):
            ids = _csv(args["IDs"])
            if len(ids) > MAX_IDS:
                raise NotFound()
            wanted = {i.lower() for i in ids}
            records = [r for r in records if r["InvoiceID"] in wanted]
        if args.get("InvoiceNumbers"):
            wanted = {n.lower() for n in _csv(args["InvoiceNumbers"])}
            records = [r for r in records if str(r.get("InvoiceNumber", "")).lower() in wanted]
        if args.get("ContactIDs"):
            wanted = {n.lower() for n in _csv(args["ContactIDs"])}
            records = [r for r in records if r["_contact_id"] in wanted]
        if args.get("Statuses"):
            wanted = {n.upper() for n in _csv(args["Statuses"])}
            records = [r for r in records if r["Status"] in wanted]
        if args.get("createdByMyApp", "").lower() == "true":
            records = [r for r in records if r.get("_created_by") == ctx.grant.client_id]
        if args.get("includeArchived", "").lower() != "true":
            records = [r for r in records if org.contacts.get(r["_contact_id"], {}).get("ContactStatus") != "ARCHIVED"]
        if args.get("searchTerm"):
            term = args["searchTerm"].lower()
            records = [r for r in records if term in str(r.get("InvoiceNumber", "")).lower()
                       or term in str(r.get("Reference", "")).lower()]
        try:
            query.check_volume("Invoices", args.get("where"), len(org.invoices), org.high_volume_threshold)
        except query.HighVolume as exc:
            return 400, high_volume_exception(str(exc))
        records = query.modified_since(records, ctx.if_modified_since)
        views = [render(org, r) for r in records]
        if args.get("where"):
            pred = query.parse_where(args["where"])
            views = [v for v in views if pred(v)]
        views = query.apply_order(views, args.get("order") or "UpdatedDateUTC")
        chunk, pagination = query.page_of(views, args.get("page"), args.get("pageSize"))
        if pagination is None or args.get("summaryOnly", "").lower() == "true":
            # Unpaged multi-record GETs return reduced data, without LineItems [N].
            chunk = [{k: v for k, v in v.items() if k != "LineItems"} for v in chunk]
        return listing(ctx, "Invoices", chunk, pagination)
    if ctx.method == "GET" and len(parts) == 1:
        inv = find(org, parts[0])
        if inv is None:
            raise NotFound()
        return listing(ctx, "Invoices", [render(org, inv)])
    if ctx.method in ("PUT", "POST") and not parts:
        items = elements(ctx.body, "Invoices")
        return run_batch(ctx, "Invoices", items, lambda raw: upsert(ctx, raw, ctx.method == "POST"), "HasErrors")
    if ctx.method == "GET" and len(parts) == 2 and parts[1].lower() == "onlineinvoice":
        inv = find(org, parts[0])
        if inv is None:
            raise NotFound()
        return listing(ctx, "OnlineInvoices", [{"OnlineInvoiceUrl": online_invoice_url(inv)}])
    if ctx.method == "POST" and len(parts) == 2 and parts[1].lower() == "email":
        inv = find(org, parts[0])
        if inv is None:
            raise NotFound()
        email(ctx, inv)
        return 204, None
    if ctx.method == "POST" and len(parts) == 1:
        inv = find(org, parts[0])
        if inv is None:
            raise NotFound()
        items = elements(ctx.body, "Invoices")
        return run_batch(ctx, "Invoices", items[:1], lambda raw: upsert(ctx, raw, True, inv["InvoiceID"]), "HasErrors")
    raise NotFound()
