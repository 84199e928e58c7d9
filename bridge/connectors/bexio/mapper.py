"""Pure translation between Bexio's wire shapes and ``bridge.domain``; no I/O.

Every id Bexio needs (contact, user, language, currency, bank account, tax, account,
article) differs per company (NOTES §3, §8.8), so the caller resolves them and passes
them in; nothing here is hard-coded but the few fixed enumerations the notes document
(contact types, invoice status ids, position types).

Money rule (NOTES §2 "Formats", §8.1): amounts and quantities go out as decimal strings
with at most six decimals, unrounded otherwise; Bexio computes every total itself and
rounds only the document total to the currency's ``round_factor`` (CHF 0.05).
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from ...domain import Address, Invoice, InvoiceStatus, Line, LineKind, Party, PartyKind, Product
from ...errors import PermanentError
from ...ports import LedgerDocument, LedgerParty, SalesAccount, Settlement, TaxCode
from ...messages import N_

ZURICH = ZoneInfo("Europe/Zurich")
SIX = Decimal("0.000001")
PLACEHOLDER = "[Network Link]"  # NOTES §5 "Send"
MAX_REFERENCE = 255  # NOTES §2 "Search": field values are limited to 255 characters

# NOTES §4: contact_type_id 1 = company, 2 = person.
COMPANY, PERSON = 1, 2

# NOTES §5 "Status": 7 draft, 8 pending (issued, open), 9 paid, 16 partial, 19 cancelled,
# 31 unpaid (issued and overdue: still open).
DRAFT, PENDING, PAID, PARTIAL, CANCELLED, UNPAID = 7, 8, 9, 16, 19, 31
STATUS: dict[int, InvoiceStatus] = {
    DRAFT: InvoiceStatus.DRAFT, PENDING: InvoiceStatus.AUTHORISED, PAID: InvoiceStatus.PAID,
    PARTIAL: InvoiceStatus.PARTIALLY_PAID, CANCELLED: InvoiceStatus.VOIDED, UNPAID: InvoiceStatus.AUTHORISED,
}
OPEN_UNPAID = {PENDING, UNPAID}

TITLES = {"de": "Bestellung", "fr": "Commande", "it": "Ordine", "en": "Order"}
DISCOUNT_TEXT = {"de": "Rabatt", "fr": "Rabais", "it": "Sconto", "en": "Discount"}
# Shipping and payment-fee lines are labelled in the document's language, like its title:
# a platform names them in English ("Shipping: Post Priority", the method as the shop names
# it after the colon). The label is how the line is shown, not what it is: content hashes
# read it in English (``as_customer_reads``), so invoices written with English labels are
# no change; a draft takes the customer's language when it is next written for a real change.
LINE_LABELS: dict[LineKind, dict[str, str]] = {
    LineKind.SHIPPING: {"de": "Versand", "fr": "Livraison", "it": "Spedizione", "en": "Shipping"},
    LineKind.PAYMENT_FEE: {"de": "Zahlungsgebühr", "fr": "Frais de paiement", "it": "Commissione di pagamento",
                           "en": "Payment fee"},
}
# Each shown label -> its English one (the comparable form).
_IN_ENGLISH = {label: labels["en"] for labels in LINE_LABELS.values() for label in labels.values()}
EMAIL_DEFAULTS: dict[str, tuple[str, str]] = {
    "de": ("Rechnung {number}", "Guten Tag\n\nVielen Dank für Ihre Bestellung. Ihre Rechnung {number} "
                                "finden Sie unter [Network Link]\n\nFreundliche Grüsse"),
    "fr": ("Facture {number}", "Bonjour\n\nMerci pour votre commande. Votre facture {number} se trouve "
                               "ici : [Network Link]\n\nMeilleures salutations"),
    "it": ("Fattura {number}", "Buongiorno\n\nGrazie per il suo ordine. La fattura {number} si trova "
                               "qui: [Network Link]\n\nCordiali saluti"),
    "en": ("Invoice {number}", "Hello\n\nThank you for your order. Your invoice {number} is here: "
                               "[Network Link]\n\nKind regards"),
}


# --------------------------------------------------------------------------------------
# Numbers and times
# --------------------------------------------------------------------------------------


def wire(value: Decimal | int | str) -> str:
    """A decimal string with at most six decimals (NOTES §2 "Formats"), never an exponent."""
    number = Decimal(str(value))
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -6:
        number = number.quantize(SIX, ROUND_HALF_UP)
    return format(number, "f")


def dec(value: Any, default: Decimal = Decimal("0")) -> Decimal:
    """Bexio money: a decimal string ("19.150000") or, on 3.0, a JSON number."""
    if value in (None, ""):
        return default
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return default


def parse_v2_timestamp(value: str | None) -> datetime | None:
    """2.0's ``2019-04-08 13:17:32`` is Zurich wall time (NOTES §2 "Formats" [M: zone])."""
    if not value:
        return None
    try:
        local = datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZURICH)
    except ValueError:
        try:
            local = datetime.fromisoformat(value)
        except ValueError:
            return None
        if local.tzinfo is None:
            local = local.replace(tzinfo=ZURICH)
    return local.astimezone(timezone.utc)


