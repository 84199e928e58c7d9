"""Pure translation between Bitrix24's wire shapes and ``bridge.domain``; no I/O.

Smart invoices (entityTypeId 31) come camelCase from ``crm.item.*``; legacy invoices
(entityTypeId 5), contacts and companies come UPPER_CASE from ``crm.invoice.*``,
``crm.contact.*`` and ``crm.company.*``
(https://apidocs.bitrix24.com/api-reference/crm/universal/invoice.html,
https://apidocs.bitrix24.com/api-reference/crm/contacts/crm-contact-fields.html).

Identities: platform ids are ``"<id>"`` for a smart invoice, ``"L<id>"`` for a legacy one,
``"CO:<id>"`` for a company and ``"C:<id>"`` for a contact. Domain keys prefix them with the
portal: ``b24:<member_id>:SI:<id>``, ``b24:<member_id>:CO:<id>``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

from ...domain import Address, Invoice, InvoiceStatus, Line, LineKind, Party, PartyKind, Person
from ...errors import PermanentError
from ...messages import N_

SMART_INVOICE = 31  # NOTES s6 (5 is the legacy type)
PRODUCT_ROW_OWNER = "SI"  # NOTES s13: smart-invoice product rows use ownerType SI
SYNC_FIELD = "UF_CRM_SMART_INVOICE_XERO_SYNC"  # NOTES s7
SYNC_FIELD_CAMEL = "ufCrmSmartInvoiceXeroSync"  # NOTES s7 [code]: confirmed per portal via crm.item.fields
LEGACY_SYNC_FIELD = "UF_CRM_XERO_SYNC"  # NOTES s7: crm.invoice.userfield.add prefixes UF_CRM_

COMPANY, CONTACT, LEGACY = "CO", "C", "L"


# --------------------------------------------------------------------------------------
# Small values
# --------------------------------------------------------------------------------------

NO_CLIENT_FIX = N_("Choose a contact or company on the invoice in Bitrix24.")


def dec(value: Any, default: str = "0") -> Decimal:
    if value is None or value == "":
        return Decimal(default)
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise PermanentError(N_("Bitrix24 sent a number bridge cannot read: %(value)s.", value=repr(value))) from exc


def parse_date(value: Any) -> date | None:
    """``2024-08-13T00:00:00+03:00`` -> 2024-08-13: the date as the portal shows it."""
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def parse_datetime(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def sync_enabled(value: Any) -> bool:
    """The "Sync with Xero" checkbox. Reads ``Y``/``N``; invoices made before the field
    existed read empty, which counts as on (NOTES s7: DEFAULT_VALUE only affects new items)."""
    if value is None or value == "" or value is True:
        return True
    return str(value).strip().upper() not in ("N", "0", "FALSE")


def party_id(kind: str, entity_id: Any) -> str:
    return f"{kind}:{entity_id}"


def split_party_id(platform_id: str) -> tuple[str, int]:
    """``CO:12`` or the full party key ``b24:<member>:CO:12`` -> ("CO", 12)."""
    parts = platform_id.split(":")
    kind, raw = (parts[-2], parts[-1]) if len(parts) >= 2 else ("", "")
    if kind not in (COMPANY, CONTACT) or not raw.isdigit():
        raise ValueError(f"not a Bitrix24 party id: {platform_id!r}")
    return kind, int(raw)


def first_multi(row: Mapping[str, Any], key: str) -> str:
    """First value of a multi-field (``EMAIL: [{"VALUE": .., "VALUE_TYPE": ..}]``, NOTES s8)."""
    for entry in row.get(key) or []:
        if isinstance(entry, Mapping) and entry.get("VALUE"):
            return str(entry["VALUE"])
    return ""


def _phone(row: Mapping[str, Any], mobile: bool) -> str:
    for entry in row.get("PHONE") or []:
        if isinstance(entry, Mapping) and entry.get("VALUE") and (entry.get("VALUE_TYPE") == "MOBILE") == mobile:
            return str(entry["VALUE"])
    return ""


# --------------------------------------------------------------------------------------
# Stages (NOTES s6): read per portal, never hard-coded
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    id: str  # e.g. DT31_1:P
    name: str
    sort: int
    semantics: str | None  # None in progress, "S" success, "F" failure
    category_id: str

    @property
    def code(self) -> str:
        return self.id.split(":", 1)[-1]


def stages_from_status_list(rows: Iterable[Mapping[str, Any]]) -> list[Stage]:
    stages = [Stage(str(r["STATUS_ID"]), str(r.get("NAME") or r["STATUS_ID"]), int(r.get("SORT") or 0),
                    (r.get("SEMANTICS") or None), str(r.get("CATEGORY_ID") or "")) for r in rows]
    return sorted(stages, key=lambda s: (s.sort, s.id))


def status_for_stage(stage_id: str, stages: list[Stage], mapping: Mapping[str, str] | None = None) -> InvoiceStatus:
    """The domain status of an invoice in ``stage_id``.

    A mapping from settings wins (keys: full stage id or the code after the colon; values:
    InvoiceStatus values). Otherwise: success semantics -> PAID, failure -> VOIDED, the
    pipeline's first stage -> DRAFT, any other stage -> AUTHORISED (issued).
    """
    for key in (stage_id, stage_id.split(":", 1)[-1]):
        if mapping and key in mapping:
            return InvoiceStatus(mapping[key])
    stage = next((s for s in stages if s.id == stage_id), None)
    if stage is None:
        return InvoiceStatus.DRAFT
    if stage.semantics == "S":
        return InvoiceStatus.PAID
    if stage.semantics == "F":
        return InvoiceStatus.VOIDED
    same_pipeline = [s for s in stages if s.category_id == stage.category_id]
    if same_pipeline and same_pipeline[0].id == stage.id:
        return InvoiceStatus.DRAFT
    return InvoiceStatus.AUTHORISED


def stage_for_status(status: InvoiceStatus, stages: list[Stage], category_id: str,
                     mapping: Mapping[str, str] | None = None) -> str | None:
    """The stage an invoice of pipeline ``category_id`` moves to for ``status``; None: stay.

    The same mapping as ``status_for_stage`` read backwards, else semantics: AUTHORISED ->
    the first in-progress stage after the first, PAID -> the success stage, VOIDED/DELETED
    -> the first failure stage.
    """
    pipeline = [s for s in stages if s.category_id == str(category_id)]
    if mapping:
        for key, value in mapping.items():
            if value == status.value:
                hit = next((s for s in pipeline if s.id == key or s.code == key), None)
                if hit:
                    return hit.id
    if status in (InvoiceStatus.AUTHORISED, InvoiceStatus.PARTIALLY_PAID):
        # "sent": the first in-progress stage after the pipeline's first (the portal's own
        # "Sent" in a default pipeline), which status_for_stage reads back as AUTHORISED.
        return next((s.id for s in pipeline[1:] if s.semantics is None), None)
    if status is InvoiceStatus.PAID:
        return next((s.id for s in pipeline if s.semantics == "S"), None)
    if status in (InvoiceStatus.VOIDED, InvoiceStatus.DELETED):
        return next((s.id for s in pipeline if s.semantics == "F"), None)
    return None


# --------------------------------------------------------------------------------------
# Parties (NOTES s8)
# --------------------------------------------------------------------------------------


def _address(row: Mapping[str, Any]) -> Address:
    return Address(street=str(row.get("ADDRESS") or ""), city=str(row.get("ADDRESS_CITY") or ""),
                   postcode=str(row.get("ADDRESS_POSTAL_CODE") or ""), region=str(row.get("ADDRESS_PROVINCE") or ""),
                   country_code=str(row.get("ADDRESS_COUNTRY_CODE") or ""))


def person_from_contact(row: Mapping[str, Any]) -> Person:
    return Person(first_name=str(row.get("NAME") or ""), last_name=str(row.get("LAST_NAME") or ""),
                  email=first_multi(row, "EMAIL"), phone=first_multi(row, "PHONE"),
                  platform_id=party_id(CONTACT, row.get("ID")))


def party_from_contact(row: Mapping[str, Any], member_id: str) -> Party:
    person = person_from_contact(row)
    name = person.full_name or str(row.get("SECOND_NAME") or "") or f"Contact {row.get('ID')}"
    return Party(key=f"b24:{member_id}:{person.platform_id}", kind=PartyKind.PERSON, name=name,
                 first_name=person.first_name, last_name=person.last_name, email=person.email,
                 phone=_phone(row, mobile=False), mobile=_phone(row, mobile=True), address=_address(row),
                 platform_id=person.platform_id)


def party_from_company(row: Mapping[str, Any], contacts: Iterable[Mapping[str, Any]], member_id: str,
                       first_contact_id: Any = None) -> Party:
    """A company with its contact persons; the invoice's own contact, if any, first."""
    people = [person_from_contact(c) for c in contacts]
    if first_contact_id:
        wanted = party_id(CONTACT, first_contact_id)
        people.sort(key=lambda p: p.platform_id != wanted)
    platform_id = party_id(COMPANY, row.get("ID"))
    email = first_multi(row, "EMAIL") or next((p.email for p in people if p.email), "")
    return Party(key=f"b24:{member_id}:{platform_id}", kind=PartyKind.COMPANY,
                 name=str(row.get("TITLE") or f"Company {row.get('ID')}"), email=email,
                 phone=_phone(row, mobile=False), mobile=_phone(row, mobile=True), address=_address(row),
                 contact_persons=people, currency=(row.get("CURRENCY_ID") or None), platform_id=platform_id)


