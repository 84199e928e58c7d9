"""Old-style invoices (entityTypeId 5) as a self-hosted portal that kept them serves ``crm.invoice.*``.

Self-hosted Bitrix24 portals of the seed's time (2018) use these invoices: UPPER_CASE fields, the status
in ``STATUS_ID`` (directory ``INVOICE_STATUS``), product rows inside the invoice (``PRODUCT_ROWS``),
user fields through ``crm.invoice.userfield.*`` and four events. The methods are deprecated ("development
halted") but served. Every quirk cites its page under apidocs.bitrix24.com/api-reference/crm/outdated/
invoice/ (``OUTDATED`` below), read from the b24restdocs snapshot of 2026-08-21.

A portal's ``invoice_mode`` says which invoices it uses: ``smart`` (the default, as every portal before
this module), ``legacy`` or ``both``. Changes return nothing; methods_legacy.py fires the events.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .errors import RestError, old_style
from .invoices import dec, now, portal_currency
from .state import Portal
from .wire import format_date

OUTDATED = "apidocs.bitrix24.com/api-reference/crm/outdated/invoice/"
MODES = ("smart", "legacy", "both")
UF_ENTITY = "CRM_INVOICE"        # data-types.html "Object types": Invoice (old) 5 / INVOICE / CRM_INVOICE
UF_PREFIX = "UF_CRM_"            # OUTDATED crm-invoice-user-field-add.html: always prefixed with UF_CRM_
UF_NAME_MAX = 20                 # ... and 20 characters at most, so 13 after the prefix
TWO = Decimal("0.01")
STATUS_ENTITY = "INVOICE_STATUS"  # OUTDATED crm-invoice-fields.html: STATUS_ID from the "INVOICE_STATUS" directory

# OUTDATED crm-invoice-fields.html: settable fields; the "Read-only" ones are filled by the portal.
FIELDS = ("ACCOUNT_NUMBER", "COMMENTS", "DATE_BILL", "DATE_INSERT", "DATE_MARKED", "DATE_PAY_BEFORE", "XML_ID",
          "ORDER_TOPIC", "PAY_SYSTEM_ID", "PAY_VOUCHER_DATE", "PAY_VOUCHER_NUM", "PERSON_TYPE_ID", "REASON_MARKED",
          "RESPONSIBLE_ID", "STATUS_ID", "UF_COMPANY_ID", "UF_CONTACT_ID", "UF_MYCOMPANY_ID", "UF_DEAL_ID",
          "UF_QUOTE_ID", "USER_DESCRIPTION", "PR_LOCATION", "INVOICE_PROPERTIES", "PRODUCT_ROWS")
READ_ONLY = ("ID", "CREATED_BY", "CURRENCY", "DATE_PAYED", "DATE_STATUS", "DATE_UPDATE", "EMP_PAYED_ID",
             "EMP_STATUS_ID", "LID", "PAYED", "PRICE", "TAX_VALUE", "IS_RECURRING")
# Fields marked required (*) on crm-invoice-fields.html; ACCOUNT_NUMBER is numbered by the portal when
# absent (crm-invoice-add.html's examples send none).
REQUIRED = ("ORDER_TOPIC", "PAY_SYSTEM_ID", "PERSON_TYPE_ID")
DATE_FIELDS = ("DATE_BILL", "DATE_PAY_BEFORE", "PAY_VOUCHER_DATE")
DATETIME_FIELDS = ("DATE_INSERT", "DATE_MARKED", "DATE_PAYED", "DATE_STATUS", "DATE_UPDATE")
INTEGER_FIELDS = ("PAY_SYSTEM_ID", "PERSON_TYPE_ID", "RESPONSIBLE_ID", "UF_COMPANY_ID", "UF_CONTACT_ID",
                  "UF_MYCOMPANY_ID", "UF_DEAL_ID", "UF_QUOTE_ID", "PR_LOCATION")
# OUTDATED crm-invoice-list.html: the list never carries properties nor product rows (crm.invoice.get does).
NOT_LISTED = ("INVOICE_PROPERTIES", "PRODUCT_ROWS")


def legacy_enabled(portal: Portal) -> bool:
    return portal.invoice_mode in ("legacy", "both")


def smart_enabled(portal: Portal) -> bool:
    return portal.invoice_mode in ("smart", "both")


def set_mode(portal: Portal, mode: str) -> None:
    """Switch the portal's invoices; old invoices bring their status directory with them."""
    if mode not in MODES:
        raise RestError("ERROR_ARGUMENT", f"invoice mode must be one of {', '.join(MODES)}", 400)
    portal.invoice_mode = mode
    portal.stages[:] = [s for s in portal.stages if s["ENTITY_ID"] != STATUS_ENTITY]
    if legacy_enabled(portal):
        seed_statuses(portal)


