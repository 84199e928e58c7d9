"""The read side of list endpoints: ``where``, ``order``, If-Modified-Since and paging.

``where`` is a useful subset of Xero's C#-like syntax (NOTES section 2): comparisons
(``==``, ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``), ``AND``/``OR``/``NOT``, parentheses,
dotted paths (``Contact.ContactID``), ``Guid("…")``, ``DateTime(y,m,d[,h,m,s])``, strings,
numbers, booleans, and ``.Contains("…")``/``.StartsWith("…")``/``.EndsWith("…")``.
String comparisons ignore case. Anything else is a QueryParseException (ErrorNumber 16),
as is a bare GUID.
"""
from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, Callable

from .wire import to_datetime


class QueryError(ValueError):
    pass


class HighVolume(Exception):
    """A ``where`` Xero does not run on an organisation this large (NOTES section 2)."""

    def __init__(self, plural: str) -> None:
        super().__init__(
            f"Your request is not filtering {plural} efficiently, given the extremely high volume for this "
            f"organisation. Please check https://developer.xero.com/documentation/api/efficient-data-retrieval "
            f"for tips on making {plural[:-1]} retrieval more efficient.")


# Xero refuses unoptimised filters on organisations above a size ("extremely high volume";
# 100,000 payments in [I XeroAPI/xero-php-oauth2-app#30]). Per endpoint, the ``where``
# fields it runs there: the documented examples of efficient retrieval, taken strictly
# [M] - Reference, Url, names and .Contains() are not among them; the list parameters
# (IDs, InvoiceNumbers, ContactIDs, Statuses, createdByMyApp) and If-Modified-Since always are.
HIGH_VOLUME_THRESHOLD = 100_000
OPTIMISED = {
    "Invoices": {"type", "status", "contact.contactid", "contact.contactnumber", "date", "duedate"},
}


_TOKEN = re.compile(r"""
    \s*(?:
      (?P<str>"(?:[^"\\]|\\.)*")
    | (?P<op>==|!=|>=|<=|=|>|<|\(|\)|,|\.|&&|\|\|)
    | (?P<num>-?\d+(?:\.\d+)?(?![\w-]))
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    )""", re.VERBOSE)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise QueryError(f"Unexpected character at position {pos} in where clause")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


Pred = Callable[[dict], bool]


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.fields: list[str] = []  # each compared field, dotted; ".Contains" etc. appended

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (value is not None and tok[1].upper() != value.upper()) or (kind and tok[0] != kind):
            raise QueryError(f"Unexpected token in where clause near {tok[1] if tok else 'end'!r}")
        self.i += 1
        return tok[1]

    def parse(self) -> Pred:
        pred = self.expr()
        if self.peek() is not None:
            raise QueryError(f"Unexpected token {self.peek()[1]!r} in where clause")
        return pred

    def expr(self) -> Pred:
        left = self.term()
        while self.peek() and self.peek()[1].upper() in ("OR", "||"):
            self.i += 1
            right, prev = self.term(), left
            left = lambda r, a=prev, b=right: a(r) or b(r)
        return left

    def term(self) -> Pred:
        left = self.factor()
        while self.peek() and self.peek()[1].upper() in ("AND", "&&"):
            self.i += 1
            right, prev = self.factor(), left
            left = lambda r, a=prev, b=right: a(r) and b(r)
        return left

    def factor(self) -> Pred:
        tok = self.peek()
        if tok and tok[1] == "(":
            self.i += 1
            inner = self.expr()
            self.take(")")
            return inner
        if tok and tok[1].upper() == "NOT":
            self.i += 1
            inner = self.factor()
            return lambda r: not inner(r)
        return self.comparison()

    def comparison(self) -> Pred:
        path = [self.take(kind="ident")]
        while self.peek() and self.peek()[1] == ".":
            self.i += 1
            name = self.take(kind="ident")
            if name in ("Contains", "StartsWith", "EndsWith") and self.peek() and self.peek()[1] == "(":
                self.fields.append(".".join(path + [name]))
                self.i += 1
                arg = self.literal()
                self.take(")")
                return _method(path, name, arg)
            if name == "ToLower" or name == "ToUpper":
                self.take("(")
                self.take(")")
                continue
            path.append(name)
        tok = self.peek()
        if tok is None or tok[0] != "op" or tok[1] not in ("==", "=", "!=", ">=", "<=", ">", "<"):
            if tok is None or tok[1].upper() in ("AND", "OR", "&&", "||", ")"):
                return lambda r: _get(r, path) is True  # a bare boolean field
            raise QueryError(f"Expected an operator after {'.'.join(path)}")
        self.i += 1
        value = self.literal()
        self.fields.append(".".join(path))
        return _compare(path, tok[1], value)

    def literal(self) -> Any:
        kind, text = self.peek() or ("", "")
        if kind == "str":
            self.i += 1
            return bytes(text[1:-1], "utf-8").decode("unicode_escape")
        if kind == "num":
            self.i += 1
            return Decimal(text)
        if kind == "ident":
            word = text.lower()
            if word in ("true", "false"):
                self.i += 1
                return word == "true"
            if word == "null":
                self.i += 1
                return None
            if word == "guid":
                self.i += 1
                self.take("(")
                raw = self.take(kind="str")[1:-1]
                self.take(")")
                try:
                    return uuid.UUID(raw)
                except ValueError as exc:
                    raise QueryError(f"Invalid Guid {raw!r}") from exc
            if word == "datetime":
                self.i += 1
                self.take("(")
                parts = [int(self.take(kind="num"))]
                while self.peek() and self.peek()[1] == ",":
                    self.i += 1
                    parts.append(int(self.take(kind="num")))
                self.take(")")
                try:
                    return datetime(*parts, tzinfo=timezone.utc)
                except (TypeError, ValueError) as exc:
                    raise QueryError("Invalid DateTime in where clause") from exc
        raise QueryError(f"Expected a value in where clause near {text!r}")


