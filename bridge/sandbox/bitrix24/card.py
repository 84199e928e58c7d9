"""The smart invoice's card, a small copy of Bitrix24's: client (a company and its contacts),
currency, stage, the user fields every app added (rendered from the portal's own
user-field definitions, so the app's "Sync with Xero" box appears exactly as the app
defined it) and product rows with tax and discount.

A new invoice is this card before its first Save, as in Bitrix24: "New invoice" opens an
empty card and Save creates the item with everything filled in, so an app sees one ADD
with the client already set, not an empty invoice followed by changes.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from html import escape
from typing import Any

from werkzeug.datastructures import MultiDict

from . import invoices

# The currencies the card offers (a portal's crm.currency list; the demo's Xero organisations
# take NZD and GBP, its Bexio companies CHF).
CARD_CURRENCIES = ("USD", "EUR", "NZD", "GBP", "AUD", "CHF")
BLANK_ROWS = 2
GENERAL = ("title", "stageId", "companyId", "contactId", "currencyId")


def _options(pairs: list[tuple[Any, str]], selected: set[str]) -> str:
    return "".join(f"<option value='{escape(str(v))}'{' selected' if str(v) in selected else ''}>{escape(label)}</option>"
                   for v, label in pairs)


def _person(contact: dict[str, Any]) -> str:
    name = " ".join(filter(None, [contact.get("NAME"), contact.get("LAST_NAME")])) or f"Contact {contact['ID']}"
    emails = [e.get("VALUE") for e in contact.get("EMAIL") or [] if e.get("VALUE")]
    return f"{name} ({emails[0]})" if emails else name


def _label(definition: dict[str, Any], language: str) -> str:
    labels = definition.get("editFormLabel") or {}
    return labels.get(language) or labels.get("en") or definition["fieldName"]


def party_table(portal) -> str:
    """The CRM's companies, each with its contacts, then the contacts of no company."""
    def people(company_id: int) -> str:
        return ", ".join(escape(_person(c)) for c in portal.items[3].values()
                         if any(link["COMPANY_ID"] == company_id for link in c.get("_companies", [])))
    rows = "".join(f"<tr><td>{escape(str(c.get('TITLE') or ''))}</td>"
                   f"<td>{escape(', '.join(e.get('VALUE', '') for e in c.get('EMAIL') or []))}</td>"
                   f"<td>{people(int(c['ID']))}</td></tr>" for c in portal.items[4].values())
    alone = ", ".join(escape(_person(c)) for c in portal.items[3].values() if not c.get("_companies"))
    return (f"<table><tr><th>Company</th><th>E-mail</th><th>Contacts</th></tr>{rows}</table>"
            f"<h2>Contacts without a company</h2><p>{alone or '-'}</p>")


def user_field_inputs(portal, item: dict[str, Any] | None) -> str:
    """One input per user field the portal defines for invoices, by its type."""
    out = []
    for d in invoices.uf_defs(portal):
        name, value = d["fieldName"], (item or {}).get(d["fieldName"])
        if item is None:  # a new card shows the field's default, as the portal does
            default = (d.get("settings") or {}).get("DEFAULT_VALUE")
            value = invoices._uf_value_in(d, default) if default not in (None, "") else None
        label = escape(_label(d, portal.language))
        if d["userTypeId"] == "boolean":
            out.append(f"<p><input type='hidden' name='uf_{name}' value='N'><label><input type='checkbox' "
                       f"name='uf_{name}' value='Y'{' checked' if value else ''}> {label}</label></p>")
        else:
            out.append(f"<p><label>{label} <input name='uf_{name}' value='{escape(str(value or ''))}'></label></p>")
    if not out:
        return ""
    return f"<fieldset><legend>More</legend>{''.join(out)}</fieldset>"


def general_inputs(portal, item: dict[str, Any] | None) -> str:
    item = item or {}
    stages = _options([(s["STATUS_ID"], s["NAME"]) for s in sorted(portal.stages, key=lambda s: int(s["SORT"]))],
                      {item.get("stageId") or invoices.stage_ids(portal)[0]})
    companies = _options([(0, "-")] + [(c["ID"], str(c.get("TITLE") or "")) for c in portal.items[4].values()],
                         {str(item.get("companyId") or 0)})
    contacts = _options([(c["ID"], _person(c)) for c in portal.items[3].values()],
                        {str(i) for i in item.get("contactIds") or []})
    currency = item.get("currencyId") or invoices.portal_currency(portal)
    currencies = _options([(c, c) for c in sorted({*CARD_CURRENCIES, currency})], {currency})
    title = escape(str(item.get("title") or ""))
    return (f"<p><label>Title <input name='title' value='{title}' placeholder='Invoice #'></label></p>"
            f"<p><label>Stage <select name='stageId'>{stages}</select></label></p>"
            f"<fieldset><legend>Client</legend><p><label>Company <select name='companyId'>{companies}</select></label></p>"
            f"<p><label>Contacts <select name='contactIds' multiple size='4'>{contacts}</select></label>"
            f"<input type='hidden' name='contacts_shown' value='1'></p></fieldset>"
            f"<p><label>Currency <select name='currencyId'>{currencies}</select></label></p>")


