"""List semantics shared by crm.item.list, crm.contact.list, catalog lists...

Filter keys carry an operator prefix (``>updatedTime``, ``=ownerId``, ``@id``, ``!stageId``,
``%title``); order is ``{field: ASC|DESC}``; pages are 50 rows with ``start``; ``start=-1``
turns off the count (NOTES s9, fast paging).
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable

from .errors import bad_argument
from .wire import parse_date

PAGE_SIZE = 50
_OP = re.compile(r"^(>=|<=|!=|!@|!%|>|<|=|!|@|%)?(.+)$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _coerce_pair(left: Any, right: Any) -> tuple[Any, Any]:
    """Compare dates as dates, numbers as numbers, the rest as strings (PHP/SQL loose typing)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return (None if left is None else int(bool(left))), _as_int_bool(right)
    if isinstance(left, str) and _DATE_RE.match(left) and _DATE_RE.match(str(right)):
        a, b = parse_date(left), parse_date(str(right))
        if a and b:
            return a, b
    try:
        return Decimal(str(left)), Decimal(str(right))
    except (InvalidOperation, ValueError):
        return ("" if left is None else str(left)).lower(), ("" if right is None else str(right)).lower()


def _as_int_bool(value: Any) -> Any:
    # NOTES s7: boolean UF filters take 1/0; "Y"/"N" match nothing.
    if value in (1, "1", True):
        return 1
    if value in (0, "0", False):
        return 0
    return object()


def _compare(op: str, actual: Any, wanted: Any) -> bool:
    if op in ("@", "!@") or isinstance(wanted, list):
        values = wanted if isinstance(wanted, list) else [wanted]
        hit = any(_compare("=", actual, v) for v in values)
        return not hit if op.startswith("!") else hit
    if isinstance(actual, list):
        hit = any(_compare("=", a, wanted) for a in actual)
        return not hit if op in ("!", "!=") else hit
    if op in ("%", "!%"):
        hit = str(wanted).lower().strip("%") in ("" if actual is None else str(actual)).lower()
        return not hit if op == "!%" else hit
    if actual is None or actual == "":
        if op in ("", "="):
            return wanted in ("", None)
        if op in ("!", "!="):
            return wanted not in ("", None)
        return False
    a, b = _coerce_pair(actual, wanted)
    if type(a) is not type(b):
        a, b = str(actual).lower(), str(wanted).lower()
    return {"": a == b, "=": a == b, "!": a != b, "!=": a != b, ">": a > b, ">=": a >= b,
            "<": a < b, "<=": a <= b}[op]


def matches(row: dict[str, Any], flt: dict[str, Any] | None, getter: Callable[[dict, str], Any] | None = None) -> bool:
    getter = getter or (lambda r, k: r.get(k))
    for key, wanted in (flt or {}).items():
        m = _OP.match(str(key))
        if not m:
            raise bad_argument(f"Invalid filter key {key}")
        op, name = m.group(1) or "", m.group(2)
        if not _compare(op, getter(row, name), wanted):
            return False
    return True


def _sort_key(value: Any) -> tuple:
    if value is None or value == "":
        return (0, "")
    try:
        return (1, Decimal(str(value)))
    except (InvalidOperation, ValueError):
        parsed = parse_date(str(value)) if _DATE_RE.match(str(value)) else None
        return (2, parsed.timestamp()) if parsed else (3, str(value).lower())


def order_rows(rows: list[dict], order: dict[str, str] | None, getter: Callable[[dict, str], Any] | None = None,
               default: str = "id") -> list[dict]:
    getter = getter or (lambda r, k: r.get(k))
    rows = sorted(rows, key=lambda r: _sort_key(getter(r, default)))
    for field, direction in reversed(list((order or {}).items())):
        rows.sort(key=lambda r: _sort_key(getter(r, field)), reverse=str(direction).upper() == "DESC")
    return rows


def page(rows: list[Any], start: Any) -> tuple[list[Any], dict[str, Any]]:
    """Slice one page and say what goes next to ``result``: ``next`` and ``total``, or nothing for start=-1."""
    try:
        offset = int(start or 0)
    except (TypeError, ValueError):
        offset = 0
    if offset == -1:  # NOTES s9: fast paging, no count and no next
        return rows[:PAGE_SIZE], {}
    offset = max(0, offset)
    chunk = rows[offset:offset + PAGE_SIZE]
    extra: dict[str, Any] = {"total": len(rows)}
    if offset + PAGE_SIZE < len(rows):
        extra["next"] = offset + PAGE_SIZE
    return chunk, extra


def as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def select_fields(row: dict[str, Any], select: Iterable[str] | None, always: Iterable[str] = ()) -> dict[str, Any]:
    wanted = [s for s in (select or []) if s]
    if not wanted or "*" in wanted:
        return dict(row)
    keep = set(wanted) | set(always)
    return {k: v for k, v in row.items() if k in keep}
