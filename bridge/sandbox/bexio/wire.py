"""What every Bexio response and request body looks like on the wire.

Money and quantities travel as decimal strings with six decimals (NOTES §2 "Formats"),
2.0 timestamps are local Zurich time without zone, 3.0 ones are ISO 8601 with an offset,
and every error is ``{"error_code": <status>, "message": ...}`` (NOTES §2 "Error body").
"""
from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, request

ZURICH = ZoneInfo("Europe/Zurich")
SIX = Decimal("0.000001")
MAX_DECIMALS = 6  # NOTES §2 "Formats": at most 6 decimals


class ApiError(Exception):
    """Raised anywhere in a handler; rendered as the Bexio error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def reply(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(payload), status=status, headers=headers or {},
                    mimetype="application/json")


def error(status: int, message: str) -> Response:
    return reply({"error_code": status, "message": message}, status)


def money(value: Decimal | None) -> str | None:
    """``Decimal('19.15')`` -> ``'19.150000'`` as Bexio writes amounts."""
    return None if value is None else str(Decimal(value).quantize(SIX))


def parse_decimal(value: Any, field: str) -> Decimal:
    """Accept a decimal string or JSON number; refuse more than six decimals."""
    if isinstance(value, bool) or value is None:
        raise ApiError(422, f"The form could not be saved due to the following errors: {field} is invalid.")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ApiError(422, f"The form could not be saved due to the following errors: {field} is not a number.")
    if not number.is_finite():
        raise ApiError(422, f"The form could not be saved due to the following errors: {field} is not a number.")
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_DECIMALS:
        raise ApiError(422, f"The form could not be saved due to the following errors: "
                            f"{field} has more than {MAX_DECIMALS} decimals.")
    return number


def json_body() -> Any:
    """The request body parsed with Decimal floats; 400 when it is not JSON."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None
    try:
        return json.loads(raw, parse_float=Decimal)
    except ValueError:
        raise ApiError(400, "Invalid JSON")


def stamp_v2(epoch: float) -> str:
    """2.0 timestamp: ``2019-04-08 13:17:32``, Zurich wall time (NOTES §2 "Formats")."""
    return datetime.fromtimestamp(epoch, ZURICH).strftime("%Y-%m-%d %H:%M:%S")


def stamp_v3(epoch: float) -> str:
    """3.0 timestamp: ISO 8601 with offset (NOTES §2 "Formats")."""
    return datetime.fromtimestamp(epoch, ZURICH).isoformat(timespec="seconds")


def today(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, ZURICH).strftime("%Y-%m-%d")


# Paging (NOTES §2 "Pagination"): limit defaults to 500, at most 2000; offset from 0.
DEFAULT_LIMIT = 500
MAX_LIMIT = 2000


def paging() -> tuple[int, int]:
    """``limit``/``offset`` from the query string.

    A limit above 2000 is refused with 400 rather than silently capped [M: the docs give
    the maximum but not what happens past it]; refusing keeps a client that asks for more
    from mistaking a capped page for the last one.
    """
    try:
        limit = int(request.args.get("limit", DEFAULT_LIMIT))
        offset = int(request.args.get("offset", 0))
    except ValueError:
        raise ApiError(400, "Invalid parameters: limit and offset must be integers")
    if limit < 1 or limit > MAX_LIMIT or offset < 0:
        raise ApiError(400, f"Invalid parameters: limit must be between 1 and {MAX_LIMIT}, offset >= 0")
    return limit, offset


def order(rows: list[dict], allowed: set[str], default: str = "id") -> list[dict]:
    """Apply ``order_by=<field>[_asc|_desc],...`` (NOTES §2 "Pagination")."""
    spec = request.args.get("order_by", default)
    keys: list[tuple[str, bool]] = []
    for part in [p.strip() for p in spec.split(",") if p.strip()]:
        desc = part.endswith("_desc")
        name = part[:-5] if desc else part[:-4] if part.endswith("_asc") else part
        if name not in allowed:
            raise ApiError(400, f"Invalid parameters: order_by {part} is not supported")
        keys.append((name, desc))
    out = list(rows)
    for name, desc in reversed(keys):
        out.sort(key=lambda r: _sort_key(r.get(name)), reverse=desc)
    return out


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float, Decimal)):
        return (1, Decimal(str(value)))
    try:
        return (1, Decimal(str(value)))
    except InvalidOperation:
        return (2, str(value))


def page(rows: list[dict]) -> list[dict]:
    limit, offset = paging()
    return rows[offset:offset + limit]


def page_v3(rows: list[Any]) -> Response:
    """3.0 lists carry X-Limit, X-Offset and X-Total-Count (NOTES §2 "Pagination")."""
    limit, offset = paging()
    return reply(rows[offset:offset + limit], headers={
        "X-Limit": str(limit), "X-Offset": str(offset), "X-Total-Count": str(len(rows))})