# --------------------------------------------------------------------------------------
# Contacts (NOTES §4)
# --------------------------------------------------------------------------------------

_HOUSE_NUMBER = re.compile(r"^(?P<street>.*\D)\s+(?P<number>\d+\s?[A-Za-z]?(?:[-/]\d+[A-Za-z]?)?)$")


def split_street(street: str) -> tuple[str, str]:
    """"Seestrasse 12a" -> ("Seestrasse", "12a"): Bexio writes street and number apart
    (NOTES §4: ``address`` is response-only)."""
    match = _HOUSE_NUMBER.match(street.strip())
    if not match:
        return street.strip(), ""
    return match["street"].strip(), match["number"].replace(" ", "")


def contact_type(party: Party) -> int:
    return COMPANY if party.kind == PartyKind.COMPANY else PERSON


def party_to_contact(party: Party, *, user_id: int, country_id: int | None = None,
                     language_id: int | None = None, nr: str | None = None) -> dict[str, Any]:
    """The create/edit body of a contact. NOTES §4: contact_type_id, name_1, user_id and
    owner_id are required (on edit too); name_1 is the company or the last name, name_2
    the company addition or the first name."""
    kind = contact_type(party)
    if kind == COMPANY:
        name_1, name_2 = party.name, ""
    else:
        name_1 = party.last_name or party.name
        name_2 = party.first_name if party.last_name else ""
    street, number = split_street(party.address.street) if party.address.street else ("", "")
    body: dict[str, Any] = {
        "contact_type_id": kind, "name_1": name_1[:255], "name_2": name_2[:255] or None,
        "user_id": user_id, "owner_id": user_id,
        "street_name": street or None, "house_number": number or None,
        "postcode": party.address.postcode or None, "city": party.address.city or None,
        "country_id": country_id, "language_id": language_id,
        "mail": party.email or None, "phone_fixed": party.phone or None, "phone_mobile": party.mobile or None,
    }
    if nr:
        body["nr"] = nr
    return {k: v for k, v in body.items() if v is not None}


def contact_to_party(row: dict[str, Any], *, country_codes: dict[int, str] | None = None) -> LedgerParty:
    kind = PartyKind.COMPANY if row.get("contact_type_id") == COMPANY else PartyKind.PERSON
    first = "" if kind == PartyKind.COMPANY else (row.get("name_2") or "")
    last = "" if kind == PartyKind.COMPANY else (row.get("name_1") or "")
    if kind == PartyKind.COMPANY:
        name = row.get("name_1") or ""
    else:
        name = " ".join(p for p in (first, last) if p)
    street = " ".join(str(p) for p in (row.get("street_name"), row.get("house_number")) if p)
    party = Party(key=str(row.get("nr") or ""), kind=kind, name=name, first_name=first, last_name=last,
                  email=row.get("mail") or "", phone=row.get("phone_fixed") or "",
                  mobile=row.get("phone_mobile") or "",
                  address=Address(street=street, city=row.get("city") or "", postcode=str(row.get("postcode") or ""),
                                  country_code=(country_codes or {}).get(row.get("country_id") or 0, "")))
    return LedgerParty(ledger_id=str(row["id"]), name=name, external_key=row.get("nr"), email=party.email,
                       archived=bool(row.get("archived", False)), party=party,
                       updated_at=parse_v2_timestamp(row.get("updated_at")))


# --------------------------------------------------------------------------------------
# Invoices (NOTES §5)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceRefs:
    """The per-company ids an invoice body needs, resolved by the caller."""

    contact_id: int
    user_id: int
    language_id: int
    currency_id: int
    language: str = "de"
    bank_account_id: int | None = None
    payment_type_id: int | None = None
    default_account_id: int | None = None
    # line index -> Bexio article id, for lines whose product is a Bexio article
    article_ids: dict[int, int] = field(default_factory=dict)


