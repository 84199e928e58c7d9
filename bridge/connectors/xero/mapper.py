"""Pure translation between ``bridge.domain`` and Xero's JSON. No I/O.

Money stays ``Decimal``: the client writes Decimals as JSON numbers (Xero's spec types
money as ``number``) and reads responses with ``parse_float=Decimal``.
"""
from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable

from ...domain import Address, Invoice, InvoiceStatus, Line, LineKind, Party, PartyKind, Person
from ...ports import LedgerDocument, LedgerParty, SalesAccount, TaxCode

CENT = Decimal("0.01")
MAX_CONTACT_PERSONS = 5  # NOTES 4: at most 5, and an update replaces the whole list
CONTACT_NUMBER_MAX = 50  # NOTES 4: ContactNumber max 50
NAME_MAX = 255
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"

# Xero status -> domain status (NOTES 3, Statuses). AUTHORISED with money received is
# "partially paid" in the domain; Xero itself has no such status.
_STATUS = {
    "DRAFT": InvoiceStatus.DRAFT,
    "SUBMITTED": InvoiceStatus.SUBMITTED,
    "AUTHORISED": InvoiceStatus.AUTHORISED,
    "PAID": InvoiceStatus.PAID,
    "VOIDED": InvoiceStatus.VOIDED,
    "DELETED": InvoiceStatus.DELETED,
}
# What may be sent on create. PAID is set by Xero, never sent (NOTES 3).
_SENDABLE = {InvoiceStatus.DRAFT: "DRAFT", InvoiceStatus.SUBMITTED: "SUBMITTED",
             InvoiceStatus.AUTHORISED: "AUTHORISED"}

_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{2,4})?\)/$")


# --------------------------------------------------------------------------------------
# Dates (NOTES 9)
# --------------------------------------------------------------------------------------


def parse_datetime(value: Any) -> datetime | None:
    """``/Date(ms±hhmm)/`` or ISO (with or without zone) -> aware UTC datetime.

    The milliseconds are UTC whatever the offset suffix says; zone-less ISO values are UTC.
    """
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    text = str(value).strip()
    match = _MS_DATE.match(text.replace("\\/", "/"))
    if match:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=timezone.utc)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def parse_date(value: Any) -> date | None:
    """Date-only fields (Date, DueDate): the UTC calendar day, never converted to local time."""
    parsed = parse_datetime(value)
    return parsed.astimezone(timezone.utc).date() if parsed else None


def dec(value: Any) -> Decimal:
    if value in (None, ""):
        return Decimal("0")
    return value if isinstance(value, Decimal) else Decimal(str(value))


# --------------------------------------------------------------------------------------
# Contacts (NOTES 4)
# --------------------------------------------------------------------------------------


def normalise_name(name: str) -> str:
    """Xero refuses leading, trailing and double spaces in names (NOTES 4)."""
    return re.sub(r"\s+", " ", name or "").strip()[:NAME_MAX]


def contact_number(key: str) -> str:
    """Our key as ContactNumber (max 50). Longer keys keep their start and a stable hash,
    so the same party always gets the same number."""
    if len(key) <= CONTACT_NUMBER_MAX:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return key[:CONTACT_NUMBER_MAX - 13] + "~" + digest


def party_name(party: Party) -> str:
    name = normalise_name(party.name) or normalise_name(
        " ".join(p for p in (party.first_name, party.last_name) if p))
    return name or normalise_name(party.email) or party.key


def disambiguated_name(party: Party, attempt: int = 1) -> str:
    """A name for our customer when another Xero contact has theirs (NOTES 4: add a
    disambiguator such as the e-mail). The name is printed on the customer's invoice, so the
    tag is something the customer knows (e-mail, phone, town), never bridge's key; with
    none of those the name is numbered, "Globex Ltd (2)"."""
    base = party_name(party)
    tag = party.email or party.phone or party.mobile or party.address.city
    if tag:
        suffix = f" ({tag})" if attempt <= 1 else f" ({tag} {attempt})"
    else:
        suffix = f" ({attempt + 1})"
    return normalise_name(base[:NAME_MAX - len(suffix)] + suffix)