def _multi_entries(kind: str, values: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"VALUE": value, "VALUE_TYPE": value_type} for value_type, value in values if value]


def multi_additions(existing: Iterable[Mapping[str, Any]], wanted: list[dict[str, str]]) -> list[dict[str, str]]:
    """Only the values the record lacks: an update must not duplicate or drop a user's entries
    (NOTES s8: entries without ID are added, entries with ID changed)."""
    have = {str(e.get("VALUE") or "").strip().lower() for e in existing or []}
    return [w for w in wanted if w["VALUE"].strip().lower() not in have]


def multi_changes(existing: Iterable[Mapping[str, Any]], wanted: list[dict[str, str]], *,
                  same_type: bool) -> list[dict[str, str]]:
    """The values the record lacks, each written over the entry bridge reads as the party's
    (the first one, or the first of its type with ``same_type``: what ``first_multi`` /
    ``_phone`` export) and added only when there is none. A ledger-side change of an
    e-mail then replaces the old address instead of sitting behind it, where the next
    export would read the old one and change the ledger back. The user's other entries
    stay (NOTES s8: entries with ID are changed, entries without ID added)."""
    entries = [e for e in existing or [] if isinstance(e, Mapping) and e.get("VALUE")]
    changes: list[dict[str, str]] = []
    taken: set[str] = set()
    for want in multi_additions(entries, wanted):
        target = next((e for e in entries if str(e.get("ID")) not in taken and e.get("ID")
                       and (not same_type or (e.get("VALUE_TYPE") == "MOBILE") == (want["VALUE_TYPE"] == "MOBILE"))),
                      None)
        if target is None:
            changes.append(want)
            continue
        taken.add(str(target["ID"]))
        changes.append({"ID": str(target["ID"]), "VALUE": want["VALUE"],
                        "VALUE_TYPE": str(target.get("VALUE_TYPE") or want["VALUE_TYPE"])})
    return changes