def api_reference(invoice: Invoice) -> str:
    """The invoice's external id in Bexio: the platform key, e.g. ``dg1:<tenant>:<site>:<order>``.

    NOTES §5: api_reference is ours to write and search; uniqueness is not enforced, so the
    ledger searches it with "=" before every create."""
    if len(invoice.key) > MAX_REFERENCE:
        raise PermanentError(N_("The invoice key %(key)s... is longer than Bexio's 255 characters.",
                                key=invoice.key[:40]),
                             code="reference_too_long")
    return invoice.key


def invoice_to_kb(invoice: Invoice, refs: InvoiceRefs) -> dict[str, Any]:
    """The create body of a kb_invoice with all its positions.

    NOTES §5: send every reference id explicitly (as the maintained clients do);
    mwst_type 0 with mwst_is_net false means the prices include tax, true that tax is
    added on top; document_nr is left to Bexio's automatic numbering.
    """
    # Title, header and footer are the customer's text: a template the user set owns them
    # (``Invoice.shown``); header and footer are left out otherwise, so a text typed in Bexio
    # stays (https://docs.bexio.com/#tag/Invoices/operation/v2CreateInvoice: title, header, footer).
    title = invoice.shown.get("title") or f"{TITLES.get(refs.language, TITLES['en'])} {invoice.number}".strip()
    body: dict[str, Any] = {
        "title": title[:255], "contact_id": refs.contact_id, "user_id": refs.user_id,
        "language_id": refs.language_id, "currency_id": refs.currency_id,
        "mwst_type": 0, "mwst_is_net": not invoice.prices_include_tax, "show_position_taxes": False,
        "is_valid_from": invoice.issue_date.isoformat(),
        "reference": (invoice.shown.get("reference") or invoice.reference or invoice.number)[:255] or None,
        "api_reference": api_reference(invoice),
        "positions": positions(invoice, refs),
    }
    if invoice.due_date:
        body["is_valid_to"] = invoice.due_date.isoformat()
    for text in ("header", "footer"):
        if text in invoice.shown:
            body[text] = invoice.shown[text][:4000]
    if refs.bank_account_id is not None:
        body["bank_account_id"] = refs.bank_account_id
    if refs.payment_type_id is not None:
        body["payment_type_id"] = refs.payment_type_id
    return {k: v for k, v in body.items() if v is not None}


def shown_text(line: Line, refs: InvoiceRefs) -> str:
    """A shipping or payment-fee line's text in the document's language; any other text as
    the platform wrote it."""
    labels = LINE_LABELS.get(line.kind)
    english = labels["en"] if labels else None
    if english is None or not (line.description == english or line.description.startswith(english + ": ")):
        return line.description
    return labels.get(refs.language, english) + line.description[len(english):]


def positions(invoice: Invoice, refs: InvoiceRefs) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for index, line in enumerate(invoice.lines):
        if line.kind == LineKind.TEXT:
            out.append({"type": "KbPositionText", "text": line.description, "show_pos_nr": False})
        elif line.kind == LineKind.DISCOUNT:
            out.append(_discount(line, refs))
        else:
            out.append(_item(line, refs, refs.article_ids.get(index)))
            if line.discount_amount:
                out.append(_line_discount(line, refs))
    return out


def as_customer_reads(body: dict[str, Any]) -> dict[str, Any]:
    """The invoice body with each article position written as the custom position it
    replaces: the same text, quantity, unit price, tax and account, which is all the
    customer and the books see of it.

    A line becomes an article position once the product sync has made its product a Bexio
    article (``InvoiceRefs.article_ids``); that changes how bridge would write the invoice,
    not what it says. Content hashes are taken of this form, so an order invoiced before
    its products were articles is not "changed" by the product sync: no rewrite of a
    draft, no conflict on an issued invoice. A draft takes article positions the next time
    it is rewritten for a real change. Shipping and fee labels are read in English here
    for the same reason (``LINE_LABELS``)."""
    def plain(position: dict[str, Any]) -> dict[str, Any]:
        text = str(position.get("text") or "")
        label, colon, rest = text.partition(":")
        if label in _IN_ENGLISH and (colon or not rest):  # a shipping or fee line: its label in English
            position = {**position, "text": _IN_ENGLISH[label] + colon + rest}
        if position.get("type") != "KbPositionArticle":
            return position
        return {**{k: v for k, v in position.items() if k != "article_id"}, "type": "KbPositionCustom"}
    return {**body, "positions": [plain(p) for p in body.get("positions") or []]}


