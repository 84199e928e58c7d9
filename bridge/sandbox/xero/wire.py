"""How Xero writes things on the wire: /Date()/ values, the envelope, JSON numbers, errors.

Kept apart from the business rules so that a quirk of the format is fixed in one place.
"""
from __future__ import annotations

import json
import uuid
from datetime import date, datetime, time, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from xml.sax.saxutils import escape

from flask import Response, request

TWO = Decimal("0.01")
FOUR = Decimal("0.0001")


def money(value: Decimal) -> Decimal:
    """Round half away from zero to cents, as Xero does per line (NOTES section 3, Rounding)."""
    return value.quantize(TWO, rounding=ROUND_HALF_UP)


def to_datetime(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.combine(value, time(0), tzinfo=timezone.utc)


def ms(value: date | datetime) -> int:
    return int(round(to_datetime(value).timestamp() * 1000))


def ms_date(value: date | datetime) -> str:
    """``/Date(1539993600000+0000)/``, the format of every date in a response (NOTES section 9)."""
    return f"/Date({ms(value)}+0000)/"


def date_string(value: date | datetime) -> str:
    """The ``DateString`` companion: ISO without a zone, e.g. ``2018-10-20T00:00:00``."""
    return to_datetime(value).strftime("%Y-%m-%dT%H:%M:%S")


def utc_string(value: datetime) -> str:
    """The ``UpdatedDateUTCString`` companion: ISO with Z (NOTES section 9)."""
    return to_datetime(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def plain_iso(value: datetime) -> str:
    """Identity and webhook dates: ISO with fractions and no zone, meant as UTC (NOTES section 9)."""
    return to_datetime(value).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def render(value: Any) -> Any:
    """Turn an internal record (dates, datetimes, Decimals) into its JSON-ready form."""
    if isinstance(value, dict):
        return {k: render(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [render(v) for v in value]
    if isinstance(value, (date, datetime)):
        return ms_date(value)
    return value


def _default(value: Any) -> Any:
    # Money travels as JSON numbers (the spec types it as number, DESIGN principle 2); the
    # values are already rounded to 2 or 4 places, so the shortest float repr is exact.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 else float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(payload: Any) -> str:
    return json.dumps(payload, default=_default, ensure_ascii=False)


def envelope(provider: str, now: datetime, plural: str, items: list, pagination: dict | None = None) -> dict:
    """``{Id, Status, ProviderName, DateTimeUTC, pagination?, <Plural>}`` (NOTES section 2)."""
    body: dict[str, Any] = {
        "Id": str(uuid.uuid4()),
        "Status": "OK",
        "ProviderName": provider,
        "DateTimeUTC": f"/Date({ms(now)})/",
    }
    if pagination is not None:
        body["pagination"] = pagination
    body[plural] = items
    return body


def validation_exception(elements: list[dict]) -> dict:
    """The 400 shape of NOTES section 8, exactly."""
    return {"ErrorNumber": 10, "Type": "ValidationException",
            "Message": "A validation exception occurred", "Elements": elements}


def simple_validation(message: str) -> dict:
    return validation_exception([{"ValidationErrors": [{"Message": message}]}])


def query_parse_exception(message: str) -> dict:
    """ErrorNumber 16 for a ``where`` the parser refuses (NOTES section 2)."""
    return {"ErrorNumber": 16, "Type": "QueryParseException", "Message": message}


def high_volume_exception(message: str) -> dict:
    """An unoptimised filter on a large organisation (NOTES section 2;
    [I XeroAPI/Xero-NetStandard#604]: ErrorNumber 51)."""
    return {"ErrorNumber": 51, "Type": "HighVolumeException", "Message": message}


def problem(status: int, title: str, detail: str) -> dict:
    """The problem-details shape of the auth failures (NOTES sections 1 and 8)."""
    return {"Type": None, "Title": title, "Status": status, "Detail": detail,
            "Instance": str(uuid.uuid4()), "Extensions": {}}


# --- XML: what Xero answers when the client does not ask for JSON (NOTES section 2) -------

_SINGULAR = {"Addresses": "Address", "Currencies": "Currency", "ContactPersons": "ContactPerson",
             "Phones": "Phone", "Elements": "DataContractBase", "ValidationErrors": "ValidationError"}


def _singular(name: str) -> str:
    return _SINGULAR.get(name, name[:-1] if name.endswith("s") else name)


def _xml(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        inner = "".join(_xml(k, v) for k, v in value.items())
        return f"<{name}>{inner}</{name}>"
    if isinstance(value, list):
        inner = "".join(_xml(_singular(name), v) for v in value)
        return f"<{name}>{inner}</{name}>"
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str) and value.startswith("/Date("):
        text = value  # close enough: XML clients are not the product's concern
    else:
        text = str(value)
    return f"<{name}>{escape(text)}</{name}>"


def to_xml(payload: Any) -> str:
    if isinstance(payload, dict):
        root = "ApiException" if "ErrorNumber" in payload else "Response"
        body = "".join(_xml(k, v) for k, v in payload.items() if k != "pagination")
        return f'<{root} xmlns:i="http://www.w3.org/2001/XMLSchema-instance">{body}</{root}>'
    return _xml("Response", payload)


def wants_json() -> bool:
    accept = request.headers.get("Accept", "")
    return "json" in accept.lower()


def respond(payload: Any, status: int = 200, headers: dict | None = None, force_json: bool = False) -> Response:
    """Serialise ``payload`` as JSON, or as XML when the client did not ask for JSON."""
    rendered = render(payload)
    if force_json or wants_json():
        resp = Response(dumps(rendered), status=status, mimetype="application/json")
    else:
        resp = Response(to_xml(rendered), status=status, mimetype="text/xml")
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def not_found() -> Response:
    # Xero's 404 is a plain sentence, not JSON [M].
    return Response("The resource you're looking for cannot be found", status=404, mimetype="text/plain")
