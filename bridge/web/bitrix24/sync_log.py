"""The sync log: every sync record of the installation, filtered and paged on the server,
with one-click retry, "retry all with this error" and a CSV export.

Opened from the app's main page with its signed form token (no cookies in the iframe).
A retry asks for a manual run of the record's flow on its object; runs coalesce, so
clicking twice or retrying many records of one object queues one run.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from flask import Blueprint, Response, current_app, make_response, render_template, request
from flask_babel import gettext as _, ngettext
from jinja2_fragments.flask import render_block
from sqlalchemy import Select, func, select

from ...messages import N_, word
from ...connectors.bitrix24.iframe import LaunchRefused, Viewer, check_form_token, form_token, framed
from .invoice_state import waiting_reason
from .pages import APP_PAGES, answer_refusals
from ...extensions import db
from ...engine import WorkRequest, request_work
from ...models import SyncRecord, WorkItem
from ...numbers import page_number

bp = Blueprint("sync_log", __name__)
answer_refusals(bp)

TEMPLATE = "bitrix24/sync_log.html"
PAGE_SIZE = 50
STATES = ("succeeded", "failed", "retrying", "conflict", "amounts_differ", "skipped", "running")
CSV_COLUMNS = ("id", "created_at", "finished_at", "flow", "object_kind", "object_id", "direction", "state",
               "attempt", "error_code", "error_message", "error_fix", "warning")


@dataclass
class Filters:
    state: str = ""
    flow: str = ""
    since: date | None = None
    until: date | None = None
    page: int = 1

    @classmethod
    def from_args(cls, args) -> "Filters":
        return cls(state=args.get("state", "") if args.get("state") in STATES else "", flow=args.get("flow", ""),
                   since=_date(args.get("since")), until=_date(args.get("until")),
                   page=page_number(args.get("page")))

    def query(self, installation_id: int) -> Select:
        query = select(SyncRecord).where(SyncRecord.installation_id == installation_id)
        if self.state:
            query = query.where(SyncRecord.state == self.state)
        if self.flow:
            query = query.where(SyncRecord.flow == self.flow)
        if self.since:
            query = query.where(SyncRecord.created_at >= datetime.combine(self.since, time(), timezone.utc))
        if self.until:
            query = query.where(SyncRecord.created_at < datetime.combine(self.until + timedelta(days=1), time(),
                                                                         timezone.utc))
        return query

    def args(self, **override: Any) -> dict[str, Any]:
        values = {"state": self.state, "flow": self.flow, "since": self.since.isoformat() if self.since else "",
                  "until": self.until.isoformat() if self.until else "", "page": self.page, **override}
        return {k: v for k, v in values.items() if v}


def _date(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _viewer(token: str | None) -> Viewer:
    return check_form_token(token, APP_PAGES)


def _context(viewer: Viewer, filters: Filters, notice: str | None = None) -> dict[str, Any]:
    installation_id = viewer.installation.id
    query = filters.query(installation_id)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    filters.page = min(filters.page, pages)
    records = db.session.scalars(query.order_by(SyncRecord.id.desc())
                                 .offset((filters.page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    flows = db.session.scalars(select(SyncRecord.flow).where(SyncRecord.installation_id == installation_id)
                               .distinct().order_by(SyncRecord.flow)).all()
    return {"viewer": viewer, "token": form_token(viewer, APP_PAGES), "records": records, "total": total,
            "pages": pages, "filters": filters, "flows": flows, "states": STATES, "notice": notice,
            "bx24_js": current_app.config["BITRIX24_JS_URL"]}


def _render(viewer: Viewer, filters: Filters, notice: str | None = None) -> Response:
    context = _context(viewer, filters, notice)
    if request.headers.get("HX-Request"):
        return framed(make_response(render_block(TEMPLATE, "log", **context)), viewer.installation)
    return framed(make_response(render_template(TEMPLATE, **context)), viewer.installation)


@bp.get("/bitrix24/app/log")
def page():
    viewer = _viewer(request.args.get("token"))
    return _render(viewer, Filters.from_args(request.args))


def _object_key(record: SyncRecord) -> str:
    item = db.session.get(WorkItem, record.work_item_id) if record.work_item_id else None
    return item.object_key if item is not None else f"{record.object_kind}:{record.object_id}"


def _retry(installation_id: int, records: list[SyncRecord]) -> int:
    keys = {(r.flow, _object_key(r)) for r in records}
    for flow_name, key in keys:
        request_work(WorkRequest(installation_id, flow_name, key, {"manual": True}))
    db.session.commit()
    return len(keys)


@bp.post("/bitrix24/app/log/retry/<int:record_id>")
def retry(record_id: int):
    viewer = _viewer(request.form.get("token"))
    record = db.session.get(SyncRecord, record_id)
    if record is None or record.installation_id != viewer.installation.id:
        raise LaunchRefused(404, N_("No such sync record."))
    _retry(viewer.installation.id, [record])
    notice = _("Retry of %(what)s requested.", what=f"{word('object', record.object_kind)} {record.object_id}")
    item = db.session.scalar(select(WorkItem).where(WorkItem.installation_id == viewer.installation.id,
                                                    WorkItem.flow == record.flow,
                                                    WorkItem.object_key == _object_key(record)))
    if item is not None and item.state == "queued":  # why it waits, if it does
        notice = f"{notice} {waiting_reason(item)}"
    return _render(viewer, Filters.from_args(request.form), notice)


@bp.post("/bitrix24/app/log/retry-error")
def retry_error():
    """Every failed object whose last error had this code (after fixing its cause once)."""
    viewer = _viewer(request.form.get("token"))
    code = request.form.get("error_code") or ""
    records = db.session.scalars(select(SyncRecord).where(
        SyncRecord.installation_id == viewer.installation.id, SyncRecord.error_code == code,
        SyncRecord.state.in_(("failed", "retrying", "conflict")))).all() if code else []
    count = _retry(viewer.installation.id, records)
    return _render(viewer, Filters.from_args(request.form), ngettext("%(num)s object will be synced again.", "%(num)s objects will be synced again.", count))


@bp.get("/bitrix24/app/log.csv")
def export_csv():
    viewer = _viewer(request.args.get("token"))
    query = Filters.from_args(request.args).query(viewer.installation.id).order_by(SyncRecord.id.desc())
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for record in db.session.scalars(query).yield_per(500):
        writer.writerow([_cell(getattr(record, column)) for column in CSV_COLUMNS])
    response = make_response(buffer.getvalue())
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = "attachment; filename=sync-log.csv"
    return framed(response, viewer.installation)


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # a spreadsheet must not run a message as a formula
    return value if value is not None else ""