def _tax_id(line: Line) -> int | None:
    """The line's Bexio tax, resolved by the flow from the tax mapping and the service date
    (NOTES §8.3: separate tax records per period; only active sales taxes are accepted)."""
    if line.ledger_tax_code:
        try:
            return int(line.ledger_tax_code)
        except ValueError:
            raise PermanentError(N_("%(code)s is not a Bexio tax id.", code=repr(line.ledger_tax_code)),
                                 code="bad_tax_code")
    if line.tax_rate:
        rate = Decimal(line.tax_rate).quantize(Decimal("0.01"))
        raise PermanentError(N_("No Bexio tax is mapped for the tax rate %(rate)s %% (line \"%(line)s\").",
                                rate=rate, line=line.description), code="unmapped_tax_rate",
                             fix=N_("Map %(rate)s %% to a Bexio tax in the tax mapping setting.", rate=rate))
    return None


def _account_id(line: Line, refs: InvoiceRefs) -> int | None:
    if line.ledger_account_code:
        return int(line.ledger_account_code)
    return refs.default_account_id


def _item(line: Line, refs: InvoiceRefs, article_id: int | None) -> dict[str, Any]:
    position: dict[str, Any] = {
        "type": "KbPositionArticle" if article_id else "KbPositionCustom",
        "amount": wire(line.quantity), "unit_price": wire(line.unit_price), "text": shown_text(line, refs),
        "tax_id": _tax_id(line), "account_id": _account_id(line, refs),
    }
    if article_id:
        position["article_id"] = article_id
    if line.discount_rate:
        position["discount_in_percent"] = wire(line.discount_rate)
    return {k: v for k, v in position.items() if v is not None}


def _line_discount(line: Line, refs: InvoiceRefs) -> dict[str, Any]:
    """A fixed discount on one line: a negative position with the line's own tax, so the
    VAT of each rate stays exact (a KbPositionDiscount would spread it over all rates)."""
    label = DISCOUNT_TEXT.get(refs.language, DISCOUNT_TEXT["en"])
    position = {"type": "KbPositionCustom", "amount": "1", "unit_price": wire(-abs(line.discount_amount or 0)),
                "text": f"{label}: {line.description}", "tax_id": _tax_id(line),
                "account_id": _account_id(line, refs)}
    return {k: v for k, v in position.items() if v is not None}


def _discount(line: Line, refs: InvoiceRefs) -> dict[str, Any]:
    """An order discount. With a tax it is a negative position of that tax (VAT exact);
    without one a document discount, which Bexio spreads over the rates (NOTES §5)."""
    if line.ledger_tax_code or line.tax_rate:
        position = {"type": "KbPositionCustom", "amount": wire(abs(line.quantity)),
                    "unit_price": wire(-abs(line.unit_price)), "text": line.description,
                    "tax_id": _tax_id(line), "account_id": _account_id(line, refs)}
        return {k: v for k, v in position.items() if v is not None}
    if line.discount_rate and not line.unit_price:
        return {"type": "KbPositionDiscount", "text": line.description, "is_percentual": True,
                "value": wire(abs(line.discount_rate))}
    return {"type": "KbPositionDiscount", "text": line.description, "is_percentual": False,
            "value": wire(abs(line.quantity * line.unit_price))}


def invoice_status(status_id: Any) -> InvoiceStatus:
    try:
        return STATUS[int(status_id)]
    except (KeyError, TypeError, ValueError):
        return InvoiceStatus.AUTHORISED  # an unknown open state: never treated as paid


def invoice_url(web_url: str, invoice_id: Any) -> str:
    """The invoice in Bexio's web app (the classic URL, which redirects to the new UI)."""
    return f"{web_url.rstrip('/')}/index.php/kb_invoice/show/id/{invoice_id}"


def kb_to_document(row: dict[str, Any], *, currency_codes: dict[int, str], web_url: str) -> LedgerDocument:
    return LedgerDocument(
        ledger_id=str(row["id"]), number=str(row.get("document_nr") or ""),
        status=invoice_status(row.get("kb_item_status_id")), reference=row.get("api_reference") or "",
        total=dec(row.get("total")), amount_due=dec(row.get("total_remaining_payments")),
        amount_paid=dec(row.get("total_received_payments")),
        amount_credited=dec(row.get("total_credit_vouchers")),  # credit vouchers booked by hand (NOTES)
        currency=currency_codes.get(row.get("currency_id") or 0, ""),
        version=row.get("updated_at"), url=invoice_url(web_url, row["id"]),
        external_url=row.get("network_link") or "", updated_at=parse_v2_timestamp(row.get("updated_at")))