def product_inputs(rows: list[dict[str, Any]]) -> str:
    """Rows as the card shows them: the price before discount, tax included or on top."""
    lines = []
    for r in [*rows, *[None] * BLANK_ROWS]:
        included = not r or r["taxIncluded"] == "Y"
        price = "" if not r else (r["priceBrutto"] if included else r["priceNetto"])
        tax = "" if not r or r["taxRate"] is None else r["taxRate"]
        lines.append(
            f"<tr><td><input name='row_name' aria-label='Product' value='{escape(r['productName']) if r else ''}'></td>"
            f"<td><input name='row_product' aria-label='Product ID' value='{r['productId'] if r else ''}' size='4'></td>"
            f"<td><input name='row_price' aria-label='Price' value='{price}' size='8'></td>"
            f"<td><input name='row_qty' aria-label='Quantity' value='{r['quantity'] if r else ''}' size='4'></td>"
            f"<td><input name='row_discount' aria-label='Discount %' value='{r['discountRate'] if r else ''}' size='4'></td>"
            f"<td><input name='row_tax' aria-label='Tax %' value='{tax}' size='4'></td>"
            f"<td><select name='row_included' aria-label='Tax included'>"
            f"{_options([('Y', 'included'), ('N', 'on top')], {'Y' if included else 'N'})}</select></td></tr>")
    return ("<table><tr><th>Product</th><th>Product ID</th><th>Price</th><th>Qty</th><th>Discount %</th><th>Tax %</th>"
            f"<th>Tax</th></tr>{''.join(lines)}</table>")


def fields_from(form: MultiDict, portal) -> dict[str, Any]:
    """The item's fields a card's form sets (general ones and user fields)."""
    fields: dict[str, Any] = {k: form[k] for k in GENERAL if k in form}
    if "contacts_shown" in form:
        fields["contactIds"] = form.getlist("contactIds")
        fields["contactId"] = (fields["contactIds"] or [0])[0]
    for d in invoices.uf_defs(portal):
        values = form.getlist(f"uf_{d['fieldName']}")
        if values:
            fields[d["fieldName"]] = ("Y" if "Y" in values else "N") if d["userTypeId"] == "boolean" else values[-1]
    return fields


def _number(text: str, default: str) -> Decimal:
    try:
        return Decimal(text.strip() or default)
    except InvalidOperation:
        return Decimal(default)


def rows_from(form: MultiDict) -> list[dict[str, Any]] | None:
    """Product rows as crm.item.productrow.set takes them: ``price`` after discount with tax.
    None when the form has no product rows."""
    if "row_name" not in form:
        return None
    names = form.getlist("row_name")
    count = len(names)

    def column(key: str, default: str) -> list[str]:
        values = form.getlist(key)
        return values + [default] * (count - len(values))

    rows = []
    for name, product, price, qty, discount, tax, included in zip(
            names, column("row_product", ""), column("row_price", "0"), column("row_qty", "1"),
            column("row_discount", "0"), column("row_tax", ""), column("row_included", "Y")):
        if not name.strip():
            continue
        rate = _number(discount, "0")
        final = _number(price, "0") * (1 - rate / 100)
        if included != "Y" and tax.strip():
            final *= 1 + _number(tax, "0") / 100
        rows.append({"productName": name, "productId": product or 0, "quantity": qty or "1",
                     "price": str(final.quantize(invoices.TWO, ROUND_HALF_UP)), "discountTypeId": 2,
                     "discountRate": str(rate), "taxRate": tax.strip() or None, "taxIncluded": included})
    return rows


def same_rows(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> bool:
    """Whether saving ``new`` would change nothing (the portal then fires no event)."""
    def key(r: dict[str, Any]) -> tuple:
        return (r["productName"], Decimal(str(r["price"])).quantize(invoices.TWO), Decimal(str(r["quantity"])),
                Decimal(str(r["taxRate"])) if r["taxRate"] not in (None, "") else None,
                Decimal(str(r.get("discountRate") or 0)).quantize(invoices.TWO), r.get("taxIncluded", "N"))
    return [key(r) for r in old] == [key(r) for r in new]


def card_form(portal, item: dict[str, Any] | None, tab: str, action: str) -> str:
    """The card's General tab (everything, for a new card) or its Products tab."""
    if item is not None and tab == "products":
        rows = invoices.rows_of(portal, item["id"])
        return (f"<form method='post' action='{action}'>{product_inputs(rows)}"
                f"<p>Total: {item['opportunity']} {item['currencyId']} (tax {item['taxValue']})</p>"
                f"<button>Save</button></form>")
    body = general_inputs(portal, item) + user_field_inputs(portal, item)
    if item is None:
        body += f"<h2>Products</h2>{product_inputs([])}"
        return f"<form method='post' action='{action}'>{body}<button>Save</button> <a href='../../list/'>Cancel</a></form>"
    return (f"<form method='post' action='{action}'>{body}"
            f"<p>Amount: {item['opportunity']} {item['currencyId']} (tax {item['taxValue']})</p>"
            f"<p>Modified: {escape(item['updatedTime'])}</p><button>Save</button></form>")
