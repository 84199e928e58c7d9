"""Reply envelopes, the ``time`` block, dates and numbers as a portal writes them."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from flask import Response


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        # Bitrix24 writes money as JSON numbers (NOTES s6 product rows: price, taxRate...).
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return format_date(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def dumps(body: Any) -> str:
    return json.dumps(body, default=_default, ensure_ascii=False)


def json_response(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status=status, mimetype="application/json")


def loads(text: str | bytes) -> Any:
    return json.loads(text, parse_float=Decimal)


def portal_tz(offset_minutes: int) -> timezone:
    return timezone(timedelta(minutes=offset_minutes))


def format_date(moment: datetime) -> str:
    """ISO 8601 with the portal's offset, as crm.item returns: ``2024-08-13T11:01:57+03:00``."""
    return moment.replace(microsecond=0).isoformat()


def parse_date(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def time_block(start: float, finish: float, tz: timezone, operating: float | None = None,
               operating_reset_at: float | None = None) -> dict[str, Any]:
    """The ``time`` part of every reply (NOTES s9). operating* appear where the limiter runs."""
    block: dict[str, Any] = {
        "start": round(start, 6), "finish": round(finish, 6),
        "duration": round(finish - start, 6), "processing": round(finish - start, 6),
        "date_start": format_date(datetime.fromtimestamp(start, tz)),
        "date_finish": format_date(datetime.fromtimestamp(finish, tz)),
    }
    if operating is not None:
        block["operating_reset_at"] = int(operating_reset_at or finish)
        block["operating"] = round(operating, 6)
    return block