def party_fields(party: Party, origin: tuple[str, str] | None,
                 existing: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``fields`` for crm.company.add/update or crm.contact.add/update (UPPER_CASE, NOTES s8).

    ``origin`` (ledger kind, ledger id) goes to ORIGINATOR_ID/ORIGIN_ID, which ``find_parties``
    looks up so that a repeated import updates instead of duplicating.
    """
    fields: dict[str, Any] = {}
    if party.kind is PartyKind.COMPANY:
        fields["TITLE"] = party.name
        if party.currency:
            fields["CURRENCY_ID"] = party.currency
    else:
        first, last = party.first_name, party.last_name
        if not (first or last):
            first, _, last = party.name.partition(" ")
        fields.update(NAME=first, LAST_NAME=last)
    if origin:
        fields.update(ORIGINATOR_ID=origin[0].upper(), ORIGIN_ID=origin[1])
    address = party.address
    for key, value in (("ADDRESS", address.street), ("ADDRESS_CITY", address.city),
                       ("ADDRESS_POSTAL_CODE", address.postcode), ("ADDRESS_PROVINCE", address.region),
                       ("ADDRESS_COUNTRY_CODE", address.country_code)):
        if value:
            fields[key] = value
    emails = _multi_entries("EMAIL", [("WORK", party.email)])
    phones = _multi_entries("PHONE", [("WORK", party.phone), ("MOBILE", party.mobile)])
    if existing is not None:
        emails = multi_changes(existing.get("EMAIL") or [], emails, same_type=False)
        phones = multi_changes(existing.get("PHONE") or [], phones, same_type=True)
    if emails:
        fields["EMAIL"] = emails
    if phones:
        fields["PHONE"] = phones
    return fields


def person_fields(person: Person, company_id: int, origin: tuple[str, str] | None) -> dict[str, Any]:
    """A company's contact person as a new contact linked to it."""
    fields: dict[str, Any] = {"NAME": person.first_name, "LAST_NAME": person.last_name, "COMPANY_ID": company_id}
    if person.email:
        fields["EMAIL"] = [{"VALUE": person.email, "VALUE_TYPE": "WORK"}]
    if person.phone:
        fields["PHONE"] = [{"VALUE": person.phone, "VALUE_TYPE": "WORK"}]
    if origin:
        # Bound to its source too, but never equal to the ledger contact's own id (that one
        # names the company in ``find_parties``): "<contact id>/<e-mail or name>".
        fields["ORIGINATOR_ID"] = origin[0].upper()
        fields["ORIGIN_ID"] = f"{origin[1]}/{(person.email or person.full_name).strip().casefold()}"
    return fields


# --------------------------------------------------------------------------------------
# Smart invoices (NOTES s6)
# --------------------------------------------------------------------------------------


def line_from_row(row: Mapping[str, Any], prices_include_tax: bool) -> Line:
    """One product row. NOTES s6: price = after discount with tax, priceExclusive = after
    discount without tax, priceNetto = before discount without tax, priceBrutto = before
    discount with tax; taxRate is a percentage; discountTypeId 1 absolute, 2 percent."""
    quantity = dec(row.get("quantity"), "1")
    rate = None if row.get("taxRate") in (None, "") else dec(row["taxRate"])
    after_gross, after_net = dec(row.get("price")), dec(row.get("priceExclusive"))
    before_net = dec(row.get("priceNetto"), str(after_net))
    before_gross = dec(row.get("priceBrutto"), str(after_gross))
    unit_before, unit_after = (before_gross, after_gross) if prices_include_tax else (before_net, after_net)
    discount_rate = discount_amount = None
    if int(row.get("discountTypeId") or 2) == 1:
        amount = (unit_before - unit_after) * quantity
        discount_amount = amount if amount else None
    else:
        percent = dec(row.get("discountRate"))
        discount_rate = percent if percent else None
    product = row.get("productId")
    return Line(description=str(row.get("productName") or ""), quantity=quantity, unit_price=unit_before,
                kind=LineKind.PRODUCT, tax_rate=rate, discount_rate=discount_rate, discount_amount=discount_amount,
                product_id=str(product) if product and str(product) != "0" else None,
                unit=str(row.get("measureName") or ""))


def row_from_line(line: Line, prices_include_tax: bool) -> dict[str, Any]:
    """The product row for ``crm.item.productrow.set`` (the inverse of ``line_from_row``):
    ``price`` is the unit price after discount, with tax when the invoice is gross."""
    quantity = Decimal(line.quantity) or Decimal(1)
    before = Decimal(line.unit_price)
    if line.discount_amount:
        after, discount_type = before - Decimal(line.discount_amount) / quantity, 1
    else:
        after, discount_type = before * (1 - Decimal(line.discount_rate or 0) / 100), 2
    row: dict[str, Any] = {"productName": line.description, "quantity": str(quantity),
                           "price": str(after.quantize(Decimal("0.01"))),
                           "taxIncluded": "Y" if prices_include_tax else "N", "discountTypeId": discount_type}
    if line.tax_rate is not None:
        row["taxRate"] = str(line.tax_rate)
    if discount_type == 2 and line.discount_rate:
        row["discountRate"] = str(line.discount_rate)
    if line.product_id:
        row["productId"] = line.product_id
    return row


def rows_include_tax(rows: list[Mapping[str, Any]], flag: str = "taxIncluded") -> bool:
    """Whole-invoice basis: tax-inclusive only when every row is; mixed rows go net."""
    return bool(rows) and all(str(r.get(flag) or "N").upper() == "Y" for r in rows)


def portal_url(client_endpoint: str) -> str:
    """``https://acme.bitrix24.com/rest/`` -> ``https://acme.bitrix24.com``."""
    base = client_endpoint.rstrip("/")
    return base[: -len("/rest")] if base.endswith("/rest") else base


def _require_client(party: Party | None, invoice: str) -> None:
    """An invoice without a company or contact cannot go to a ledger: say which one, and how to fix it."""
    if party is None:
        raise PermanentError(N_("Invoice %(invoice)s has no client.", invoice=invoice),
                             code="no_client", fix=NO_CLIENT_FIX)


def invoice_from_item(item: Mapping[str, Any], rows: list[Mapping[str, Any]], party: Party | None, *,
                      member_id: str, base_url: str, stages: list[Stage],
                      stage_map: Mapping[str, str] | None = None, sync_key: str = SYNC_FIELD_CAMEL,
                      language: str = "") -> Invoice:
    item_id = str(item["id"])
    _require_client(party, item.get("accountNumber") or item_id)
    include = rows_include_tax(rows)
    issue = parse_date(item.get("begindate")) or parse_date(item.get("createdTime")) or date.today()
    return Invoice(
        key=f"b24:{member_id}:SI:{item_id}", number=str(item.get("accountNumber") or item_id),
        issue_date=issue, due_date=parse_date(item.get("closedate")),
        currency=str(item.get("currencyId") or ""), party=party,
        lines=[line_from_row(r, include) for r in rows], reference=str(item.get("title") or ""),
        prices_include_tax=include,
        status=status_for_stage(str(item.get("stageId") or ""), stages, stage_map),
        platform_url=f"{base_url}/crm/type/{SMART_INVOICE}/details/{item_id}/",
        sync_enabled=sync_enabled(item.get(sync_key)), language=language, platform_id=item_id,
        updated_at=parse_datetime(item.get("updatedTime")), fields=own_fields(item))


def own_fields(item: Mapping[str, Any]) -> dict[str, str]:
    """The invoice's fields a setting may name (the tracking option by a field): its user
    fields (``ufCrm...``) and plain values, as text; lists and objects are left out."""
    return {str(k): str(v) for k, v in item.items()
            if isinstance(v, (str, int, float)) and not isinstance(v, bool) and v != ""}


# --------------------------------------------------------------------------------------
# Legacy invoices (NOTES s6, crm.invoice.*)
# --------------------------------------------------------------------------------------


def legacy_line(row: Mapping[str, Any], prices_include_tax: bool) -> Line:
    """PRICE is the unit price after discount, DISCOUNT_PRICE the discount per unit, and
    VAT_RATE a coefficient (0.2 = 20 %, NOTES s6), included in PRICE when VAT_INCLUDED=Y."""
    quantity = dec(row.get("QUANTITY"), "1")
    coefficient = None if row.get("VAT_RATE") in (None, "") else dec(row["VAT_RATE"])
    rate = None if coefficient is None else (coefficient * 100).normalize()
    price, discount = dec(row.get("PRICE")), dec(row.get("DISCOUNT_PRICE"))
    included = str(row.get("VAT_INCLUDED") or "N").upper() == "Y"
    if included and not prices_include_tax and coefficient:
        # Mixed rows: this one states tax-inclusive prices, the invoice goes net.
        price, discount = price / (1 + coefficient), discount / (1 + coefficient)
    product = row.get("PRODUCT_ID")
    return Line(description=str(row.get("PRODUCT_NAME") or ""), quantity=quantity, unit_price=price + discount,
                tax_rate=rate, discount_amount=(discount * quantity) if discount else None,
                product_id=str(product) if product and str(product) != "0" else None,
                unit=str(row.get("MEASURE_NAME") or ""))


def invoice_from_legacy(invoice: Mapping[str, Any], party: Party | None, *, member_id: str, base_url: str,
                        stages: list[Stage], stage_map: Mapping[str, str] | None = None,
                        language: str = "") -> Invoice:
    invoice_id = str(invoice["ID"])
    _require_client(party, invoice.get("ACCOUNT_NUMBER") or invoice_id)
    rows = list(invoice.get("PRODUCT_ROWS") or [])
    include = rows_include_tax(rows, "VAT_INCLUDED")
    return Invoice(
        key=f"b24:{member_id}:{LEGACY}:{invoice_id}", number=str(invoice.get("ACCOUNT_NUMBER") or invoice_id),
        issue_date=parse_date(invoice.get("DATE_BILL")) or parse_date(invoice.get("DATE_INSERT")) or date.today(),
        due_date=parse_date(invoice.get("DATE_PAY_BEFORE")), currency=str(invoice.get("CURRENCY") or ""),
        party=party, lines=[legacy_line(r, include) for r in rows], reference=str(invoice.get("ORDER_TOPIC") or ""),
        prices_include_tax=include,
        status=status_for_stage(str(invoice.get("STATUS_ID") or ""), stages, stage_map),
        platform_url=f"{base_url}/crm/invoice/show/{invoice_id}/",
        sync_enabled=sync_enabled(invoice.get(LEGACY_SYNC_FIELD)), language=language,
        platform_id=f"{LEGACY}{invoice_id}", updated_at=parse_datetime(invoice.get("DATE_UPDATE")))
