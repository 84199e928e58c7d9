"""Everything a user reads is a message id plus parameters, rendered in the reader's language
when it is shown.

Why: a flow runs in a worker that does not know who will read its record (the English
administrator who installed the app, a German accountant next week), so text it stored in
English could only ever be shown in English. It stores *which* sentence and *with what*
instead, and the page renders it in the viewer's language at display time.

- ``N_("The tax rate %(tax)s is not mapped.", tax=code)`` makes a ``Message``. The id is the
  English sentence with ``%(name)s`` placeholders, as Babel catalogues use, and ``N_`` is one
  of Babel's default keywords, so ``make translations`` extracts it with no extra option.
- A ``Message`` IS its English text (a ``str``): ``str(exc)``, logs, comparisons and code
  that joins it into a longer text keep working, in English. Code that stores it keeps the id
  and parameters too (``to_json``; bridge/stored_messages.py for the database columns). In a
  page template, ``{{ message }}`` shows it in the page's language by itself (``__html__``).
- ``render(message, locale)`` translates the id, then fills in the parameters rendered in the
  same language: a parameter that is itself a ``Message`` is rendered, a ``Word`` (a flow,
  state or invoice status) becomes its word, ``Money``, ``Decimal`` and dates are formatted
  the locale's way.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Mapping

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from flask import has_app_context
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from markupsafe import escape

# The words a record's state, a flow and an invoice status are shown as (the pages'
# ``state_word``, ``flow_word`` and ``status_word``; a ``Word`` parameter). Unknown values
# are shown as they are, "_" as spaces.
STATE_WORDS = {
    "running": _l("running"), "succeeded": _l("succeeded"), "retrying": _l("retrying"), "failed": _l("failed"),
    "conflict": _l("conflict"), "amounts_differ": _l("amounts differ"), "skipped": _l("skipped"),
    "active": _l("active"), "uninstalled": _l("uninstalled"),
    "ok": _l("ok"), "error": _l("error"), "needs_reconnect": _l("needs reconnect"), "paused": _l("paused"),
}
# The invoice statuses a platform stage can mean (``InvoiceStatus``, the settings' stage mapping).
STATUS_WORDS = {
    "draft": _l("draft"), "submitted": _l("submitted"), "authorised": _l("authorised"),
    "partially_paid": _l("partially paid"), "paid": _l("paid"), "voided": _l("voided"), "deleted": _l("deleted"),
}
# The flows a sync record names (the sync log, the operator console).
FLOW_WORDS = {
    "invoice_to_ledger": _l("invoice to ledger"), "invoice_backfill": _l("invoice backfill"),
    "invoice_cancel": _l("invoice cancel"), "invoice_refund": _l("invoice refund"),
    "invoice_sent_sweep": _l("invoice sent sweep"),
    "ledger_invoice_changed": _l("ledger invoice changed"), "ledger_party_changed": _l("ledger party changed"),
    "party_to_ledger": _l("party to ledger"), "party_import": _l("party import"),
    "product_to_ledger": _l("product to ledger"), "status_from_ledger": _l("status from ledger"),
    "stock_from_ledger": _l("stock from ledger"), "confirm_uninstall": _l("confirm uninstall"),
    "xero_transactions_refresh": _l("xero transactions refresh"),
    "reconciliation_report": _l("reconciliation report"),
    "bitrix24_poll": _l("Bitrix24 poll"),
}
# What a sync record is about (its ``object_kind``: "invoice 12" in the sync log reads
# "Rechnung 12" in German).
OBJECT_WORDS = {
    "invoice": _l("invoice"), "order": _l("order"), "party": _l("contact"), "product": _l("product"),
    "connection": _l("connection"), "import": _l("import"), "backfill": _l("backfill"),
    "installation": _l("installation"), "portal": _l("portal"), "report": _l("report"), "stock": _l("stock"),
    "status": _l("status"), "sent": _l("sent status"), "ledger_invoice": _l("ledger invoice"),
}
# Records about no single object (an import, a report, a daily pass) have a fixed object id
# ("import:parties"): the sync log names them in words, not "import parties".
SUBJECT_WORDS = {
    "import:parties": _l("contact import"), "backfill:invoices": _l("backfill of existing invoices"),
    "report:invoices": _l("reconciliation report"), "products:all": _l("all products"),
    "stock:all": _l("stock of all products"), "status:all": _l("status of all orders"),
    "sent:all": _l("sent status of all invoices"),
}
WORDS: dict[str, dict[str, Any]] = {"state": STATE_WORDS, "status": STATUS_WORDS, "flow": FLOW_WORDS,
                                    "object": OBJECT_WORDS}


def word(kind: str, value: str | None) -> str:
    """``value``'s word in the current language; a value without one as it is, "_" as spaces."""
    value = value or ""
    found = WORDS[kind].get(value)
    return str(found) if found is not None else value.replace("_", " ")


def subject(object_kind: str | None, object_id: str | None) -> str:
    """What a sync record is about, in the current language: "Rechnung 12", "Kontaktimport"."""
    fixed = SUBJECT_WORDS.get(f"{object_kind}:{object_id}")
    if fixed is not None:
        return str(fixed)
    return f"{word('object', object_kind)} {object_id or ''}".strip()