def _person_json(person: Person) -> dict[str, Any] | None:
    """A contact person we add. No ``IncludeInEmails``: who Xero e-mails invoices to is the
    Xero user's choice (a new person starts with Xero's default, off), never ours."""
    if not (person.first_name or person.last_name):
        return None  # Xero wants a name on a contact person
    body: dict[str, Any] = {"FirstName": person.first_name[:255], "LastName": person.last_name[:255]}
    if person.email:
        body["EmailAddress"] = person.email
    return body


def _same_person(a: dict[str, Any], b: dict[str, Any]) -> bool:
    email_a, email_b = (a.get("EmailAddress") or "").lower(), (b.get("EmailAddress") or "").lower()
    if email_a and email_b:
        return email_a == email_b
    return ((a.get("FirstName") or "").lower(), (a.get("LastName") or "").lower()) == \
        ((b.get("FirstName") or "").lower(), (b.get("LastName") or "").lower())


def contact_persons(persons: Iterable[Person], existing: list[dict[str, Any]] | None = None
                    ) -> tuple[list[dict[str, Any]], list[str]]:
    """The full ContactPersons list to send, and the names that did not fit.

    Xero replaces the whole list on update (NOTES 4, lesson 12), so the people Xero has are
    kept as Xero has them (their ``IncludeInEmails`` included), and ours that Xero lacks
    are added after them, up to Xero's 5.
    """
    ours = [p for p in (_person_json(person) for person in persons) if p]
    merged: list[dict[str, Any]] = []
    for person in [dict(p) for p in existing or []] + ours:
        person = {k: v for k, v in person.items() if k in ("FirstName", "LastName", "EmailAddress",
                                                           "IncludeInEmails")}
        if not any(_same_person(person, kept) for kept in merged):
            merged.append(person)
    dropped = [" ".join(filter(None, (p.get("FirstName"), p.get("LastName")))) for p in merged[MAX_CONTACT_PERSONS:]]
    return merged[:MAX_CONTACT_PERSONS], dropped


def party_to_contact(party: Party, name: str, *, contact_id: str | None = None,
                     existing_persons: list[dict[str, Any]] | None = None,
                     send_persons: bool = True) -> tuple[dict[str, Any], list[str]]:
    """Contact JSON for PUT/POST /Contacts, and warnings (people left out)."""
    body: dict[str, Any] = {"Name": normalise_name(name), "ContactNumber": contact_number(party.key)}
    if contact_id:
        body["ContactID"] = contact_id
    # A company's primary person stays empty, as the seed describes the export: its people go
    # in ContactPersons. FirstName/LastName mark a person, so a re-import sees a contact.
    first, last = (party.first_name, party.last_name) if party.kind == PartyKind.PERSON else ("", "")
    if first:
        body["FirstName"] = first[:255]
    if last:
        body["LastName"] = last[:255]
    if party.email:
        body["EmailAddress"] = party.email[:255]
    phones = [{"PhoneType": "DEFAULT", "PhoneNumber": party.phone[:50]}] if party.phone else []
    if party.mobile:
        phones.append({"PhoneType": "MOBILE", "PhoneNumber": party.mobile[:50]})
    if phones:
        body["Phones"] = phones
    address = _address_json(party.address)
    if address:
        body["Addresses"] = [address]
    if party.tax_number:
        body["TaxNumber"] = party.tax_number[:50]
    # No DefaultCurrency: a CRM company's currency is often just the portal's default, and
    # Xero refuses the whole contact when the organisation lacks that currency ("Organisation
    # is not subscribed to currency", NOTES section 3). Each invoice carries its currency.
    warnings: list[str] = []
    if send_persons:
        persons, dropped = contact_persons(party.contact_persons, existing_persons)
        body["ContactPersons"] = persons
        if dropped:
            warnings.append(f"Xero keeps at most {MAX_CONTACT_PERSONS} contact persons; left out: "
                            + ", ".join(dropped) + ".")
    return body, warnings