def seed_statuses(portal: Portal) -> None:
    """The default old-invoice statuses as crm.status.list {filter: {ENTITY_ID: "INVOICE_STATUS"}} gives them
    (crm.invoice.status.list is deprecated for it since 19.0.0: OUTDATED/../invoice-status-old/
    crm-invoice-status-list.html). "P" is paid (crm-invoice-add.html's example pays with STATUS_ID "P"
    and PAY_VOUCHER_*); N new, S sent, D declined are the portal's defaults [memory]. SEMANTICS as on
    crm.status.list rows (crm/status/crm-status-list.html): S success, F failure, null in progress."""
    rows = [("N", "New", 10, None, "#22B9FF"), ("S", "Sent to client", 20, None, "#FFA900"),
            ("P", "Paid", 130, "S", "#7BD500"), ("D", "Declined", 140, "F", "#FF5752")]
    portal.stages.extend({
        "ID": str(portal.next_id("status", 100)), "ENTITY_ID": STATUS_ENTITY, "STATUS_ID": code, "NAME": name,
        "NAME_INIT": name, "SORT": str(sort), "SYSTEM": "Y", "COLOR": color, "SEMANTICS": semantics,
        "CATEGORY_ID": None,
    } for code, name, sort, semantics, color in rows)


def statuses(portal: Portal) -> list[dict[str, Any]]:
    return sorted((s for s in portal.stages if s["ENTITY_ID"] == STATUS_ENTITY), key=lambda s: int(s["SORT"]))


def _semantics(portal: Portal, status_id: str) -> str | None:
    return next((s["SEMANTICS"] for s in statuses(portal) if s["STATUS_ID"] == status_id), None)


# ---- user fields (crm.invoice.userfield.*) ---------------------------------------------------------

def uf_add(portal: Portal, fields: dict[str, Any]) -> dict[str, Any]:
    name = str(fields.get("FIELD_NAME") or "").upper()
    if not name:
        # crm/deals/user-defined-fields/crm-deal-userfield-add.html: an empty code and this description.
        raise RestError("", "The 'FIELD_NAME' field is not found.", 400)
    if not str(fields.get("USER_TYPE_ID") or ""):
        raise RestError("", "The 'USER_TYPE_ID' field is not found.", 400)
    full = name if name.startswith(UF_PREFIX) else UF_PREFIX + name
    if len(full) > UF_NAME_MAX:
        # OUTDATED crm-invoice-user-field-add.html: 20 characters, prefix included.
        raise RestError("ERROR_CORE", f"Field name is too long (more than {UF_NAME_MAX} characters).", 400)
    if any(u["FIELD_NAME"] == full for u in portal.legacy_userfields):
        raise RestError("ERROR_CORE", f"Field {full} already exists", 400)
    label = fields.get("EDIT_FORM_LABEL") or full
    row = {
        "ID": str(portal.next_id("uf", 7000)), "ENTITY_ID": UF_ENTITY, "FIELD_NAME": full,
        "USER_TYPE_ID": str(fields["USER_TYPE_ID"]), "XML_ID": fields.get("XML_ID"),
        "SORT": str(fields.get("SORT") or 100), "MULTIPLE": str(fields.get("MULTIPLE") or "N"),
        "MANDATORY": str(fields.get("MANDATORY") or "N"), "SHOW_FILTER": str(fields.get("SHOW_FILTER") or "N"),
        "SHOW_IN_LIST": str(fields.get("SHOW_IN_LIST") or "Y"), "EDIT_IN_LIST": str(fields.get("EDIT_IN_LIST") or "Y"),
        "IS_SEARCHABLE": "N", "SETTINGS": dict(fields.get("SETTINGS") or {}),
        "EDIT_FORM_LABEL": label, "LIST_COLUMN_LABEL": fields.get("LIST_COLUMN_LABEL") or label,
        "LIST_FILTER_LABEL": fields.get("LIST_FILTER_LABEL") or label, "ERROR_MESSAGE": None, "HELP_MESSAGE": None,
    }
    portal.legacy_userfields.append(row)
    return row