def _get(record: Any, path: list[str]) -> Any:
    for name in path:
        if not isinstance(record, dict):
            return None
        match = next((k for k in record if k.lower() == name.lower()), None)
        record = record.get(match) if match else None
    return record


def _norm(value: Any, like: Any) -> Any:
    """Bring a record value and a literal to comparable types."""
    if isinstance(like, uuid.UUID):
        return str(value).lower() if value is not None else None, str(like)
    if isinstance(like, datetime):
        if isinstance(value, (date, datetime)):
            return to_datetime(value), like
        return None, like
    if isinstance(like, Decimal):
        try:
            return (Decimal(str(value)) if value is not None else None), like
        except ArithmeticError:
            return None, like
    if isinstance(like, str):
        return (str(value).lower() if value is not None else None), like.lower()
    return value, like


def _compare(path: list[str], op: str, literal: Any) -> Pred:
    def pred(record: dict) -> bool:
        value, lit = _norm(_get(record, path), literal)
        if op in ("==", "="):
            return value == lit
        if op == "!=":
            return value != lit
        if value is None or lit is None:
            return False
        try:
            return {">": value > lit, ">=": value >= lit, "<": value < lit, "<=": value <= lit}[op]
        except TypeError:
            return False
    return pred


def _method(path: list[str], name: str, arg: Any) -> Pred:
    needle = str(arg).lower()

    def pred(record: dict) -> bool:
        value = _get(record, path)
        if value is None:
            return False
        text = str(value).lower()
        return {"Contains": needle in text, "StartsWith": text.startswith(needle),
                "EndsWith": text.endswith(needle)}[name]
    return pred


def parse_where(text: str) -> Pred:
    return _Parser(text).parse()


def check_volume(plural: str, text: str | None, size: int, threshold: int | None) -> None:
    """Refuse an unoptimised ``where`` on an organisation with more than ``threshold``
    records of this kind, as Xero does (HighVolumeException)."""
    allowed = OPTIMISED.get(plural)
    if not text or allowed is None or size <= (HIGH_VOLUME_THRESHOLD if threshold is None else threshold):
        return
    parser = _Parser(text)
    parser.parse()
    if any(field.lower() not in allowed for field in parser.fields):
        raise HighVolume(plural)


def parse_order(text: str) -> tuple[list[str], bool]:
    parts = text.split()
    if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1].upper() not in ("ASC", "DESC")):
        raise QueryError("Invalid order clause")
    return parts[0].split("."), len(parts) == 2 and parts[1].upper() == "DESC"


def apply_order(records: list[dict], text: str | None) -> list[dict]:
    if not text:
        return records
    path, desc = parse_order(text)

    def key(r: dict) -> tuple:
        v = _get(r, path)
        if isinstance(v, (date, datetime)):
            v = to_datetime(v).timestamp()
        elif isinstance(v, str):
            v = v.lower()
        return (v is None, v if v is not None else 0)
    try:
        return sorted(records, key=key, reverse=desc)
    except TypeError as exc:
        raise QueryError("Invalid order clause") from exc


def parse_if_modified_since(value: str | None) -> datetime | None:
    """RFC 1123 (what HTTP clients send) or ISO 8601 (what the SDK sends); UTC if no zone."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def modified_since(records: list[dict], since: datetime | None) -> list[dict]:
    """Records changed at or after ``since``, to the second (NOTES section 2)."""
    if since is None:
        return records
    floor = since.replace(microsecond=0)
    return [r for r in records if r["UpdatedDateUTC"].replace(microsecond=0) >= floor]


def page_of(records: list[dict], page: str | None, page_size: str | None) -> tuple[list[dict], dict | None]:
    """1-based ``page`` with ``pageSize`` (default 100, at most 1000; NOTES section 2)."""
    if page is None:
        return records, None
    try:
        number = max(int(page), 1)
        size = min(max(int(page_size or 100), 1), 1000)
    except ValueError as exc:
        raise QueryError("page and pageSize must be numbers") from exc
    count = len(records)
    pages = (count + size - 1) // size
    chunk = records[(number - 1) * size: number * size]
    return chunk, {"page": number, "pageSize": size, "pageCount": pages, "itemCount": count}
