"""Positions of a sales document (NOTES §5 "Positions").

Seven types may be mixed in one array. Item positions (custom, article) accept only an
active sales tax (NOTES §3 "Taxes", [D24]); the response adds tax_value (the rate),
position_total, pos, unit_name and parent_id.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from .reference import UNITS
from .state import Company
from .totals import ITEM_TYPES, line_total
from .wire import ApiError, money, parse_decimal

TYPES = {"KbPositionCustom": "kb_position_custom", "KbPositionArticle": "kb_position_article",
         "KbPositionText": "kb_position_text", "KbPositionSubtotal": "kb_position_subtotal",
         "KbPositionPagebreak": "kb_position_pagebreak", "KbPositionDiscount": "kb_position_discount",
         "KbPositionSubposition": "kb_position_subposition"}
BY_PATH = {path: kind for kind, path in TYPES.items()}
MAX_ON_CREATE = 150  # NOTES §5: at most 150 positions per create [M: enforced as 422 here]


def _invalid(message: str) -> ApiError:
    return ApiError(422, f"The form could not be saved due to the following errors: {message}")


def _ref_id(value: Any, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _invalid(f"{name} is invalid.")


def parse(current: Company, raw: Any, kind: str | None = None) -> dict:
    """One position from a request body; ``kind`` is fixed by the endpoint when given."""
    if not isinstance(raw, dict):
        raise _invalid("positions must be objects.")
    kind = kind or raw.get("type")
    if kind not in TYPES:
        raise _invalid(f"position type {kind!r} is not valid.")
    if kind in ITEM_TYPES:
        return _item(current, raw, kind)
    pos: dict[str, Any] = {"type": kind, "text": raw.get("text"), "parent_id": raw.get("parent_id")}
    if kind == "KbPositionDiscount":
        if raw.get("value") in (None, ""):
            raise _invalid("value is required.")
        pos["value"] = parse_decimal(raw["value"], "value")
        pos["is_percentual"] = bool(raw.get("is_percentual", True))
    elif kind == "KbPositionText":
        pos["show_pos_nr"] = bool(raw.get("show_pos_nr", False))
    elif kind == "KbPositionPagebreak":
        pos["pagebreak"] = True
    elif kind == "KbPositionSubposition":
        pos["show_pos_nr"] = bool(raw.get("show_pos_nr", True))
    return pos


def _item(current: Company, raw: dict, kind: str) -> dict:
    article = None
    if kind == "KbPositionArticle":
        article = current.articles.get(_ref_id(raw.get("article_id"), "article_id") or -1)
        if article is None:
            raise _invalid("article_id does not reference an article.")
    if raw.get("amount") in (None, ""):
        raise _invalid("amount is required.")
    amount = parse_decimal(raw["amount"], "amount")
    price_raw = raw.get("unit_price")
    if price_raw in (None, "") and article is not None:
        price_raw = article.get("sale_price")
    if price_raw in (None, ""):
        raise _invalid("unit_price is required.")
    unit_price = parse_decimal(price_raw, "unit_price")
    discount = raw.get("discount_in_percent")
    discount_value = parse_decimal(discount, "discount_in_percent") if discount not in (None, "") else None
    tax_id = _ref_id(raw.get("tax_id"), "tax_id")
    if tax_id is None and article is not None:
        tax_id = article.get("tax_income_id")
    tax = current.tax(tax_id) if tax_id is not None else None
    if tax_id is not None and (tax is None or tax["type"] != "sales_tax" or not tax["is_active"]):
        # NOTES §3 / §8.3: positions accept only active sales taxes; old ids give 422.
        raise _invalid("tax_id: only active sales taxes are allowed.")
    account_id = _ref_id(raw.get("account_id"), "account_id")
    if account_id is None and article is not None:
        account_id = article.get("account_id")
    if account_id is not None and not any(a["id"] == account_id for a in current.accounts):
        raise _invalid("account_id does not reference an account.")
    unit_id = _ref_id(raw.get("unit_id"), "unit_id")
    if unit_id is None and article is not None:
        unit_id = article.get("unit_id")
    unit = next((u for u in UNITS if u["id"] == unit_id), None)
    if unit_id is not None and unit is None:
        raise _invalid("unit_id does not reference a unit.")
    text = raw.get("text")
    if text in (None, "") and article is not None:
        text = article.get("intern_name")
    return {"type": kind, "amount": amount, "unit_id": unit_id, "unit_name": unit["name"] if unit else None,
            "account_id": account_id, "tax_id": tax_id,
            "tax_rate": tax["value"] if tax else None, "text": text, "unit_price": unit_price,
            "discount_in_percent": discount_value, "is_optional": bool(raw.get("is_optional", False)),
            "parent_id": raw.get("parent_id"), "article_id": article["id"] if article else None,
            "position_total": line_total(amount, unit_price, discount_value)}


def number(positions: list[dict], next_id: Any) -> None:
    """Give new positions ids and renumber pos / internal_pos in document order."""
    pos_nr = 0
    for index, p in enumerate(positions, start=1):
        if "id" not in p:
            p["id"] = next_id()
        p["internal_pos"] = index
        if p["type"] in ITEM_TYPES or (p["type"] in {"KbPositionText", "KbPositionSubposition"}
                                       and p.get("show_pos_nr")):
            pos_nr += 1
            p["pos"] = str(pos_nr)
        else:
            p["pos"] = None


def public(p: dict, running: Decimal | None = None) -> dict:
    base = {"id": p["id"], "type": p["type"]}
    if p["type"] in ITEM_TYPES:
        out = {**base, "amount": money(p["amount"]), "unit_id": p["unit_id"], "account_id": p["account_id"],
               "unit_name": p["unit_name"], "tax_id": p["tax_id"],
               "tax_value": None if p["tax_rate"] is None else str(p["tax_rate"].quantize(Decimal("0.01"))),
               "text": p["text"], "unit_price": money(p["unit_price"]),
               "discount_in_percent": money(p["discount_in_percent"] or Decimal(0)),
               "position_total": money(p["position_total"]), "pos": p["pos"],
               "internal_pos": p["internal_pos"], "is_optional": p["is_optional"],
               "parent_id": p["parent_id"]}
        if p["type"] == "KbPositionArticle":
            out["article_id"] = p["article_id"]
        return out
    out = {**base, "text": p.get("text"), "pos": p["pos"], "internal_pos": p["internal_pos"],
           "parent_id": p.get("parent_id")}
    if p["type"] == "KbPositionDiscount":
        out.update(is_percentual=p["is_percentual"], value=money(p["value"]),
                   discount_total=money(p.get("discount_total", Decimal(0))))
    elif p["type"] == "KbPositionSubtotal":
        out["value"] = money(running or Decimal(0))
    elif p["type"] == "KbPositionPagebreak":
        out["pagebreak"] = True
    elif p["type"] in {"KbPositionText", "KbPositionSubposition"}:
        out["show_pos_nr"] = p.get("show_pos_nr", False)
    return out


def public_all(positions: list[dict]) -> list[dict]:
    running = Decimal(0)
    out = []
    for p in positions:
        if p["type"] in ITEM_TYPES and not p.get("is_optional"):
            running += p["position_total"]
        out.append(public(p, running))
    return out