def uf_get(portal: Portal, uf_id: Any) -> dict[str, Any]:
    row = next((u for u in portal.legacy_userfields if u["ID"] == str(uf_id)), None)
    if row is None:
        raise old_style("Not found")
    return row


def uf_public(row: dict[str, Any], language: str, listed: bool) -> dict[str, Any]:
    """Labels: crm.*.userfield.list gives each label as a string in the user's language, .get as an
    object of every language (crm/deals/user-defined-fields/crm-deal-userfield-list.html and -get.html)."""
    out = dict(row)
    for key in ("EDIT_FORM_LABEL", "LIST_COLUMN_LABEL", "LIST_FILTER_LABEL"):
        value = row[key]
        if listed:
            out[key] = value.get(language) or value.get("en") or "" if isinstance(value, dict) else value
        else:
            out[key] = value if isinstance(value, dict) else {language: value, "en": value}
    return out


def _uf_value(definition: dict[str, Any], value: Any) -> Any:
    """Boolean user fields keep 1/0 (NOTES s7 [memory]); an empty value stays empty."""
    if definition["USER_TYPE_ID"] == "boolean":
        if value in (None, ""):
            return None
        return "1" if str(value).upper() in ("1", "Y", "TRUE") else "0"
    return value


# ---- invoices ------------------------------------------------------------------------------------

def get(portal: Portal, invoice_id: Any) -> dict[str, Any]:
    try:
        key = int(invoice_id)
    except (TypeError, ValueError):
        key = 0
    if key <= 0:
        raise old_style("ID is not defined or invalid.")
    invoice = portal.legacy_invoices.get(key)
    if invoice is None:
        raise old_style("Not found")
    return invoice


def _date(portal: Portal, value: Any, midnight: bool) -> str | None:
    """Dates come back as ISO 8601 with the portal's offset; a date field at midnight."""
    from .wire import parse_date
    if value in (None, ""):
        return None
    moment = parse_date(str(value))
    if moment is None:
        raise RestError("", f"Invalid date: {value}", 400)
    moment = moment.astimezone(now(portal, 0).tzinfo)
    return format_date(moment.replace(hour=0, minute=0, second=0) if midnight else moment)


def _apply(portal: Portal, invoice: dict[str, Any], fields: dict[str, Any]) -> None:
    ufs = {u["FIELD_NAME"]: u for u in portal.legacy_userfields}
    for key, value in fields.items():
        key = str(key).upper()
        if key in ufs:
            invoice[key] = _uf_value(ufs[key], value)
        elif key == "PRODUCT_ROWS":
            invoice[key] = _rows(portal, invoice.get(key) or [], value)
        elif key == "INVOICE_PROPERTIES":
            invoice[key] = {str(k).upper(): str(v) for k, v in (value or {}).items()} if isinstance(value, dict) else {}
        elif key in DATE_FIELDS or key in DATETIME_FIELDS:
            if key in FIELDS:
                invoice[key] = _date(portal, value, key in DATE_FIELDS)
        elif key in INTEGER_FIELDS:
            invoice[key] = str(int(value or 0))
        elif key in FIELDS:
            invoice[key] = None if value is None else str(value)
        # Read-only and unknown keys are ignored.


