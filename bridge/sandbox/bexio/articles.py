"""``/2.0/article`` (NOTES §6): articles keyed by ``intern_code`` (the shop's SKU) and
their read-only stock counters."""
from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from flask import Blueprint, g

from . import search, stock
from .gate import company, has_scope, requires
from .reference import CURRENCIES, UNITS
from .state import Company
from .wire import ApiError, json_body, money, order, page, parse_decimal, reply

if TYPE_CHECKING:
    from . import System

MONEY_FIELDS = {"purchase_price", "sale_price", "purchase_total", "sale_total", "delivery_price"}
NUMBER_FIELDS = {"width", "height", "weight", "volume"}
STOCK_FIELDS = {"is_stock", "stock_id", "stock_place_id", "stock_nr", "stock_min_nr"}
TEXT_FIELDS = {"intern_code", "intern_name", "intern_description", "deliverer_code", "deliverer_name",
               "deliverer_description", "remarks", "html_text"}
REF_FIELDS = {"user_id", "article_type_id", "contact_id", "currency_id", "tax_income_id", "tax_expense_id",
              "unit_id", "account_id", "expense_account_id", "article_group_id"}
WRITABLE = MONEY_FIELDS | NUMBER_FIELDS | STOCK_FIELDS | TEXT_FIELDS | REF_FIELDS
COUNTERS = ["stock_nr", "stock_min_nr", "stock_reserved_nr", "stock_available_nr", "stock_picked_nr",
            "stock_disposed_nr", "stock_ordered_nr"]
FIELDS = ["id", "user_id", "article_type_id", "contact_id", "deliverer_code", "deliverer_name",
          "deliverer_description", "intern_code", "intern_name", "intern_description", "purchase_price",
          "sale_price", "purchase_total", "sale_total", "currency_id", "tax_income_id", "tax_id",
          "tax_expense_id", "unit_id", "is_stock", "stock_id", "stock_place_id", *COUNTERS, "width",
          "height", "weight", "volume", "html_text", "remarks", "delivery_price", "article_group_id",
          "account_id", "expense_account_id"]
SEARCH_FIELDS = {"intern_name", "intern_code"}  # NOTES §6: only these two


def _invalid(message: str) -> ApiError:
    return ApiError(422, f"The form could not be saved due to the following errors: {message}")


def validate(current: Company, body: Any, existing: dict | None) -> dict:
    if not isinstance(body, dict):
        raise ApiError(400, "Invalid parameters: a JSON object is required")
    row: dict[str, Any] = {}
    for key, value in body.items():
        if key not in WRITABLE:
            continue
        if key in MONEY_FIELDS | NUMBER_FIELDS | {"stock_nr", "stock_min_nr"}:
            row[key] = None if value in (None, "") else parse_decimal(value, key)
        else:
            row[key] = value
    merged = {**(existing or {}), **row}
    if not merged.get("intern_name"):
        raise _invalid("intern_name is required.")
    if merged.get("article_type_id") not in (1, 2):
        raise _invalid("article_type_id must be 1 (physical) or 2 (service).")
    if (set(row) & STOCK_FIELDS) and not has_scope(g.bexio_scopes, "stock_edit"):
        raise ApiError(403, "Missing rights: stock fields need the scope stock_edit")  # NOTES §6
    if "stock_nr" in row and existing is not None and existing["bookings"] and \
            row["stock_nr"] != existing["stock_nr"]:
        raise _invalid("stock_nr can only be set while no stock bookings exist.")  # NOTES §6
    for key, rows in (("tax_income_id", current.taxes), ("tax_expense_id", current.taxes),
                      ("account_id", current.accounts), ("expense_account_id", current.accounts),
                      ("unit_id", UNITS), ("currency_id", CURRENCIES)):
        if merged.get(key) is not None and not any(r["id"] == merged[key] for r in rows):
            raise _invalid(f"{key} does not reference a valid record.")
    if merged.get("tax_income_id") is not None and current.tax(merged["tax_income_id"])["type"] != "sales_tax":
        raise _invalid("tax_income_id must be a sales tax.")
    return row


def save(current: Company, row: dict, article_id: int | None = None) -> dict:
    if article_id is None:
        article_id = current.next_id("article")
        base: dict[str, Any] = {f: None for f in FIELDS}
        base.update({c: Decimal(0) for c in COUNTERS}, bookings=0, is_stock=False)
    else:
        base = current.articles[article_id]
    record = {**base, **row, "id": article_id}
    record["tax_id"] = record.get("tax_income_id")
    for counter in COUNTERS:
        record[counter] = record.get(counter) or Decimal(0)
    stock.refresh(record)
    current.articles[article_id] = record
    return record


def public(row: dict) -> dict:
    out = {f: row.get(f) for f in FIELDS}
    for key in MONEY_FIELDS:
        out[key] = money(row.get(key))
    for key in COUNTERS:
        value = row.get(key) or Decimal(0)  # counters are whole numbers on the wire
        out[key] = int(value) if value == value.to_integral_value() else float(value)
    for key in NUMBER_FIELDS:
        out[key] = None if row.get(key) is None else float(row[key])
    return out


def register(bp: Blueprint, system: "System") -> None:
    lock = system.host.lock

    def _get(current: Company, article_id: int) -> dict:
        row = current.articles.get(article_id)
        if row is None:
            raise ApiError(404, "Page not found")
        return row

    @bp.get("/2.0/article")
    @requires("article_show")
    def list_articles():
        with lock:
            rows = [public(r) for r in company().articles.values()]
            return reply(page(order(rows, {"id", "intern_name"})))

    @bp.post("/2.0/article")
    @requires("article_edit")
    def create_article():
        body = json_body()
        with lock:
            current = company()
            return reply(public(save(current, validate(current, body, None))), 201)

    @bp.post("/2.0/article/search")
    @requires("article_show")
    def search_articles():
        conditions = search.parse(json_body(), SEARCH_FIELDS)
        with lock:
            rows = [public(r) for r in company().articles.values() if search.matches(r, conditions)]
            return reply(page(order(rows, {"id", "intern_name"})))

    @bp.get("/2.0/article/<int:article_id>")
    @requires("article_show")
    def show_article(article_id: int):
        with lock:
            return reply(public(_get(company(), article_id)))

    @bp.post("/2.0/article/<int:article_id>")
    @requires("article_edit")
    def edit_article(article_id: int):
        body = json_body()
        with lock:
            current = company()
            existing = _get(current, article_id)
            return reply(public(save(current, validate(current, body, existing), article_id)))

    @bp.delete("/2.0/article/<int:article_id>")
    @requires("article_edit")
    def delete_article(article_id: int):
        with lock:
            current = company()
            _get(current, article_id)
            del current.articles[article_id]
            return reply({"success": True})