# The contact fields bridge owns, by the field group of the platform's customer they come
# from (``bridge.sync.ledger_party_changed.GROUPS`` plus ``people``). Everything else on a Xero
# contact (IncludeInEmails, contact groups, notes, ContactNumber once set, bank details,
# defaults) is the Xero user's and is never sent on an update.
OWNED = {"name": ("Name", "FirstName", "LastName"), "contact": ("EmailAddress", "Phones"),
         "address": ("Addresses",), "people": ("ContactPersons",)}


def _norm(text: Any) -> str:
    return " ".join(str(text or "").split()).casefold()


def _digits(text: Any) -> str:
    return "".join(ch for ch in str(text or "") if ch.isdigit())


def _phone_text(phone: dict[str, Any]) -> str:
    return " ".join(filter(None, (phone.get("PhoneCountryCode"), phone.get("PhoneAreaCode"),
                                  phone.get("PhoneNumber"))))


def contact_update(party: Party, name: str, existing: dict[str, Any], groups: Iterable[str] | None = None,
                   *, claim_number: bool = False) -> tuple[dict[str, Any] | None, list[str]]:
    """The POST body for an existing contact: ContactID and only the owned fields whose
    value differs from what Xero has now, in the groups the platform changed (``groups``;
    None: every group but ``people``). None when Xero already says all of it: no write.

    Blank values of ours never blank Xero's. Phones and addresses are sent with the
    entries of other types Xero has, as Xero has them. ContactPersons are sent only when
    the platform's people changed (``"people"`` in ``groups``), with Xero's people kept as
    they are. ContactNumber is sent only to claim a contact that has none (``claim_number``:
    found by e-mail or name on a first export), never over another one.
    """
    wanted = set(OWNED) - {"people"} if groups is None else set(groups)
    body: dict[str, Any] = {}
    warnings: list[str] = []
    if "name" in wanted:
        new_name = normalise_name(name)
        if new_name and new_name != normalise_name(existing.get("Name") or ""):
            body["Name"] = new_name
        if party.kind == PartyKind.PERSON:
            for key, value in (("FirstName", party.first_name), ("LastName", party.last_name)):
                if value and _norm(value) != _norm(existing.get(key)):
                    body[key] = value[:255]
    if "contact" in wanted:
        if party.email and _norm(party.email) != _norm(existing.get("EmailAddress")):
            body["EmailAddress"] = party.email[:255]
        current = {p.get("PhoneType"): p for p in existing.get("Phones") or []}
        ours = {"DEFAULT": party.phone, "MOBILE": party.mobile}
        changed = {kind: value for kind, value in ours.items()
                   if value and _digits(value) != _digits(_phone_text(current.get(kind) or {}))}
        if changed:
            phones = [dict(p) for p in existing.get("Phones") or [] if p.get("PhoneType") not in changed]
            phones += [{"PhoneType": kind, "PhoneNumber": value[:50]} for kind, value in changed.items()]
            body["Phones"] = phones
    if "address" in wanted:
        ours_address = _address_json(party.address)
        addresses = [dict(a) for a in existing.get("Addresses") or []]
        street = next((a for a in addresses if a.get("AddressType") == "STREET"), None)
        if ours_address and (street is None or any(
                _norm(value) != _norm(street.get(key)) for key, value in ours_address.items())):
            if street is None:
                addresses.append(ours_address)
            else:
                street.update(ours_address)
            body["Addresses"] = addresses
    if "people" in wanted:
        persons, dropped = contact_persons(party.contact_persons, existing.get("ContactPersons"))
        if len(persons) != len(existing.get("ContactPersons") or []):
            body["ContactPersons"] = persons
        if dropped:
            warnings.append(f"Xero keeps at most {MAX_CONTACT_PERSONS} contact persons; left out: "
                            + ", ".join(dropped) + ".")
    if claim_number and not existing.get("ContactNumber"):
        body["ContactNumber"] = contact_number(party.key)
    if not body:
        return None, warnings
    return {"ContactID": existing["ContactID"], **body}, warnings