def _rows(portal: Portal, current: list[dict[str, Any]], wanted: Any) -> list[dict[str, Any]]:
    """PRODUCT_ROWS replaces the invoice's rows: a row with its ID is changed, ID 0 adds one, a row left
    out goes (OUTDATED crm-invoice-update.html's example reads the rows, changes or appends one and sends
    them all back). VAT_RATE is a coefficient (0.2 = 20 %), DISCOUNT_PRICE the discount per unit, and a
    catalogue product fills the name and price it was not given (crm-invoice-fields.html, PRODUCT_ROWS)."""
    by_id = {r["ID"]: r for r in current}
    out = []
    for entry in (wanted.values() if isinstance(wanted, dict) else wanted or []):
        entry = {str(k).upper(): v for k, v in (entry or {}).items()}
        base = by_id.get(str(entry.get("ID") or "0"), {})
        src = {**base, **entry}
        product_id = int(src.get("PRODUCT_ID") or 0)
        product = portal.products.get(product_id)
        rate = src.get("VAT_RATE")
        out.append({
            "ID": base.get("ID") or str(portal.next_id("legacy_row", 1)),
            "PRODUCT_ID": str(product_id),
            "PRODUCT_NAME": str(src.get("PRODUCT_NAME") or (product["name"] if product else "")),
            "QUANTITY": str(dec(src.get("QUANTITY"), "1").quantize(Decimal("0.0001"))),
            "PRICE": str(dec(src.get("PRICE"), str(product["price"]) if product else "0").quantize(TWO, ROUND_HALF_UP)),
            "DISCOUNT_PRICE": str(dec(src.get("DISCOUNT_PRICE")).quantize(TWO, ROUND_HALF_UP)),
            "VAT_RATE": None if rate in (None, "") else str(dec(rate).quantize(Decimal("0.0001"))),
            "VAT_INCLUDED": "Y" if str(src.get("VAT_INCLUDED", "Y")).upper() in ("Y", "1", "TRUE") else "N",
            "MEASURE_CODE": str(src.get("MEASURE_CODE") or 796), "MEASURE_NAME": str(src.get("MEASURE_NAME") or "pcs"),
            "CATALOG_XML_ID": "catalog-25" if product else None,
            "PRODUCT_XML_ID": product["xmlId"] if product else None,
        })
    return out


def _recalculate(invoice: dict[str, Any]) -> None:
    """PRICE (the total, tax included) and TAX_VALUE are read-only: the portal sums the rows."""
    total = tax = Decimal("0")
    for row in invoice.get("PRODUCT_ROWS") or []:
        line = Decimal(row["PRICE"]) * Decimal(row["QUANTITY"])
        rate = Decimal(row["VAT_RATE"] or "0")
        if row["VAT_INCLUDED"] == "Y":
            total += line
            tax += line - line / (1 + rate)
        else:
            total += line * (1 + rate)
            tax += line * rate
    invoice["PRICE"] = str(total.quantize(TWO, ROUND_HALF_UP))
    invoice["TAX_VALUE"] = str(tax.quantize(TWO, ROUND_HALF_UP))


def _validate(portal: Portal, invoice: dict[str, Any]) -> None:
    missing = [name for name in REQUIRED if invoice.get(name) in (None, "", "0")]
    if missing:
        raise RestError("", f"Required fields are not filled: {', '.join(missing)}", 400)
    if invoice["STATUS_ID"] not in {s["STATUS_ID"] for s in statuses(portal)}:
        raise RestError("", f"Status {invoice['STATUS_ID']} not found", 400)
    for key, kind in (("UF_CONTACT_ID", 3), ("UF_COMPANY_ID", 4)):
        if int(invoice.get(key) or 0) and int(invoice[key]) not in portal.items[kind]:
            raise RestError("", f"{key}: {invoice[key]} not found", 400)


def _on_status(portal: Portal, invoice: dict[str, Any], before: str | None, user_id: int, moment: str) -> None:
    """A status change dates itself; the paid status sets PAYED and DATE_PAYED, the failure one
    DATE_MARKED (crm-invoice-fields.html: DATE_PAYED "Date changed to paid status", DATE_MARKED
    "Provided if the invoice is rejected")."""
    if invoice["STATUS_ID"] == before:
        return
    invoice["DATE_STATUS"], invoice["EMP_STATUS_ID"] = moment, str(user_id)
    semantics = _semantics(portal, invoice["STATUS_ID"])
    if semantics == "S":
        invoice["PAYED"], invoice["DATE_PAYED"], invoice["EMP_PAYED_ID"] = "Y", moment, str(user_id)
    else:
        invoice["PAYED"] = "N"
        if semantics == "F" and not invoice.get("DATE_MARKED"):
            invoice["DATE_MARKED"] = moment