@dataclass(frozen=True)
class Word:
    """A parameter that is a flow, a state or an invoice status: shown as its word."""

    kind: str  # state | status | flow | object
    value: str


@dataclass(frozen=True)
class Money:
    """An amount in a currency, formatted the locale's way ("CHF 1,250.00", "1.250,00 CHF")."""

    amount: Decimal
    currency: str


class Message(str):
    """A sentence for a user: ``id`` (the English msgid) and ``params``; its ``str`` value is
    the English text."""

    id: str
    params: dict[str, Any]

    def __new__(cls, id: str, params: Mapping[str, Any] | None = None) -> "Message":
        params = dict(params or {})
        self = super().__new__(cls, _fill(id, params, "en"))
        self.id, self.params = id, params
        return self

    def __reduce__(self):  # pickled with its id (Huey hands messages to tasks)
        return (Message, (self.id, self.params))

    def __repr__(self) -> str:
        return f"Message({self.id!r}, {self.params!r})"

    def __html__(self) -> str:
        """In a page (Jinja's autoescape asks for this): the page's language, escaped. So a
        ``Message`` handed to a template, e.g. an exception's ``message``, needs no filter."""
        return str(escape(render(self)))

    def with_params(self, **params: Any) -> "Message":
        """The same sentence with (more) parameters: a table's template filled in."""
        return Message(self.id, {**self.params, **params})


def N_(id: str, **params: Any) -> Message:
    """Mark ``id`` for translation and make the message (Babel extracts ``N_`` by default)."""
    return Message(id, params)


def joined(parts: list[str], separator: str = " ") -> Message:
    """Sentences shown one after another (a digest), each in the reader's language."""
    return Message(separator.join(f"%(part{n})s" for n in range(len(parts))),
                   {f"part{n}": part for n, part in enumerate(parts)})


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------


def render(message: str | None, locale: str | None = None) -> str:
    """``message`` in ``locale`` (default: the current page's language); plain text, as it is."""
    if not isinstance(message, Message):
        return message or ""
    if locale is None or not has_app_context():
        return _fill(message.id, message.params, locale)
    with force_locale(locale):
        return _fill(message.id, message.params, locale)


def _fill(id: str, params: dict[str, Any], locale: str | None) -> str:
    text = _translate(id, locale)
    if not params:
        return text
    values = {name: _param(value, locale) for name, value in params.items()}
    try:
        return text % values
    except (KeyError, ValueError, TypeError):  # a translation that lost a placeholder: English
        try:
            return id % values
        except (KeyError, ValueError, TypeError):
            return id


def _translate(id: str, locale: str | None) -> str:
    if not id or locale == "en" or not has_app_context():
        return id  # (gettext("") would be the catalogue's header)
    return gettext(id)  # the current (or forced) locale's catalogue; the id when it has none


def _param(value: Any, locale: str | None) -> Any:
    loc = locale or _current_locale()
    if isinstance(value, Message):
        return _fill(value.id, value.params, locale)
    if isinstance(value, Word):
        return word(value.kind, value.value) if has_app_context() and locale != "en" else value.value.replace("_", " ")
    if isinstance(value, Money):
        return format_currency(value.amount, value.currency, locale=loc)
    if isinstance(value, Decimal):  # with the digits it has: 8.10 -> "8.10", "8,10"
        digits = max(0, -int(value.as_tuple().exponent))
        return format_decimal(value, format="#,##0" + ("." + "0" * digits if digits else ""), locale=loc)
    if isinstance(value, datetime):
        return f"{format_datetime(value.astimezone(timezone.utc), 'short', tzinfo=timezone.utc, locale=loc)} UTC"
    if isinstance(value, date):
        return format_date(value, "medium", locale=loc)
    if isinstance(value, (list, tuple)):
        return "; ".join(str(_param(item, locale)) for item in value)
    return value


def _current_locale() -> str:
    if has_app_context():
        from flask_babel import get_locale

        return str(get_locale() or "en")
    return "en"


# --------------------------------------------------------------------------------------
# Storing: JSON that survives a database column or a queue
# --------------------------------------------------------------------------------------


def to_json(message: Message) -> dict[str, Any]:
    return {"id": message.id, "params": {name: _encode(value) for name, value in message.params.items()}}


def from_json(data: Mapping[str, Any]) -> Message:
    return Message(data["id"], {name: _decode(value) for name, value in (data.get("params") or {}).items()})


def _encode(value: Any) -> Any:
    if isinstance(value, Message):
        return {"$message": to_json(value)}
    if isinstance(value, Word):
        return {"$word": value.kind, "value": value.value}
    if isinstance(value, Money):
        return {"$money": str(value.amount), "currency": value.currency}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, (list, tuple)):
        return [_encode(item) for item in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "$message" in value:
        return from_json(value["$message"])
    if "$word" in value:
        return Word(value["$word"], value["value"])
    if "$money" in value:
        return Money(Decimal(value["$money"]), value["currency"])
    if "$decimal" in value:
        return Decimal(value["$decimal"])
    if "$datetime" in value:
        return datetime.fromisoformat(value["$datetime"])
    if "$date" in value:
        return date.fromisoformat(value["$date"])
    return value
