"""Cursor pagination: ``?cursor=&limit=``, answers ``{"data": [...], "next_cursor": ...}``.

The cursor is opaque to clients; it carries the sort key of the last item returned, so
a page boundary stays right when records change between calls (a record updated in the
meantime moves to the end and is seen again, never skipped).
"""
from __future__ import annotations

import base64
import json
from typing import Any, Callable, Sequence, TypeVar

from .problems import Problem

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 100


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise Problem(400, "invalid-parameter", "Invalid parameter",
                      f"limit must be a whole number from 1 to {MAX_LIMIT}", parameter="limit")
    return int(raw)


def encode(key: tuple[float, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def decode(cursor: str) -> tuple[float, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        updated_at, record_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return float(updated_at), int(record_id)
    except (ValueError, TypeError) as exc:
        raise Problem(400, "invalid-cursor", "Invalid cursor",
                      "cursor is not one this API returned", parameter="cursor") from exc


def page(records: Sequence[T], key: Callable[[T], tuple[float, int]], cursor: str | None,
         limit: int, render: Callable[[T], Any]) -> dict[str, Any]:
    """One page of ``records`` ordered by ``key`` (updated_at, id), after ``cursor``."""
    ordered = sorted(records, key=key)
    if cursor:
        after = decode(cursor)
        ordered = [r for r in ordered if key(r) > after]
    chunk = ordered[:limit]
    more = len(ordered) > limit
    return {"data": [render(r) for r in chunk],
            "next_cursor": encode(key(chunk[-1])) if more else None}
