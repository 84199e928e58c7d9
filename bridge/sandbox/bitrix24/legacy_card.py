"""The old invoice's card (``/crm/invoice/show/<id>/``), for a portal that has old invoices
(``invoices`` setting ``legacy`` or ``both``): a small copy of Bitrix24's, as card.py is for
smart invoices. Topic, status, client (a company and a contact: old invoices have one of
each), the portal's currency (read-only on old invoices), the user fields every app added (from the portal's ``crm.invoice.userfield``
definitions, so the app's sync box appears as the app defined it) and product rows with
VAT and a discount per unit. "New invoice" opens an empty card; Save creates it (one
``ONCRMINVOICEADD`` with everything set). Old invoices have no detail tabs: apps bind the
card's toolbar (``CRM_INVOICE_DETAIL_TOOLBAR``), shown as buttons above the card.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from html import escape
from typing import Any

from werkzeug.datastructures import MultiDict

from . import card, legacy

GENERAL = ("ORDER_TOPIC", "STATUS_ID", "UF_COMPANY_ID", "UF_CONTACT_ID")  # CURRENCY is the portal's, read-only
# What the portal's card fills in by itself on an old invoice (both required by crm.invoice.add):
# the payer type, from the client chosen, and the portal's default payment method.
PERSON_CONTACT, PERSON_COMPANY, DEFAULT_PAY_SYSTEM = "1", "2", "1"


def _options(pairs: list[tuple[Any, str]], selected: str) -> str:
    return "".join(f"<option value='{escape(str(v))}'{' selected' if str(v) == selected else ''}>{escape(label)}</option>"
                   for v, label in pairs)


def _label(definition: dict[str, Any], language: str) -> str:
    label = definition.get("EDIT_FORM_LABEL")
    if isinstance(label, dict):
        return label.get(language) or label.get("en") or definition["FIELD_NAME"]
    return str(label or definition["FIELD_NAME"])


def _user_fields(portal, invoice: dict[str, Any] | None) -> str:
    out = []
    for d in portal.legacy_userfields:
        name = d["FIELD_NAME"]
        value = (invoice or {}).get(name)
        if invoice is None:
            value = (d.get("SETTINGS") or {}).get("DEFAULT_VALUE")
        label = escape(_label(d, portal.language))
        if d["USER_TYPE_ID"] == "boolean":
            ticked = str(value).upper() in ("1", "Y", "TRUE")
            out.append(f"<p><input type='hidden' name='uf_{name}' value='N'><label><input type='checkbox' "
                       f"name='uf_{name}' value='Y'{' checked' if ticked else ''}> {label}</label></p>")
        else:
            out.append(f"<p><label>{label} <input name='uf_{name}' value='{escape(str(value or ''))}'></label></p>")
    return f"<fieldset><legend>More</legend>{''.join(out)}</fieldset>" if out else ""


def _rows(rows: list[dict[str, Any]]) -> str:
    lines = []
    for r in [*rows, *[None] * card.BLANK_ROWS]:
        rate = "" if not r or r["VAT_RATE"] is None else str((Decimal(r["VAT_RATE"]) * 100).normalize())
        included = "Y" if not r else r["VAT_INCLUDED"]
        lines.append(
            f"<tr><td><input name='row_name' aria-label='Product' value='{escape(r['PRODUCT_NAME']) if r else ''}'></td>"
            f"<td><input name='row_price' aria-label='Price' value='{r['PRICE'] if r else ''}' size='8'></td>"
            f"<td><input name='row_qty' aria-label='Quantity' value='{r['QUANTITY'] if r else ''}' size='6'></td>"
            f"<td><input name='row_discount' aria-label='Discount per unit' value='{r['DISCOUNT_PRICE'] if r else ''}' size='6'></td>"
            f"<td><input name='row_tax' aria-label='VAT %' value='{rate}' size='4'></td>"
            f"<td><select name='row_included' aria-label='VAT included'>"
            f"{_options([('Y', 'included'), ('N', 'on top')], included)}</select></td></tr>")
    return ("<table><tr><th>Product</th><th>Price</th><th>Qty</th><th>Discount per unit</th><th>VAT %</th><th>VAT</th></tr>"
            f"{''.join(lines)}</table>")


def form(portal, invoice: dict[str, Any] | None, action: str) -> str:
    invoice = invoice or {}
    statuses = _options([(s["STATUS_ID"], s["NAME"]) for s in legacy.statuses(portal)],
                        invoice.get("STATUS_ID") or legacy.statuses(portal)[0]["STATUS_ID"])
    companies = _options([(0, "-")] + [(c["ID"], str(c.get("TITLE") or "")) for c in portal.items[4].values()],
                         str(invoice.get("UF_COMPANY_ID") or 0))
    contacts = _options([(0, "-")] + [(c["ID"], card._person(c)) for c in portal.items[3].values()],
                        str(invoice.get("UF_CONTACT_ID") or 0))
    currency = invoice.get("CURRENCY") or legacy.portal_currency(portal)
    total = f"<p>Total: {invoice['PRICE']} {invoice['CURRENCY']} (VAT {invoice['TAX_VALUE']})</p>" if invoice else ""
    return (f"<form method='post' action='{action}'>"
            f"<p><label>Topic <input name='ORDER_TOPIC' value='{escape(str(invoice.get('ORDER_TOPIC') or ''))}'></label></p>"
            f"<p><label>Status <select name='STATUS_ID'>{statuses}</select></label></p>"
            f"<fieldset><legend>Client</legend><p><label>Company <select name='UF_COMPANY_ID'>{companies}</select></label></p>"
            f"<p><label>Contact <select name='UF_CONTACT_ID'>{contacts}</select></label></p></fieldset>"
            f"<p>Currency: {escape(currency)} (an old invoice is in the portal's currency)</p>"
            f"{_user_fields(portal, invoice or None)}<h2>Products</h2>{_rows(invoice.get('PRODUCT_ROWS') or [])}"
            f"{total}<button>Save</button></form>")


def _number(text: str, default: str = "0") -> Decimal:
    try:
        return Decimal(text.strip() or default)
    except InvalidOperation:
        return Decimal(default)


def fields_from(form_data: MultiDict, portal) -> dict[str, Any]:
    """crm.invoice.add/update fields from the card: rows replace the old ones, as the portal's
    card does (``PRODUCT_ROWS``: VAT as a coefficient, the discount per unit)."""
    fields: dict[str, Any] = {k: form_data[k] for k in GENERAL if k in form_data}
    if "UF_COMPANY_ID" in form_data:  # the card sets what the portal requires: a legal entity (2) or a person (1)
        fields["PERSON_TYPE_ID"] = PERSON_COMPANY if str(form_data["UF_COMPANY_ID"]) not in ("", "0") else PERSON_CONTACT
    for d in portal.legacy_userfields:
        values = form_data.getlist(f"uf_{d['FIELD_NAME']}")
        if values:
            fields[d["FIELD_NAME"]] = ("Y" if "Y" in values else "N") if d["USER_TYPE_ID"] == "boolean" else values[-1]
    if "row_name" in form_data:
        names = form_data.getlist("row_name")

        def column(key: str, default: str) -> list[str]:
            values = form_data.getlist(key)
            return values + [default] * (len(names) - len(values))
        fields["PRODUCT_ROWS"] = [
            {"ID": 0, "PRODUCT_NAME": name, "PRICE": str(_number(price)), "QUANTITY": qty or "1",
             "DISCOUNT_PRICE": str(_number(discount)), "VAT_INCLUDED": included,
             "VAT_RATE": str(_number(tax) / 100) if tax.strip() else None}
            for name, price, qty, discount, tax, included in zip(
                names, column("row_price", "0"), column("row_qty", "1"), column("row_discount", "0"),
                column("row_tax", ""), column("row_included", "Y")) if name.strip()]
    return fields


def same_rows(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> bool:
    def key(r: dict[str, Any]) -> tuple:
        return (r["PRODUCT_NAME"], _number(str(r["PRICE"])), _number(str(r["QUANTITY"]), "1"),
                _number(str(r.get("DISCOUNT_PRICE") or 0)), _number(str(r["VAT_RATE"] or "0")), r.get("VAT_INCLUDED", "Y"))
    return [key(r) for r in old] == [key(r) for r in new]


def listing(portal) -> str:
    names = {s["STATUS_ID"]: s["NAME"] for s in legacy.statuses(portal)}
    rows = "".join(f"<tr><td><a href='/{portal.domain}/crm/invoice/show/{i['ID']}/'>{i['ID']}</a></td>"
                   f"<td>{escape(str(i.get('ORDER_TOPIC') or ''))}</td><td>{escape(names.get(i['STATUS_ID'], i['STATUS_ID']))}</td>"
                   f"<td>{i['PRICE']} {i['CURRENCY']}</td></tr>"
                   for i in sorted(portal.legacy_invoices.values(), key=lambda i: -int(i["ID"])))
    return (f"<p><a href='/{portal.domain}/crm/invoice/edit/0/'>New invoice</a></p>"
            f"<table><tr><th>ID</th><th>Topic</th><th>Status</th><th>Amount</th></tr>{rows}</table>")
