"""The reconciliation report in the DG1 admin (the same page as the Bitrix24 app's,
``web/report_page.py``): DG1 orders against their Bexio invoices. The session token travels
in every URL and form, and each POST carries the session's CSRF value, as on the other
admin pages (``admin.py``).
"""
from __future__ import annotations

from flask import make_response, request, url_for
from flask_babel import get_locale

from ...installations import active_connection
from ...sync.report_run import start as start_run
from .. import report_page
from ..report_page import Filters, ReportUrls
from .admin import _checked_form, _htmx, _render, _session, bp

PAGE = "report"


def _urls(current) -> ReportUrls:
    token = current.token
    return ReportUrls(start=url_for(".report_start"), progress=url_for(".report_progress", s=token),
                      rows=url_for(".report_rows", s=token),
                      csv=lambda args: url_for(".report_csv", s=token, **args),
                      act=lambda row_id: url_for(".report_act", row_id=row_id),
                      hidden={"s": token, "csrf": current.csrf})


def _context(current, installation, filters: Filters, **extra) -> dict:
    connection = active_connection(installation)
    return report_page.context(installation, _urls(current), filters,
                               ledger_kind=connection.ledger if connection else "", **extra)


def _block(block: str, context: dict, trigger: str | None = None):
    response = make_response(report_page.panel(block, **context))
    if trigger:
        response.headers["HX-Trigger"] = trigger
    return response


@bp.get("/report")
def report():
    current, installation = _session()
    return _render(PAGE, current, **_context(current, installation, Filters.from_args(request.args)))


@bp.post("/report/start")
def report_start():
    current, installation = _checked_form()
    start_run(installation.id)
    context = _context(current, installation, Filters.from_args(request.form))
    return _block("run", context) if _htmx() else _render(PAGE, current, **context)


@bp.get("/report/progress")
def report_progress():
    current, installation = _session()
    context = _context(current, installation, Filters.from_args(request.args))
    ended = request.args.get("was") == "running" and not context["running"]
    return _block("run", context, report_page.FINISHED_EVENT if ended else None)


@bp.get("/report/rows")
def report_rows():
    current, installation = _session()
    return _block("rows", _context(current, installation, Filters.from_args(request.args)))


@bp.post("/report/rows/<int:row_id>")
def report_act(row_id: int):
    current, installation = _checked_form()
    notice, problem = report_page.take(installation, row_id, request.form.get("action") or "",
                                       request.form.get("other") or "")
    context = _context(current, installation, Filters.from_args(request.form), notice=notice, problem=problem)
    return _block("rows", context) if _htmx() else _render(PAGE, current, **context)


@bp.get("/report.csv")
def report_csv():
    current, installation = _session()
    response = make_response(report_page.as_csv(installation, Filters.from_args(request.args),
                                                 str(get_locale() or "en")))
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = "attachment; filename=reconciliation-report.csv"
    return response
