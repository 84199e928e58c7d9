"""Contacts (entityTypeId 3) and companies (4) in the old UPPER_CASE crm.contact.* shape (NOTES s8)."""
from __future__ import annotations

from typing import Any

from .errors import bad_argument, not_found
from .invoices import now
from .state import Portal
from .wire import format_date

CONTACT, COMPANY = 3, 4
MULTI = ("EMAIL", "PHONE", "WEB", "IM")
CONTACT_FIELDS = ("NAME", "LAST_NAME", "SECOND_NAME", "HONORIFIC", "POST", "TYPE_ID", "SOURCE_ID", "COMMENTS",
                  "OPENED", "EXPORT", "ASSIGNED_BY_ID", "ORIGINATOR_ID", "ORIGIN_ID", "ORIGIN_VERSION",
                  "ADDRESS", "ADDRESS_CITY", "ADDRESS_POSTAL_CODE", "ADDRESS_COUNTRY", "BIRTHDATE", "COMPANY_ID")
COMPANY_FIELDS = ("TITLE", "COMPANY_TYPE", "INDUSTRY", "CURRENCY_ID", "REVENUE", "EMPLOYEES", "COMMENTS",
                  "OPENED", "ASSIGNED_BY_ID", "ORIGINATOR_ID", "ORIGIN_ID", "ORIGIN_VERSION",
                  "ADDRESS", "ADDRESS_CITY", "ADDRESS_POSTAL_CODE", "ADDRESS_COUNTRY", "BANKING_DETAILS")


def get(portal: Portal, kind: int, entity_id: Any) -> dict[str, Any]:
    try:
        row = portal.items[kind].get(int(entity_id))
    except (TypeError, ValueError):
        raise bad_argument("ID is not defined or invalid.")
    if row is None:
        raise not_found("Not found")
    return row


def _multi(portal: Portal, row: dict[str, Any], key: str, entries: Any) -> None:
    """Multi-fields: entries without ID are added, with ID changed, with DELETE=Y or empty VALUE removed."""
    current = row.setdefault(key, [])
    for entry in (entries.values() if isinstance(entries, dict) else entries or []):
        if not isinstance(entry, dict):
            continue
        if entry.get("ID"):
            match = next((e for e in current if e["ID"] == str(entry["ID"])), None)
            if match is None:
                continue
            if entry.get("DELETE") == "Y" or entry.get("VALUE") == "":
                current.remove(match)
            else:
                match.update({k: str(entry[k]) for k in ("VALUE", "VALUE_TYPE") if k in entry})
        elif entry.get("VALUE"):
            current.append({"ID": str(portal.next_id("fm", 1000)), "VALUE_TYPE": str(entry.get("VALUE_TYPE") or "WORK"),
                            "VALUE": str(entry["VALUE"]), "TYPE_ID": key})


def _apply(portal: Portal, kind: int, row: dict[str, Any], fields: dict[str, Any]) -> None:
    allowed = CONTACT_FIELDS if kind == CONTACT else COMPANY_FIELDS
    for key, value in fields.items():
        key = key.upper()
        if key in MULTI:
            _multi(portal, row, key, value)
        elif key in allowed or key.startswith("UF_"):
            row[key] = value
        elif kind == CONTACT and key == "COMPANY_IDS":
            ids = [int(v) for v in (value if isinstance(value, list) else [value]) if str(v).strip()]
            row["_companies"] = [{"COMPANY_ID": i, "IS_PRIMARY": "Y" if n == 0 else "N", "SORT": (n + 1) * 10}
                                 for n, i in enumerate(ids)]
    if kind == CONTACT and "COMPANY_ID" in fields:
        company_id = int(fields["COMPANY_ID"] or 0)
        links = [l for l in row.get("_companies", []) if l["COMPANY_ID"] != company_id]
        if company_id:
            get(portal, COMPANY, company_id)
            for link in links:
                link["IS_PRIMARY"] = "N"
            links.insert(0, {"COMPANY_ID": company_id, "IS_PRIMARY": "Y", "SORT": 10})
        row["_companies"] = links
    for key in MULTI:
        row["HAS_" + key] = "Y" if row.get(key) else "N"


