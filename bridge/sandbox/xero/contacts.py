"""Contacts: create, update, archive and read (NOTES section 4)."""
from __future__ import annotations

import re
import uuid
from typing import Any

from . import query
from .common import Ctx, Invalid, NotFound, elements, listing, run_batch
from .store import Org

WRITABLE = ("Name", "FirstName", "LastName", "EmailAddress", "ContactNumber", "AccountNumber",
            "ContactStatus", "CompanyNumber", "TaxNumber", "DefaultCurrency", "Website",
            "BankAccountDetails", "AccountsReceivableTaxType", "AccountsPayableTaxType",
            "SalesDefaultAccountCode", "PurchasesDefaultAccountCode", "Discount")
MAX_PERSONS = 5          # [N]
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_guid(text: str) -> bool:
    return bool(_GUID.match(text or ""))


def _default_addresses() -> list[dict]:
    # Xero always returns a POBOX and a STREET address, empty when unset.
    return [{"AddressType": "POBOX"}, {"AddressType": "STREET"}]


def _default_phones() -> list[dict]:
    return [{"PhoneType": t} for t in ("DEFAULT", "DDI", "FAX", "MOBILE")]


def _check_person(person: Any) -> dict:
    if not isinstance(person, dict):
        raise Invalid("ContactPersons must be objects")
    out = {k: person[k] for k in ("FirstName", "LastName", "EmailAddress") if k in person}
    out["IncludeInEmails"] = bool(person.get("IncludeInEmails", False))
    if out.get("EmailAddress") and not _EMAIL.match(out["EmailAddress"]):
        raise Invalid("Email address must be valid.")
    return out


def validate(org: Org, merged: dict, self_id: str | None) -> list[str]:
    """Rules of NOTES section 4; returns every message, as Xero lists them all."""
    errors = []
    name = merged.get("Name")
    if not name or not str(name).strip():
        errors.append("The contact name must be specified.")
    else:
        name = str(name)
        if len(name) > 255:
            errors.append("The contact name must not exceed 255 characters.")
        if name != name.strip() or "  " in name:
            errors.append("The contact name must not have leading, trailing or double spaces.")  # [N]
        if merged.get("ContactStatus", "ACTIVE") == "ACTIVE":
            for other in org.contacts.values():
                if (other["ContactID"] != self_id and other["ContactStatus"] == "ACTIVE"
                        and other["Name"].lower() == name.lower()):
                    # [S acc PUT /Contacts 400 example]
                    errors.append(f"The contact name {name} is already assigned to another contact. "
                                  "The contact name must be unique across all active contacts.")
                    break
    number = merged.get("ContactNumber")
    if number is not None and len(str(number)) > 50:
        errors.append("The ContactNumber must not exceed 50 characters.")  # [N]
    elif number:
        if any(o["ContactID"] != self_id and str(o.get("ContactNumber", "")).lower() == str(number).lower()
               for o in org.contacts.values()):
            errors.append(f"The contact number {number} is already assigned to another contact.")  # [N]
    account = merged.get("AccountNumber")
    if account is not None and len(str(account)) > 50:
        errors.append("The AccountNumber must not exceed 50 characters.")
    elif account and any(o["ContactID"] != self_id and str(o.get("AccountNumber", "")).lower() == str(account).lower()
                         for o in org.contacts.values()):
        errors.append("The Account Number already exists")  # [I calcinai/xero-php#880]
    email = merged.get("EmailAddress")
    if email and (len(email) > 255 or not _EMAIL.match(email)):
        errors.append("Email address must be valid.")  # umlauts are not supported either [N]
    if merged.get("ContactStatus", "ACTIVE") not in ("ACTIVE", "ARCHIVED"):
        errors.append("ContactStatus must be ACTIVE or ARCHIVED.")
    currency = merged.get("DefaultCurrency")
    if currency and currency not in {c["Code"] for c in org.currencies}:
        errors.append(f"Organisation is not subscribed to currency {currency}")
    return errors


def find(org: Org, key: str) -> dict | None:
    """By ContactID, or by ContactNumber (GET /Contacts/{ContactNumber}, NOTES section 4)."""
    if is_guid(key):
        return org.contacts.get(key.lower())
    return next((c for c in org.contacts.values() if c.get("ContactNumber") and c["ContactNumber"] == key), None)


def apply(ctx: Ctx, raw: dict, existing: dict | None) -> dict:
    """Create or update one contact from ``raw``; omitted fields keep their values."""
    org = ctx.org
    merged = dict(existing or {"ContactStatus": "ACTIVE"})
    for key in WRITABLE:
        if key in raw:
            merged[key] = raw[key]
    persons = raw.get("ContactPersons")
    if persons is not None:
        if not isinstance(persons, list):
            raise Invalid("ContactPersons must be a list")
        if len(persons) > MAX_PERSONS:
            raise Invalid(f"A contact can have a maximum of {MAX_PERSONS} contact persons.")  # [N]
        merged["ContactPersons"] = [_check_person(p) for p in persons]  # replaced whole [I xero-php#171]
    for key in ("Addresses", "Phones"):
        if key in raw:
            if not isinstance(raw[key], list):
                raise Invalid(f"{key} must be a list")
            merged[key] = [dict(x) for x in raw[key] if isinstance(x, dict)]
    errors = validate(org, merged, existing["ContactID"] if existing else None)
    if errors:
        raise Invalid(*errors)
    if existing is None:
        merged.update({"ContactID": str(uuid.uuid4()), "IsSupplier": False, "IsCustomer": False,
                       "HasAttachments": False, "HasValidationErrors": False, "_created_by": ctx.grant.client_id})
        merged.setdefault("ContactPersons", [])
        merged.setdefault("Addresses", _default_addresses())
        merged.setdefault("Phones", _default_phones())
    merged["UpdatedDateUTC"] = org.stamp(ctx.now)
    org.contacts[merged["ContactID"]] = merged
    ctx.event("CONTACT", merged["ContactID"], "UPDATE" if existing else "CREATE", merged["UpdatedDateUTC"])
    return render(merged)


