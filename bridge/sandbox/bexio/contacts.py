"""``/2.0/contact`` (NOTES §4): create, read, edit, archive/restore, search, bulk create."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, request

from . import search
from .gate import company, requires
from .reference import COUNTRIES, LANGUAGES
from .state import Company
from .wire import ApiError, json_body, order, page, reply, stamp_v2

if TYPE_CHECKING:
    from . import System

FIELDS = ["id", "nr", "contact_type_id", "name_1", "name_2", "salutation_id", "salutation_form",
          "title_id", "birthday", "address", "street_name", "house_number", "address_addition",
          "postcode", "city", "country_id", "mail", "mail_second", "phone_fixed",
          "phone_fixed_second", "phone_mobile", "fax", "url", "skype_name", "remarks",
          "language_id", "is_lead", "contact_group_ids", "contact_branch_ids", "user_id",
          "owner_id", "updated_at"]
WRITABLE = set(FIELDS) - {"id", "address", "updated_at"}
# NOTES §4 "Search ... Fields".
SEARCH_FIELDS = {"id", "name_1", "name_2", "nr", "address", "mail", "mail_second", "postcode",
                 "city", "country_id", "contact_group_ids", "contact_type_id", "updated_at",
                 "user_id", "phone_fixed", "phone_mobile", "fax"}


def _invalid(message: str) -> ApiError:
    return ApiError(422, f"The form could not be saved due to the following errors: {message}")


def _address(row: dict) -> str:
    """``address`` is derived and response-only (NOTES §4)."""
    line = " ".join(str(p) for p in (row.get("street_name"), row.get("house_number")) if p)
    return "\n".join(p for p in (line, row.get("address_addition")) if p)


def validate(current: Company, body: Any, existing: dict | None = None) -> dict:
    if not isinstance(body, dict):
        raise ApiError(400, "Invalid parameters: a JSON object is required")
    row = {k: v for k, v in body.items() if k in WRITABLE}
    # NOTES §4: contact_type_id, name_1, user_id, owner_id are required (also on edit).
    for name in ("contact_type_id", "name_1", "user_id", "owner_id"):
        if row.get(name) in (None, ""):
            raise _invalid(f"{name} is required.")
    if row["contact_type_id"] not in (1, 2):
        raise _invalid("contact_type_id must be 1 (company) or 2 (person).")
    for name in ("user_id", "owner_id"):
        if current.user(row[name]) is None:
            raise _invalid(f"{name} does not reference a user.")
    if (row.get("house_number") or row.get("address_addition")) and not row.get("street_name"):
        raise _invalid("street_name is required when house_number or address_addition is set.")
    if row.get("country_id") is not None and not any(c["id"] == row["country_id"] for c in COUNTRIES):
        raise _invalid("country_id does not reference a country.")
    if row.get("language_id") is not None and not any(l["id"] == row["language_id"] for l in LANGUAGES):
        raise _invalid("language_id does not reference a language.")
    if row.get("postcode") is not None:
        row["postcode"] = str(row["postcode"])
    return row


def store(system: "System", current: Company, row: dict, contact_id: int | None = None) -> dict:
    now = system.host.clock.time()
    if contact_id is None:
        contact_id = current.next_id("contact")
        existing: dict = {"archived": False}
    else:
        existing = current.contacts[contact_id]
    record = {**{f: None for f in FIELDS}, **existing, **row, "id": contact_id,
              "updated_at": stamp_v2(now)}
    if not record.get("nr"):
        record["nr"] = str(contact_id)  # nr null means auto-numbered (NOTES §4)
    record["address"] = _address(record)
    record.setdefault("is_lead", False)
    current.contacts[contact_id] = record
    return record


def public(row: dict) -> dict:
    return {f: row.get(f) for f in FIELDS}


def register(bp: Blueprint, system: "System") -> None:
    lock = system.host.lock

    def _get(current: Company, contact_id: int) -> dict:
        row = current.contacts.get(contact_id)
        if row is None:
            raise ApiError(404, "Page not found")
        return row

    @bp.get("/2.0/contact")
    @requires("contact_show")
    def list_contacts():
        archived = request.args.get("show_archived") in {"1", "true"}
        with lock:
            rows = [r for r in company().contacts.values() if archived or not r["archived"]]
            return reply([public(r) for r in page(order(rows, set(FIELDS)))])

    @bp.post("/2.0/contact")
    @requires("contact_edit")
    def create_contact():
        body = json_body()
        with lock:
            current = company()
            return reply(public(store(system, current, validate(current, body))), 201)

    @bp.post("/2.0/contact/_bulk_create")
    @requires("contact_edit")
    def bulk_create():
        body = json_body()
        if not isinstance(body, list):
            raise ApiError(400, "Invalid parameters: an array of contacts is required")
        with lock:
            current = company()
            rows = [validate(current, item) for item in body]  # all or nothing
            return reply([public(store(system, current, row)) for row in rows], 201)

    @bp.get("/2.0/contact/<int:contact_id>")
    @requires("contact_show")
    def show_contact(contact_id: int):
        with lock:
            row = _get(company(), contact_id)
            if row["archived"] and request.args.get("show_archived") not in {"1", "true"}:
                raise ApiError(404, "Page not found")
            return reply(public(row))

    @bp.post("/2.0/contact/<int:contact_id>")
    @requires("contact_edit")
    def edit_contact(contact_id: int):
        body = json_body()
        with lock:
            current = company()
            _get(current, contact_id)
            return reply(public(store(system, current, validate(current, body), contact_id)))

    @bp.delete("/2.0/contact/<int:contact_id>")
    @requires("contact_edit")
    def archive_contact(contact_id: int):
        with lock:  # NOTES §4: delete only archives a contact
            _get(company(), contact_id)["archived"] = True
            return reply({"success": True})

    @bp.patch("/2.0/contact/<int:contact_id>/restore")
    @requires("contact_edit")
    def restore_contact(contact_id: int):
        with lock:
            _get(company(), contact_id)["archived"] = False
            return reply({"success": True})

    @bp.post("/2.0/contact/search")
    @requires("contact_show")
    def search_contacts():
        conditions = search.parse(json_body(), SEARCH_FIELDS)
        archived = request.args.get("show_archived") in {"1", "true"}
        with lock:
            rows = [r for r in company().contacts.values()
                    if (archived or not r["archived"]) and search.matches(r, conditions)]
            return reply([public(r) for r in page(order(rows, set(FIELDS)))])
