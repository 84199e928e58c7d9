"""Whole numbers read from what arrives: form fields, query strings, headers, ids.

``int(text) if text.isdigit()`` is not the check it looks like: ``isdigit()`` accepts digits
``int()`` does not read ("²", "①"), and ``int()`` refuses more than 4,300 digits, so both
raised where a refusal was meant (the route fuzzing found 500s this way). And a number
beyond 64 bits is out of range for PostgreSQL's bigint: as an id, a page or an offset it
was a 500 there, though SQLite took it.
"""
from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter

MAX_ID = 2**63 - 1  # PostgreSQL bigint, SQLite INTEGER
MAX_PAGE = 10**9  # any page past this is empty; its offset must still fit a bigint


def whole_number(value: Any, maximum: int = MAX_ID) -> int | None:
    """``value`` as a whole number from 0 to ``maximum``, or None when it is not one."""
    text = str(value if value is not None else "")
    if not text or not text.isascii() or not text.isdigit() or len(text) > len(str(maximum)):
        return None
    number = int(text)
    return number if number <= maximum else None


def page_number(value: Any) -> int:
    """A list's page from the query string: 1 unless it is a page number."""
    return max(whole_number(value, MAX_PAGE) or 1, 1)


class DatabaseIdConverter(IntegerConverter):
    """``<int:...>`` in every route: at most what a database id can be, so a larger number
    is a 404 like any unknown id (and not PostgreSQL's "bigint out of range")."""

    def __init__(self, map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)
