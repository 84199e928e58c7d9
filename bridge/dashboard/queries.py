"""What the dashboard shows, computed in SQL on the local copy: one filtered query gives the
page of rows, the count, the totals per currency and the per-day sums the chart buckets.

Filters come from the page's form and are validated here, so a bad date is a message on
the form, never a 500.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Mapping

from babel.dates import format_skeleton
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, case, func, select

from ..extensions import db
from .models import LedgerTransaction, from_e4

PAGE_SIZE = 50
# Labels are lazy: they are read in the viewer's language when a page renders them.
KINDS = {"": _l("Bank transactions and payments"), "bank_transaction": _l("Bank transactions"),
         "payment": _l("Payments")}
STATUSES = ("AUTHORISED", "DELETED", "VOIDED")
STATUS_LABELS = {"AUTHORISED": _l("Authorised"), "DELETED": _l("Deleted"), "VOIDED": _l("Voided")}
TYPE_LABELS = {  # Xero's BankTransaction Type and Payment PaymentType, in words
    "RECEIVE": _l("Money received"), "SPEND": _l("Money spent"), "RECEIVE-TRANSFER": _l("Transfer in"),
    "SPEND-TRANSFER": _l("Transfer out"), "RECEIVE-OVERPAYMENT": _l("Overpayment received"),
    "SPEND-OVERPAYMENT": _l("Overpayment paid"), "RECEIVE-PREPAYMENT": _l("Prepayment received"),
    "SPEND-PREPAYMENT": _l("Prepayment paid"), "ACCRECPAYMENT": _l("Customer payment"),
    "ACCPAYPAYMENT": _l("Supplier payment"), "ARCREDITPAYMENT": _l("Customer refund"),
    "APCREDITPAYMENT": _l("Supplier refund"), "AROVERPAYMENTPAYMENT": _l("Overpayment refunded"),
    "APOVERPAYMENTPAYMENT": _l("Overpayment refund received"), "ARPREPAYMENTPAYMENT": _l("Prepayment refunded"),
    "APPREPAYMENTPAYMENT": _l("Prepayment refund received"),
}


def status_label(value: str) -> str:
    return str(STATUS_LABELS.get(value, value.capitalize()))


def type_label(value: str) -> str:
    return str(TYPE_LABELS.get(value, value.replace("-", " ").capitalize()))


@dataclass
class Filters:
    date_from: date | None = None
    date_to: date | None = None
    account: str = ""  # bank account code
    contact: str = ""  # part of the contact's name
    status: str = ""
    kind: str = ""
    page: int = 1
    errors: dict[str, str] = field(default_factory=dict)

    def as_form(self) -> dict[str, str]:
        return {"date_from": self.date_from.isoformat() if self.date_from else "",
                "date_to": self.date_to.isoformat() if self.date_to else "", "account": self.account,
                "contact": self.contact, "status": self.status, "kind": self.kind}


def _date(form: Mapping[str, str], name: str, errors: dict[str, str]) -> date | None:
    value = (form.get(name) or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = str(_l("Enter a date as YYYY-MM-DD."))
        return None


def parse_filters(form: Mapping[str, str]) -> Filters:
    errors: dict[str, str] = {}
    filters = Filters(date_from=_date(form, "date_from", errors), date_to=_date(form, "date_to", errors),
                      account=(form.get("account") or "").strip()[:20], contact=(form.get("contact") or "").strip()[:100],
                      status=(form.get("status") or "").strip().upper(), kind=(form.get("kind") or "").strip(),
                      errors=errors)
    if filters.status and filters.status not in STATUSES:
        errors["status"] = str(_l("Choose a status from the list."))
        filters.status = ""
    if filters.kind not in KINDS:
        errors["kind"] = str(_l("Choose what to show from the list."))
        filters.kind = ""
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        errors["date_to"] = str(_l("The end date is before the start date."))
        filters.date_to = None
    try:
        filters.page = max(int(form.get("page") or 1), 1)
    except ValueError:
        filters.page = 1
    return filters


def _filtered(query: Select, connection_id: int, f: Filters) -> Select:
    t = LedgerTransaction
    query = query.where(t.connection_id == connection_id)
    if f.date_from:
        query = query.where(t.date >= f.date_from)
    if f.date_to:
        query = query.where(t.date <= f.date_to)
    if f.account:
        query = query.where(t.account_code == f.account)
    if f.contact:
        escaped = f.contact.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(func.lower(t.contact_name).like(f"%{escaped}%", escape="\\"))
    if f.status:
        query = query.where(t.status == f.status)
    if f.kind:
        query = query.where(t.kind == f.kind)
    return query


@dataclass
class Totals:
    currency: str
    money_in: Decimal
    money_out: Decimal
    count: int

    @property
    def net(self) -> Decimal:
        return self.money_in - self.money_out


@dataclass
class Result:
    rows: list[LedgerTransaction]
    count: int
    page: int
    pages: int
    totals: list[Totals]
    daily: dict[date, tuple[Decimal, Decimal]]  # in, out per day, in the chart's currency
    chart_currency: str


def run(connection_id: int, f: Filters, page_size: int = PAGE_SIZE) -> Result:
    t = LedgerTransaction
    signed_in = func.sum(case((t.direction == "in", t.amount_e4), else_=0))
    signed_out = func.sum(case((t.direction == "out", t.amount_e4), else_=0))
    totals = [Totals(currency or "", from_e4(money_in), from_e4(money_out), count)
              for currency, money_in, money_out, count in db.session.execute(_filtered(
                  select(t.currency, signed_in, signed_out, func.count()), connection_id, f)
                  .group_by(t.currency).order_by(func.count().desc(), t.currency))]
    count = sum(x.count for x in totals)
    pages = max((count + page_size - 1) // page_size, 1)
    page = min(f.page, pages)
    rows = list(db.session.scalars(_filtered(select(t), connection_id, f)
                                   .order_by(t.date.desc(), t.id.desc())
                                   .limit(page_size).offset((page - 1) * page_size)))
    chart_currency = totals[0].currency if totals else ""
    daily: dict[date, tuple[Decimal, Decimal]] = {}
    if totals:
        for day, money_in, money_out in db.session.execute(_filtered(
                select(t.date, signed_in, signed_out), connection_id, f)
                .where(t.currency == chart_currency).group_by(t.date)):
            daily[day] = (from_e4(money_in), from_e4(money_out))
    return Result(rows, count, page, pages, totals, daily, chart_currency)


def bank_accounts(connection_id: int) -> list[tuple[str, str]]:
    """(code, name) of the accounts seen in the copy, for the filter's list."""
    t = LedgerTransaction
    found: dict[str, str] = {}
    for code, name in db.session.execute(select(t.account_code, func.max(t.account_name))
                                         .where(t.connection_id == connection_id, t.account_code != "")
                                         .group_by(t.account_code).order_by(t.account_code)):
        found[code] = name or ""
    return sorted(found.items())


