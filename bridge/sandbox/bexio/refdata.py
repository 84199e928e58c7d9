"""Reference endpoints the integration resolves per tenant (NOTES §3), each on its real
version: users, taxes, currencies and bank accounts on 3.0; languages, accounts,
countries, units, payment types, document settings and the company profile on 2.0.
A wrong version is a plain 404 (NOTES §2)."""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from flask import Blueprint, request

from . import search
from .gate import company, requires, user_id
from .reference import COUNTRIES, CURRENCIES, LANGUAGES, PAYMENT_TYPES, UNITS
from .wire import ApiError, json_body, order, page, page_v3, reply

if TYPE_CHECKING:
    from . import System


def _user(u: dict) -> dict:
    return {k: u[k] for k in ("id", "salutation_type", "firstname", "lastname", "email",
                              "is_superadmin", "is_accountant")}


def _tax(t: dict) -> dict:
    out = dict(t)
    out["value"] = float(t["value"])  # 3.0 sends the rate as a number, e.g. 7.7
    return out


def _valid_on(t: dict, day: date) -> bool:
    """A tax applies on ``day`` within its start/end year and month (NOTES §3, §8.3)."""
    start = (t["start_year"] or 0, t["start_month"] or 1)
    end = (t["end_year"] or 9999, t["end_month"] or 12)
    return start <= (day.year, day.month) <= end


def _language(l: dict) -> dict:
    return {**l, "decimal_point": ".", "thousands_separator": "'", "date_format_id": 1,
            "date_format": "d.m.Y"}


def register(bp: Blueprint, system: "System") -> None:
    lock = system.host.lock

    # NOTES §1: the spec tags /3.0/users with "general", not requestable; any token works [M].
    @bp.get("/3.0/users")
    def users():
        with lock:
            return page_v3([_user(u) for u in company().users])

    @bp.get("/3.0/users/me")
    def me():
        with lock:
            return reply(_user(company().user(user_id())))

    @bp.get("/3.0/users/<int:uid>")
    def one_user(uid: int):
        with lock:
            found = company().user(uid)
        if found is None:
            raise ApiError(404, "Page not found")
        return reply(_user(found))

    @bp.get("/3.0/fictional_users")
    def fictional_users():
        return page_v3([])

    @bp.get("/3.0/taxes")
    @requires("accounting")
    def taxes():
        # NOTES §3: /3.0/taxes?types=sales_tax&scope=active[&date=YYYY-MM-DD]
        types, scope, day = request.args.get("types"), request.args.get("scope"), request.args.get("date")
        try:
            on = date.fromisoformat(day) if day else None
        except ValueError:
            raise ApiError(400, "Invalid parameters: date must be YYYY-MM-DD")
        if scope not in (None, "active", "inactive"):
            raise ApiError(400, "Invalid parameters: scope must be active or inactive")
        if types not in (None, "sales_tax", "pre_tax"):
            raise ApiError(400, "Invalid parameters: types must be sales_tax or pre_tax")
        with lock:
            rows = [t for t in company().taxes
                    if (types is None or t["type"] == types)
                    and (scope is None or t["is_active"] == (scope == "active"))
                    and (on is None or _valid_on(t, on))]
            return page_v3([_tax(t) for t in rows])

    @bp.get("/3.0/taxes/<int:tax_id>")
    @requires("accounting")
    def one_tax(tax_id: int):
        with lock:
            found = company().tax(tax_id)
        if found is None:
            raise ApiError(404, "Page not found")
        return reply(_tax(found))

    @bp.get("/3.0/currencies")
    @requires("accounting")
    def currencies():
        return page_v3([{**c, "round_factor": float(c["round_factor"])} for c in CURRENCIES])

    @bp.get("/3.0/currencies/codes")
    @requires("accounting")
    def currency_codes():
        return reply([c["name"] for c in CURRENCIES])

    @bp.get("/3.0/currencies/<int:currency_id>")
    @requires("accounting")
    def one_currency(currency_id: int):
        found = next((c for c in CURRENCIES if c["id"] == currency_id), None)
        if found is None:
            raise ApiError(404, "Page not found")
        return reply({**found, "round_factor": float(found["round_factor"])})

    @bp.get("/3.0/banking/accounts")
    @requires("bank_account_show")
    def bank_accounts():
        with lock:
            return page_v3(list(company().bank_accounts))

    @bp.get("/2.0/language")
    def languages():
        return reply(page(order([_language(l) for l in LANGUAGES], {"id", "name"})))

    @bp.post("/2.0/language/search")
    def search_languages():
        conditions = search.parse(json_body(), {"name", "iso_639_1"})
        return reply([_language(l) for l in LANGUAGES if search.matches(l, conditions)])

    @bp.get("/2.0/accounts")
    @requires("accounting")
    def accounts():
        with lock:
            return reply(page(order(list(company().accounts), {"id", "account_no"})))

    @bp.post("/2.0/accounts/search")
    @requires("accounting")
    def search_accounts():
        conditions = search.parse(json_body(), {"account_no", "name", "account_type"})
        with lock:
            return reply(page([a for a in company().accounts if search.matches(a, conditions)]))

    @bp.get("/2.0/country")
    def countries():
        return reply(page(order(list(COUNTRIES), {"id", "name"})))

    @bp.get("/2.0/unit")
    def units():
        return reply(page(list(UNITS)))

    @bp.get("/2.0/payment_type")
    def payment_types():
        return reply(page(list(PAYMENT_TYPES)))

    @bp.get("/2.0/kb_item_setting")
    def item_settings():
        with lock:
            return reply(dict(company().settings))

    @bp.get("/2.0/company_profile")
    def company_profile():
        with lock:
            c = company()
            return reply([{"id": c.seq, "name": c.name, "address": "Bahnhofstrasse", "address_nr": "1",
                           "postcode": "8001", "city": "Zürich", "country_id": 1, "country_name": "Schweiz",
                           "legal_form": "association", "mail": c.owner_email, "phone_fixed": None,
                           "mwst_nr": f"CHE-100.000.{c.seq:03d} MWST", "has_own_logo": False,
                           "is_public_profile": False}])