def settlement(payment: dict[str, Any]) -> Settlement:
    """A payment booked on a kb_invoice (GET /2.0/kb_invoice/{id}/payment: id, date, value)."""
    on = payment.get("date")
    return Settlement(kind="payment", ledger_id=str(payment.get("id") or ""), amount=dec(payment.get("value")),
                      on=date.fromisoformat(str(on)[:10]) if on else None)


def payment_value(amount: Decimal, remaining: Decimal, round_factor: Decimal) -> Decimal:
    """What to book so that a fully paid order is "paid" in Bexio, not "partial".

    NOTES §8.1: Bexio rounds the document total to ``round_factor`` (CHF 0.05), so the
    shop's exact total and Bexio's differ by a few Rappen: 5 x 3.56 at 7.7 % on top is
    19.17 in the shop and 19.15 in Bexio. A payment within one round factor of what is
    open settles the invoice at Bexio's figure; anything else (a real part payment) is
    booked as it is.
    """
    if remaining > 0 and abs(amount - remaining) <= round_factor:
        return remaining
    return amount


def email_text(language: str, number: str, subject: str | None = None,
               message: str | None = None) -> tuple[str, str]:
    """Subject and text of the invoice e-mail; ``{number}`` is the invoice number.

    NOTES §5 "Send": the text must contain the literal [Network Link], which Bexio
    replaces by the customer's link to the invoice."""
    default_subject, default_message = EMAIL_DEFAULTS.get(language, EMAIL_DEFAULTS["en"])
    subject = (subject or default_subject).replace("{number}", number)
    message = (message or default_message).replace("{number}", number)
    if PLACEHOLDER not in message:
        raise PermanentError(N_("The invoice e-mail text has no [Network Link] placeholder; Bexio refuses to send "
                                "it."), code="missing_network_placeholder",
                             fix=N_("Add [Network Link] to the invoice e-mail text in the settings."))
    return subject, message


# --------------------------------------------------------------------------------------
# Articles (NOTES §6)
# --------------------------------------------------------------------------------------


def article_code(product: Product, platform: str) -> str:
    """intern_code is the SKU; a product without one gets ``<platform>-<site>-<id>`` so that
    the same product on two sites makes two articles (the seed's multi-site rule)."""
    if product.sku:
        return product.sku
    ident = str(product.platform_id or product.key)
    if product.site_id and ident.startswith(f"{product.site_id}:"):
        ident = ident[len(product.site_id) + 1:]  # DG1's "<site>:<id>": the site is named once
    parts = [platform] + ([product.site_id] if product.site_id else []) + [str(ident)]
    return "-".join(parts)


def product_to_article(product: Product, *, intern_code: str, currency_id: int | None = None,
                       tax_income_id: int | None = None, account_id: int | None = None,
                       create: bool = True) -> dict[str, Any]:
    """Create/edit body of an article. Stock is Bexio's (NOTES §6: ``stock_nr`` can only be
    set while no bookings exist), so only ``is_stock`` is set, and only on create."""
    body: dict[str, Any] = {
        "intern_code": intern_code[:255], "intern_name": product.name[:255] or intern_code,
        "intern_description": product.description or None, "article_type_id": 1,
        "sale_price": wire(product.price), "currency_id": currency_id,
        "tax_income_id": tax_income_id, "account_id": account_id,
    }
    if create:
        body["is_stock"] = bool(product.stock_managed)
    return {k: v for k, v in body.items() if v is not None}


# --------------------------------------------------------------------------------------
# Reference data (NOTES §3)
# --------------------------------------------------------------------------------------


def tax_to_code(row: dict[str, Any]) -> TaxCode:
    start_year, end_year = row.get("start_year"), row.get("end_year")
    valid_from = date(int(start_year), int(row.get("start_month") or 1), 1) if start_year else None
    valid_to = None
    if end_year:
        month = int(row.get("end_month") or 12)
        valid_to = date(int(end_year), month, calendar.monthrange(int(end_year), month)[1])
    name = row.get("display_name") or row.get("code") or str(row["id"])
    return TaxCode(code=str(row["id"]), name=str(name), rate=dec(row.get("value")),
                   active=bool(row.get("is_active", True)), valid_from=valid_from, valid_to=valid_to)


# [M] account_type 1 is "Ertrag" (revenue) in Bexio's chart of accounts.
REVENUE_ACCOUNT_TYPE = 1


def account_to_sales(row: dict[str, Any]) -> SalesAccount | None:
    if row.get("account_type") != REVENUE_ACCOUNT_TYPE:
        return None
    return SalesAccount(code=str(row["id"]), name=f"{row.get('account_no', '')} {row.get('name', '')}".strip(),
                        active=bool(row.get("is_active", True)) and not row.get("is_locked", False))