def _address_json(address: Address) -> dict[str, Any] | None:
    if not any((address.street, address.city, address.postcode, address.region, address.country_code)):
        return None
    body: dict[str, Any] = {"AddressType": "STREET"}
    for key, value in (("AddressLine1", address.street), ("City", address.city), ("PostalCode", address.postcode),
                       ("Region", address.region), ("Country", address.country_code)):
        if value:
            body[key] = value
    return body


def party_from_contact(contact: dict[str, Any]) -> Party:
    persons = [Person(first_name=p.get("FirstName") or "", last_name=p.get("LastName") or "",
                      email=p.get("EmailAddress") or "") for p in contact.get("ContactPersons") or []]
    phones = {p.get("PhoneType"): p for p in contact.get("Phones") or []}

    def phone(kind: str) -> str:
        p = phones.get(kind) or {}
        return " ".join(filter(None, (p.get("PhoneCountryCode"), p.get("PhoneAreaCode"), p.get("PhoneNumber"))))

    street = next((a for a in contact.get("Addresses") or [] if a.get("AddressType") == "STREET"
                   and a.get("AddressLine1")), None) or next(iter(contact.get("Addresses") or []), {})
    address = Address(street=street.get("AddressLine1") or "", city=street.get("City") or "",
                      postcode=street.get("PostalCode") or "", region=street.get("Region") or "",
                      country_code=street.get("Country") or "")
    first, last = contact.get("FirstName") or "", contact.get("LastName") or ""
    name = contact.get("Name") or ""
    kind = PartyKind.PERSON if (first or last) and name == " ".join(filter(None, (first, last))) else PartyKind.COMPANY
    return Party(key=contact.get("ContactNumber") or f"xero:{contact.get('ContactID')}", kind=kind, name=name,
                 first_name=first, last_name=last, email=contact.get("EmailAddress") or "",
                 phone=phone("DEFAULT"), mobile=phone("MOBILE"), address=address, contact_persons=persons,
                 tax_number=contact.get("TaxNumber") or "", currency=contact.get("DefaultCurrency"),
                 platform_id=None)


def contact_roles(contact: dict[str, Any]) -> frozenset[str] | None:
    """Xero's IsCustomer/IsSupplier (read-only; set by its first sales invoice or bill);
    None when the answer does not carry them."""
    if "IsCustomer" not in contact and "IsSupplier" not in contact:
        return None
    return frozenset(role for role, key in (("customer", "IsCustomer"), ("supplier", "IsSupplier"))
                     if contact.get(key))


def ledger_party(contact: dict[str, Any], *, full: bool = True) -> LedgerParty:
    return LedgerParty(ledger_id=contact.get("ContactID") or "", name=contact.get("Name") or "",
                       external_key=contact.get("ContactNumber") or None, email=contact.get("EmailAddress") or "",
                       archived=contact.get("ContactStatus") == "ARCHIVED",
                       party=party_from_contact(contact) if full else None,
                       updated_at=parse_datetime(contact.get("UpdatedDateUTC")), roles=contact_roles(contact))


# --------------------------------------------------------------------------------------
# Invoices (NOTES 3)
# --------------------------------------------------------------------------------------


def round_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def line_amount(line: Line) -> Decimal:
    """Quantity x UnitAmount less discount, rounded to cents as Xero does."""
    gross = line.quantity * line.unit_price
    if line.discount_rate:
        gross -= gross * line.discount_rate / 100
    if line.discount_amount:
        gross -= line.discount_amount
    return round_cents(gross)


def line_tax(line: Line, inclusive: bool) -> Decimal:
    """Tax of one line, rounded per line to cents (NOTES 3, Rounding)."""
    rate = line.tax_rate or Decimal("0")
    amount = line_amount(line)
    if inclusive:
        return round_cents(amount - amount / (1 + rate / 100))
    return round_cents(amount * rate / 100)