def render(contact: dict) -> dict:
    return {k: v for k, v in contact.items() if not k.startswith("_")}


def upsert(ctx: Ctx, raw: dict, allow_update: bool, forced_id: str | None = None) -> dict:
    org = ctx.org
    contact_id = forced_id or raw.get("ContactID")
    if contact_id:
        existing = org.contacts.get(str(contact_id).lower())
        if existing is None:
            raise Invalid(f"The contact with ID {contact_id} could not be found.")
        if not allow_update:
            raise Invalid("PUT creates contacts only; use POST to update.")  # NOTES section 2
        return apply(ctx, raw, existing)
    if allow_update and raw.get("ContactNumber"):
        # POST with a known ContactNumber updates that contact [M].
        existing = find(org, str(raw["ContactNumber"]))
        if existing is not None and not is_guid(str(raw["ContactNumber"])):
            return apply(ctx, raw, existing)
    return apply(ctx, raw, None)


def resolve_for_document(ctx: Ctx, raw: Any) -> dict:
    """The Contact of an invoice or bank transaction: by ID, number or name, else created.

    Extra fields next to ContactID update the contact (and drop ContactPersons not sent)
    [N, NOTES section 3]; so send only ContactID.
    """
    if not isinstance(raw, dict) or not raw:
        raise Invalid("A Contact must be specified for this type of transaction")
    org = ctx.org
    if raw.get("ContactID"):
        contact = org.contacts.get(str(raw["ContactID"]).lower())
        if contact is None:
            raise Invalid(f"The contact with ID {raw['ContactID']} could not be found.")
        if set(raw) - {"ContactID"}:
            apply(ctx, raw, contact)
        return org.contacts[contact["ContactID"]]
    if raw.get("ContactNumber"):
        contact = find(org, str(raw["ContactNumber"]))
        if contact is not None:
            return contact
    if raw.get("Name"):
        name = str(raw["Name"]).lower()
        contact = next((c for c in org.contacts.values()
                        if c["ContactStatus"] == "ACTIVE" and c["Name"].lower() == name), None)
        if contact is not None:
            return contact
        return org.contacts[apply(ctx, raw, None)["ContactID"]]
    raise Invalid("A Contact must be specified for this type of transaction")


def _search(contact: dict, term: str) -> bool:
    term = term.lower()
    return any(term in str(contact.get(k) or "").lower()
               for k in ("Name", "FirstName", "LastName", "ContactNumber", "CompanyNumber", "EmailAddress"))


def handle(ctx: Ctx, parts: list[str]) -> tuple[int, Any]:
    org, args = ctx.org, ctx.args
    if ctx.method == "GET" and not parts:
        records = list(org.contacts.values())
        if args.get("includeArchived", "").lower() != "true":
            records = [c for c in records if c["ContactStatus"] != "ARCHIVED"]
        if args.get("IDs"):
            wanted = {i.strip().lower() for i in args["IDs"].split(",")}
            records = [c for c in records if c["ContactID"] in wanted]
        if args.get("searchTerm"):
            records = [c for c in records if _search(c, args["searchTerm"])]
        if args.get("where"):
            pred = query.parse_where(args["where"])
            records = [c for c in records if pred(c)]
        records = query.modified_since(records, ctx.if_modified_since)
        records = query.apply_order(records, args.get("order") or "Name")
        chunk, pagination = query.page_of(records, args.get("page"), args.get("pageSize"))
        rendered = [render(c) for c in chunk]
        if args.get("summaryOnly", "").lower() == "true":
            rendered = [{k: v for k, v in c.items() if k not in ("ContactPersons", "Addresses", "Phones")}
                        for c in rendered]
        return listing(ctx, "Contacts", rendered, pagination)
    if ctx.method == "GET" and len(parts) == 1:
        contact = find(org, parts[0])
        if contact is None:
            raise NotFound()
        return listing(ctx, "Contacts", [render(contact)])
    if ctx.method in ("PUT", "POST") and not parts:
        items = elements(ctx.body, "Contacts")
        return run_batch(ctx, "Contacts", items, lambda raw: upsert(ctx, raw, ctx.method == "POST"))
    if ctx.method == "POST" and len(parts) == 1:
        if not is_guid(parts[0]) or parts[0].lower() not in org.contacts:
            raise NotFound()
        items = elements(ctx.body, "Contacts")
        return run_batch(ctx, "Contacts", items[:1], lambda raw: upsert(ctx, raw, True, parts[0].lower()))
    raise NotFound()