def periods(daily: dict[date, tuple[Decimal, Decimal]], start: date | None, end: date | None,
            locale: str = "en") -> list[dict[str, Any]]:
    """Bucket the per-day sums: days for up to 31 days, weeks up to 26 weeks, else months.
    Labels are in ``locale``: "Nov 22" / "22. Nov." for days and weeks, "Nov 2026" / "Nov. 2026" for months."""
    if not daily and not (start and end):
        return []
    first = start or min(daily)
    last = end or max(daily)
    span = (last - first).days + 1
    if span <= 31:
        key = lambda d: d  # noqa: E731
    elif span <= 26 * 7:
        key = lambda d: d - timedelta(days=d.weekday())  # noqa: E731  (weeks start on Monday)
    else:
        key = lambda d: d.replace(day=1)  # noqa: E731
    skeleton = "yMMM" if span > 26 * 7 else "MMMd"

    def label(d: date) -> str:
        return format_skeleton(skeleton, d, locale=locale)
    buckets: dict[date, list[Decimal]] = defaultdict(lambda: [Decimal("0"), Decimal("0")])
    cursor_day = key(first)
    while cursor_day <= last:  # every period, also the empty ones
        buckets[cursor_day]
        cursor_day = key(cursor_day + timedelta(days=32 if span > 26 * 7 else 7 if span > 31 else 1))
    for day, (money_in, money_out) in daily.items():
        bucket = buckets[key(day)]
        bucket[0] += money_in
        bucket[1] += money_out
    return [{"start": k, "label": label(k), "in": v[0], "out": v[1]} for k, v in sorted(buckets.items())]