def add(portal: Portal, fields: dict[str, Any], user_id: int, clock_time: float) -> dict[str, Any]:
    moment = now(portal, clock_time)
    stamp = format_date(moment)
    new_id = portal.next_id("legacy_invoice")
    invoice: dict[str, Any] = {
        "ID": str(new_id), "ACCOUNT_NUMBER": str(new_id), "ORDER_TOPIC": None, "STATUS_ID": statuses(portal)[0]["STATUS_ID"],
        "DATE_INSERT": stamp, "DATE_UPDATE": stamp, "DATE_STATUS": stamp, "DATE_BILL": format_date(moment.replace(hour=0, minute=0, second=0)),
        "DATE_PAY_BEFORE": None, "DATE_PAYED": None, "DATE_MARKED": None, "PAY_VOUCHER_DATE": None,
        "PAY_VOUCHER_NUM": None, "REASON_MARKED": None, "PAYED": "N", "PRICE": "0.00", "TAX_VALUE": "0.00",
        "CURRENCY": portal_currency(portal), "PERSON_TYPE_ID": None, "PAY_SYSTEM_ID": None,
        "RESPONSIBLE_ID": str(user_id), "CREATED_BY": str(user_id), "EMP_STATUS_ID": str(user_id), "EMP_PAYED_ID": None,
        "LID": "s1", "XML_ID": None, "COMMENTS": None, "USER_DESCRIPTION": None, "IS_RECURRING": "N",
        "UF_COMPANY_ID": "0", "UF_CONTACT_ID": "0", "UF_MYCOMPANY_ID": "0", "UF_DEAL_ID": "0", "UF_QUOTE_ID": "0",
        "PR_LOCATION": None, "INVOICE_PROPERTIES": {}, "PRODUCT_ROWS": [],
    }
    for u in portal.legacy_userfields:  # a default applies to new invoices only (NOTES s7)
        default = (u.get("SETTINGS") or {}).get("DEFAULT_VALUE")
        invoice[u["FIELD_NAME"]] = _uf_value(u, default)
    _apply(portal, invoice, fields)
    _validate(portal, invoice)
    _recalculate(invoice)
    _on_status(portal, invoice, None, user_id, stamp)
    portal.legacy_invoices[new_id] = invoice
    return invoice


def update(portal: Portal, invoice_id: Any, fields: dict[str, Any], user_id: int, clock_time: float) -> tuple[dict, bool]:
    """Apply ``fields``; returns the invoice and whether its status changed (onCrmInvoiceSetStatus)."""
    invoice = get(portal, invoice_id)
    candidate = dict(invoice)
    _apply(portal, candidate, fields)
    _validate(portal, candidate)
    _recalculate(candidate)
    stamp = format_date(now(portal, clock_time))
    _on_status(portal, candidate, invoice["STATUS_ID"], user_id, stamp)
    status_changed = candidate["STATUS_ID"] != invoice["STATUS_ID"]
    candidate["DATE_UPDATE"] = stamp
    invoice.clear()
    invoice.update(candidate)
    return invoice, status_changed


def delete(portal: Portal, invoice_id: Any) -> None:
    invoice = get(portal, invoice_id)
    del portal.legacy_invoices[int(invoice["ID"])]


def render(invoice: dict[str, Any], listed: bool = False) -> dict[str, Any]:
    out = {k: v for k, v in invoice.items() if not (listed and k in NOT_LISTED)}
    if not listed:
        out["PRODUCT_ROWS"] = [dict(r) for r in invoice.get("PRODUCT_ROWS") or []]
    return out


def select_fields(row: dict[str, Any], select: list[str]) -> dict[str, Any]:
    """OUTDATED crm-invoice-list.html: "*" selects every field but the user fields, "UF_*" every user
    field; nothing selected reads as "*". ID always comes."""
    wanted = [str(s).upper() for s in select if s]
    if not wanted:
        wanted = ["*"]
    keep = {"ID"}
    for name in row:
        if name in wanted or ("*" in wanted and not name.startswith("UF_CRM_")) or \
                ("UF_*" in wanted and name.startswith("UF_CRM_")):
            keep.add(name)
    return {k: v for k, v in row.items() if k in keep}