def add(portal: Portal, kind: int, fields: dict[str, Any], user_id: int, clock_time: float) -> dict[str, Any]:
    if kind == CONTACT and not any(fields.get(k) for k in ("NAME", "LAST_NAME", "SECOND_NAME")):
        # The portal requires a name for contacts and a title for companies.
        raise bad_argument("One of the fields is required: Name, Second name, Last name")
    moment = format_date(now(portal, clock_time))
    new_id = portal.next_id(f"party{kind}")
    row: dict[str, Any] = {"ID": str(new_id), "OPENED": "Y", "EXPORT": "Y", "ASSIGNED_BY_ID": str(user_id),
                           "CREATED_BY_ID": str(user_id), "MODIFY_BY_ID": str(user_id),
                           "DATE_CREATE": moment, "DATE_MODIFY": moment, "ORIGINATOR_ID": None, "ORIGIN_ID": None,
                           "ORIGIN_VERSION": None, "COMMENTS": None}
    if kind == COMPANY:
        row.update({"TITLE": fields.get("TITLE") or f"Company #{new_id}", "CURRENCY_ID": "USD", "COMPANY_TYPE": "CUSTOMER"})
    else:
        row.update({"NAME": None, "LAST_NAME": None, "SECOND_NAME": None, "TYPE_ID": "CLIENT", "_companies": []})
    _apply(portal, kind, row, fields)
    portal.items[kind][new_id] = row
    return row


def update(portal: Portal, kind: int, entity_id: Any, fields: dict[str, Any], user_id: int, clock_time: float) -> bool:
    row = get(portal, kind, entity_id)
    before = repr(row)
    _apply(portal, kind, row, fields)
    if repr(row) == before:
        return False
    row["DATE_MODIFY"], row["MODIFY_BY_ID"] = format_date(now(portal, clock_time)), str(user_id)
    return True


def delete(portal: Portal, kind: int, entity_id: Any) -> None:
    row = get(portal, kind, entity_id)
    del portal.items[kind][int(row["ID"])]
    if kind == COMPANY:
        for contact in portal.items[CONTACT].values():
            contact["_companies"] = [l for l in contact.get("_companies", []) if l["COMPANY_ID"] != int(row["ID"])]


def render(portal: Portal, kind: int, row: dict[str, Any], with_multi: bool = True) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if not k.startswith("_") and (with_multi or k not in MULTI)}
    if kind == CONTACT:
        links = row.get("_companies", [])
        primary = next((l["COMPANY_ID"] for l in links if l["IS_PRIMARY"] == "Y"), None)
        out["COMPANY_ID"] = str(primary) if primary else None
    return out


def link(portal: Portal, contact_id: Any, company_id: Any, primary: bool, sort: int = 10) -> bool:
    """crm.contact.company.add / crm.company.contact.add; False when already linked."""
    contact = get(portal, CONTACT, contact_id)
    get(portal, COMPANY, company_id)
    links = contact.setdefault("_companies", [])
    if any(l["COMPANY_ID"] == int(company_id) for l in links):
        return False
    if primary or not links:
        for l in links:
            l["IS_PRIMARY"] = "N"
    links.append({"COMPANY_ID": int(company_id), "IS_PRIMARY": "Y" if (primary or not links) else "N", "SORT": sort})
    return True


def contacts_of(portal: Portal, company_id: int) -> list[dict[str, Any]]:
    out = []
    for contact in portal.items[CONTACT].values():
        for l in contact.get("_companies", []):
            if l["COMPANY_ID"] == company_id:
                out.append({"CONTACT_ID": int(contact["ID"]), "SORT": l["SORT"], "ROLE_ID": 0, "IS_PRIMARY": l["IS_PRIMARY"]})
    return out


def filter_value(row: dict[str, Any], key: str) -> Any:
    key = key.upper()
    if key in MULTI:
        return [e["VALUE"] for e in row.get(key, [])]
    if key == "COMPANY_ID" and "_companies" in row:
        return [l["COMPANY_ID"] for l in row["_companies"]] or None
    return row.get(key)
