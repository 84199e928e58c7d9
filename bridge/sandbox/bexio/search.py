"""``POST /2.0/<resource>/search`` bodies (NOTES §2 "Search").

The body is a JSON array of ``{"field", "value", "criteria"}``; criteria default to
``like`` (a contains-match), several conditions are ANDed [M], fields are limited to the
resource's searchable list and field/value to 255 characters.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from .wire import ApiError

CRITERIA = {"=", "equal", "!=", "not_equal", ">", "greater_than", ">=", "greater_equal",
            "<", "less_than", "<=", "less_equal", "like", "not_like", "is_null", "not_null",
            "in", "not_in"}
_ALIASES = {"equal": "=", "not_equal": "!=", "greater_than": ">", "greater_equal": ">=",
            "less_than": "<", "less_equal": "<="}


def parse(body: Any, fields: set[str]) -> list[tuple[str, str, Any]]:
    if not isinstance(body, list):
        raise ApiError(400, "Invalid parameters: the search body must be an array of conditions")
    conditions = []
    for item in body:
        if not isinstance(item, dict) or "field" not in item:
            raise ApiError(400, "Invalid parameters: each condition needs field, value and criteria")
        field, criteria = str(item["field"]), str(item.get("criteria") or "like")
        if field not in fields:
            raise ApiError(400, f"Invalid parameters: field {field} is not searchable")
        if criteria not in CRITERIA:
            raise ApiError(400, f"Invalid parameters: criteria {criteria} is not supported")
        value = item.get("value")
        if len(field) > 255 or (isinstance(value, str) and len(value) > 255):
            raise ApiError(400, "Invalid parameters: field and value are limited to 255 characters")
        if criteria in {"in", "not_in"} and not isinstance(value, list):
            raise ApiError(400, f"Invalid parameters: criteria {criteria} needs an array value")
        conditions.append((field, _ALIASES.get(criteria, criteria), value))
    return conditions


def _num(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _compare(left: Any, right: Any) -> int | None:
    a, b = _num(left), _num(right)
    if a is not None and b is not None:
        return (a > b) - (a < b)
    if left is None:
        return None
    sa, sb = str(left), str(right)
    return (sa > sb) - (sa < sb)


def _eq(left: Any, right: Any) -> bool:
    if isinstance(left, bool):
        return str(right).lower() in ({"1", "true"} if left else {"0", "false"})
    return _compare(left, right) == 0


def matches(row: dict, conditions: list[tuple[str, str, Any]],
            read: Callable[[dict, str], Any] = lambda r, f: r.get(f)) -> bool:
    for field, criteria, value in conditions:
        have = read(row, field)
        if criteria == "is_null":
            ok = have in (None, "")
        elif criteria == "not_null":
            ok = have not in (None, "")
        elif criteria == "=":
            ok = have is not None and _eq(have, value)
        elif criteria == "!=":
            ok = have is None or not _eq(have, value)
        elif criteria in {"like", "not_like"}:
            found = have is not None and str(value).lower().strip("%") in str(have).lower()
            ok = found if criteria == "like" else not found
        elif criteria in {"in", "not_in"}:
            found = have is not None and any(_eq(have, v) for v in value)
            ok = found if criteria == "in" else not found
        else:
            cmp = _compare(have, value)
            ok = cmp is not None and {">": cmp > 0, ">=": cmp >= 0, "<": cmp < 0, "<=": cmp <= 0}[criteria]
        if not ok:
            return False
    return True