def expected_totals(invoice: Invoice) -> dict[str, Decimal]:
    """SubTotal, TotalTax and Total as Xero will compute them: tax per line, then summed.

    A platform that taxes the total can differ by cents (NOTES lesson 8); comparing with
    these instead of the platform's total avoids false alarms.
    """
    inclusive = invoice.prices_include_tax
    priced = [line for line in invoice.lines if line.kind != LineKind.TEXT]
    amounts = sum((line_amount(line) for line in priced), Decimal("0.00"))
    tax = sum((line_tax(line, inclusive) for line in priced), Decimal("0.00"))
    subtotal = amounts - tax if inclusive else amounts
    return {"SubTotal": subtotal, "TotalTax": tax, "Total": subtotal + tax}


def line_amount_types(invoice: Invoice) -> str:
    """Exclusive (Xero's default), Inclusive, or NoTax when no line carries any tax."""
    priced = [line for line in invoice.lines if line.kind != LineKind.TEXT]
    if priced and all((line.tax_rate is not None and line.tax_rate == 0) and line.ledger_tax_code in (None, "NONE")
                      for line in priced):
        return "NoTax"
    return "Inclusive" if invoice.prices_include_tax else "Exclusive"


def line_to_xero(line: Line, line_item_id: str | None = None) -> dict[str, Any]:
    description = (line.description or "").strip() or line.kind.value.replace("_", " ").capitalize()
    body: dict[str, Any] = {"Description": description[:4000]}
    if line_item_id:
        body["LineItemID"] = line_item_id
    if line.kind == LineKind.TEXT:
        return body  # a description-only line (NOTES 3, LineItem fields)
    body["Quantity"] = line.quantity
    body["UnitAmount"] = line.unit_price
    if line.ledger_account_code:
        body["AccountCode"] = line.ledger_account_code
    if line.ledger_tax_code:
        body["TaxType"] = line.ledger_tax_code
    if line.discount_rate:
        body["DiscountRate"] = line.discount_rate
    elif line.discount_amount:
        body["DiscountAmount"] = line.discount_amount
    if line.ledger_tracking:  # by name: Xero matches the active category and option (LineItemTracking)
        body["Tracking"] = [{"Name": category, "Option": option} for category, option in line.ledger_tracking]
    # LineAmount and TaxAmount are left to Xero, which computes them per line (NOTES 3).
    return body


def invoice_to_xero(invoice: Invoice, contact_id: str, *, invoice_id: str | None = None,
                    existing_line_ids: list[str] | None = None) -> dict[str, Any]:
    """Invoice JSON for PUT (create) or POST (update) /Invoices.

    Contact carries only ContactID: other fields would update the contact and drop its
    ContactPersons (NOTES 3). On update, lines are paired with Xero's LineItemIDs by
    position; Xero deletes any line missing from the array (NOTES 3, Updating lines).
    Status is sent only on create: changes of status go through issue/cancel.
    """
    line_ids = list(existing_line_ids or [])
    body: dict[str, Any] = {"Type": "ACCREC", "Contact": {"ContactID": contact_id}}
    if invoice_id:
        body["InvoiceID"] = invoice_id
    body["Date"] = invoice.issue_date.isoformat()
    if invoice.due_date:
        body["DueDate"] = invoice.due_date.isoformat()
    if invoice.number:
        body["InvoiceNumber"] = invoice.number[:255]
    # Reference and BrandingThemeID are printed for the customer: the user's, sent only while
    # a setting owns them (``Invoice.shown``); left out, Xero keeps what a person typed. Our
    # identity is never the Reference: it is the link, the Idempotency-Key and Url (DESIGN 9).
    if "reference" in invoice.shown:
        body["Reference"] = invoice.shown["reference"][:255]
    if invoice.shown.get("branding_theme"):
        body["BrandingThemeID"] = invoice.shown["branding_theme"]
    if invoice.currency:
        body["CurrencyCode"] = invoice.currency.upper()
    body["LineAmountTypes"] = line_amount_types(invoice)
    if invoice.platform_url.startswith(("https://", "http://")):
        # The "Go to <app>" link, seen only inside Xero (NOTES 3); also how a lookup after
        # an unknown outcome recognises the invoice as this platform invoice (``pick_ours``).
        body["Url"] = invoice.platform_url
    if not invoice_id and invoice.status in _SENDABLE:
        body["Status"] = _SENDABLE[invoice.status]
    body["LineItems"] = [line_to_xero(line, line_ids[i] if i < len(line_ids) else None)
                         for i, line in enumerate(invoice.lines)]
    return body


