"""The reconciliation report page's content, shared by the Bitrix24 app and the DG1 admin:
the current run (its numbers, polled while it goes), the differences of a period with their
fix actions, and the CSV. Each platform's page module (``web/bitrix24/report.py``,
``web/dg1/report.py``) proves who is asking and names its URLs (``ReportUrls``); the
template, ``templates/_report.html``, is the same for both.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable

from flask_babel import gettext as _
from jinja2_fragments.flask import render_block
from sqlalchemy import extract, select

from ..errors import SyncError
from ..extensions import db
from ..messages import N_, from_json, render
from ..models import Installation
from ..ports import ledger_class
from ..report_models import ReportRow
from ..sync.report_actions import act
from ..sync.report_payments import base_id
from ..sync.report_run import ACTIVE, current_run, open_count

TEMPLATE = "_report.html"
STATES = ("open", "ignored", "fixed")
LIMIT = 500  # rows shown on the page; the CSV has them all
FINISHED_EVENT = "report-finished"  # HX-Trigger: the run ended, the rows reload
CSV_COLUMNS = ("kind", "state", "platform_id", "ledger_id", "ledger_number", "issued", "difference", "actions",
               "first_seen_at", "last_seen_at")


@dataclass
class ReportUrls:
    """Where the page's forms and polls go, built by the platform's page module."""

    start: str
    progress: str
    rows: str
    csv: Callable[[dict[str, str]], str]
    act: Callable[[int], str]
    hidden: dict[str, str]  # the fields every form carries (a token, a CSRF value)


@dataclass
class Filters:
    period: str = ""  # "YYYY-MM", the invoice's month; "": every period
    state: str = "open"

    @classmethod
    def from_args(cls, args) -> "Filters":
        period = args.get("period") or ""
        if len(period) != 7 or not period[:4].isdigit() or period[4] != "-" or not period[5:].isdigit():
            period = ""
        state = args.get("state") if args.get("state") in STATES else "open"
        return cls(period, state)

    def args(self) -> dict[str, str]:
        return {k: v for k, v in (("period", self.period), ("state", self.state)) if v}

    def query(self, installation_id: int):
        query = select(ReportRow).where(ReportRow.installation_id == installation_id, ReportRow.state == self.state)
        if self.period:
            query = query.where(extract("year", ReportRow.issued) == int(self.period[:4]),
                                extract("month", ReportRow.issued) == int(self.period[5:]))
        return query.order_by(ReportRow.issued.desc(), ReportRow.id)


def _periods(installation_id: int) -> list[str]:
    days = db.session.scalars(select(ReportRow.issued).where(
        ReportRow.installation_id == installation_id, ReportRow.issued.is_not(None)).distinct()).all()
    return sorted({d.strftime("%Y-%m") for d in days if isinstance(d, date)}, reverse=True)


def words() -> dict[str, dict[str, str]]:
    """The kinds and actions as the page names them, in its language."""
    return {"kinds": {"missing_in_ledger": _("No twin in the ledger"), "missing_on_platform": _("No twin here"),
                      "gone_in_ledger": _("Gone from the ledger"), "gone_on_platform": _("Gone here"),
                      "amounts": _("Amounts differ"), "payments": _("Payments differ"),
                      "payment_not_shown": _("A payment not shown here"),
                      "payment_not_in_ledger": _("A payment not in the ledger")},
            "actions": {"sync_again": _("Sync again"), "accept_ledger": _("Accept the ledger's version"),
                        "link_other": _("Link to this one"), "note_payment": _("Show it here"),
                        "book_payment": _("Book it in the ledger"), "ignore": _("Ignore"),
                        "reopen": _("Count again")}}


def context(installation: Installation, urls: ReportUrls, filters: Filters, *, notice: str | None = None,
            problem: str | None = None, ledger_kind: str = "") -> dict[str, Any]:
    run = current_run(installation.id)
    rows = db.session.scalars(filters.query(installation.id).limit(LIMIT)).all()
    page_url = ledger_class(ledger_kind).invoice_page_url
    return {"run": run, "running": run is not None and run.state in ACTIVE, "rows": rows,
            "ledger_urls": {r.id: page_url(base_id(r.ledger_id)) for r in rows if r.ledger_id},
            "open_count": open_count(installation.id), "filters": filters, "periods": _periods(installation.id),
            "states": STATES, "urls": urls, "words": words(), "notice": notice, "problem": problem}


def panel(block: str, **ctx: Any) -> str:
    """One part of the report (``run`` or ``rows``), for htmx to swap in."""
    return render_block(TEMPLATE, block, **ctx)


def take(installation: Installation, row_id: int, action: str, other: str) -> tuple[str | None, str | None]:
    """An action on one row of the installation: (notice, problem), in the page's language."""
    row = db.session.get(ReportRow, row_id)
    if row is None or row.installation_id != installation.id:
        return None, render(N_("This difference is no longer in the report."))
    try:
        return render(act(installation, row, action, other)), None
    except SyncError as exc:
        db.session.rollback()
        return None, render(exc.message)


def as_csv(installation: Installation, filters: Filters, locale: str) -> str:
    """Every row of the period and state, in the reader's language."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in db.session.scalars(filters.query(installation.id)):
        what = render(_stored_what(row), locale)
        writer.writerow([row.kind, row.state, row.platform_id, row.ledger_id, row.ledger_number,
                         row.issued.isoformat() if row.issued else "", _cell(what), " ".join(row.actions or []),
                         row.first_seen_at.isoformat(), row.last_seen_at.isoformat()])
    return buffer.getvalue()


def _stored_what(row: ReportRow) -> str:
    return from_json(row.what_i18n) if row.what_i18n else row.what


def _cell(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value  # never a formula in a spreadsheet