def pick_ours(invoice: Invoice, made: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Which of the invoices this app made for the customer is this platform invoice?

    Its Url is the platform invoice's address; between several (an earlier attempt's
    duplicate, or one voided since), the live one whose amounts are what this invoice
    gives, else the latest. An invoice with another Url, or none, is never taken: it may
    belong to another platform invoice of the same customer whose content is the same.
    """
    url = invoice.platform_url
    if not url:
        return None
    ours = [i for i in made if (i.get("Url") or "") == url]
    if not ours:
        return None
    totals = expected_totals(invoice)
    currency = (invoice.currency or "").upper()

    def rank(found: dict[str, Any]) -> tuple:
        same_money = dec(found.get("Total")) == totals["Total"] and (
            not currency or (found.get("CurrencyCode") or "").upper() == currency)
        live = found.get("Status") not in ("DELETED", "VOIDED")
        return (live, same_money, str(found.get("UpdatedDateUTC") or ""))
    return max(ours, key=rank)


def status_from_xero(xero_invoice: dict[str, Any]) -> InvoiceStatus:
    status = _STATUS.get(str(xero_invoice.get("Status") or "DRAFT").upper(), InvoiceStatus.DRAFT)
    if status == InvoiceStatus.AUTHORISED and dec(xero_invoice.get("AmountPaid")) > 0:
        return InvoiceStatus.PARTIALLY_PAID
    return status


def invoice_url(web_url: str, invoice_id: str) -> str:
    """Where a user opens the invoice in Xero."""
    return f"{web_url.rstrip('/')}/AccountsReceivable/View.aspx?InvoiceID={invoice_id}"


def invoice_from_xero(xero_invoice: dict[str, Any]) -> Invoice:
    inclusive = xero_invoice.get("LineAmountTypes") == "Inclusive"
    lines = []
    for item in xero_invoice.get("LineItems") or []:
        has_amount = item.get("UnitAmount") is not None or item.get("Quantity") is not None
        lines.append(Line(description=item.get("Description") or "", quantity=dec(item.get("Quantity") or 0),
                          unit_price=dec(item.get("UnitAmount")),
                          kind=LineKind.PRODUCT if has_amount else LineKind.TEXT,
                          discount_rate=dec(item["DiscountRate"]) if item.get("DiscountRate") is not None else None,
                          discount_amount=(dec(item["DiscountAmount"])
                                           if item.get("DiscountAmount") is not None else None),
                          sku=item.get("ItemCode"), ledger_tax_code=item.get("TaxType"),
                          ledger_account_code=item.get("AccountCode"),
                          # what a person chose in Xero: kept on a rewrite while no setting owns it
                          ledger_tracking=tuple((str(t.get("Name") or ""), str(t.get("Option") or ""))
                                                for t in item.get("Tracking") or [] if t.get("Option"))))
    contact = xero_invoice.get("Contact") or {}
    return Invoice(key=f"xero:{xero_invoice.get('InvoiceID')}", number=xero_invoice.get("InvoiceNumber") or "",
                   issue_date=parse_date(xero_invoice.get("Date")) or date.today(),
                   currency=xero_invoice.get("CurrencyCode") or "", party=party_from_contact(contact),
                   lines=lines, due_date=parse_date(xero_invoice.get("DueDate")),
                   reference=xero_invoice.get("Reference") or "", prices_include_tax=inclusive,
                   status=status_from_xero(xero_invoice), platform_url=xero_invoice.get("Url") or "",
                   updated_at=parse_datetime(xero_invoice.get("UpdatedDateUTC")))


def document_from_xero(xero_invoice: dict[str, Any], web_url: str) -> LedgerDocument:
    invoice_id = xero_invoice.get("InvoiceID") or ""
    full = "LineItems" in xero_invoice
    return LedgerDocument(
        ledger_id=invoice_id, number=xero_invoice.get("InvoiceNumber") or "",
        status=status_from_xero(xero_invoice), reference=xero_invoice.get("Reference") or "",
        total=dec(xero_invoice.get("Total")), amount_due=dec(xero_invoice.get("AmountDue")),
        amount_paid=dec(xero_invoice.get("AmountPaid")), currency=xero_invoice.get("CurrencyCode") or "",
        version=str(xero_invoice.get("UpdatedDateUTC") or "") or None,
        url=invoice_url(web_url, invoice_id) if invoice_id else "",
        external_url=xero_invoice.get("Url") or "",
        invoice=invoice_from_xero(xero_invoice) if full else None,
        updated_at=parse_datetime(xero_invoice.get("UpdatedDateUTC")),
        sent_to_contact=bool(xero_invoice["SentToContact"]) if "SentToContact" in xero_invoice else None,
        amount_credited=dec(xero_invoice.get("AmountCredited")),
        contact_id=str((xero_invoice.get("Contact") or {}).get("ContactID") or ""))


def line_item_ids(xero_invoice: dict[str, Any]) -> list[str]:
    return [item["LineItemID"] for item in xero_invoice.get("LineItems") or [] if item.get("LineItemID")]


def payment_to_xero(invoice_id: str, amount: Decimal, paid_on: date, account_code: str,
                    reference: str = "") -> dict[str, Any]:
    """PUT /Payments element (NOTES 5): the account must be BANK or accept payments."""
    body: dict[str, Any] = {"Invoice": {"InvoiceID": invoice_id}, "Account": {"Code": account_code},
                            "Date": paid_on.isoformat(), "Amount": amount}
    if reference:
        body["Reference"] = reference[:255]
    return body


# --------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------


def tax_code_from_xero(rate: dict[str, Any]) -> TaxCode:
    value = rate.get("EffectiveRate") if rate.get("EffectiveRate") is not None else rate.get("DisplayTaxRate")
    return TaxCode(code=rate.get("TaxType") or "", name=rate.get("Name") or "", rate=dec(value),
                   active=rate.get("Status") == "ACTIVE")


def revenue_tax_codes(rates: list[dict[str, Any]]) -> list[TaxCode]:
    """Active rates that may be used on sales (CanApplyToRevenue, NOTES 5)."""
    return [tax_code_from_xero(r) for r in rates
            if r.get("Status") == "ACTIVE" and r.get("CanApplyToRevenue") is not False]


def sales_accounts(accounts: list[dict[str, Any]]) -> list[SalesAccount]:
    """Active REVENUE/SALES accounts with a code: the choices for the sales account (NOTES 5)."""
    return [SalesAccount(code=a["Code"], name=a.get("Name") or a["Code"], active=True) for a in accounts
            if a.get("Status") == "ACTIVE" and a.get("Type") in ("REVENUE", "SALES") and a.get("Code")]


def payment_accounts(accounts: list[dict[str, Any]]) -> list[SalesAccount]:
    """Accounts a payment may go to: BANK, or EnablePaymentsToAccount (NOTES 5)."""
    return [SalesAccount(code=a["Code"], name=a.get("Name") or a["Code"], active=True) for a in accounts
            if a.get("Status") == "ACTIVE" and a.get("Code")
            and (a.get("Type") == "BANK" or a.get("EnablePaymentsToAccount") is True)]
