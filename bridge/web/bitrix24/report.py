"""The reconciliation report in the Bitrix24 app (``templates/_report.html``, shared with the
DG1 admin through ``web/report_page.py``): opened from the main page with the app pages'
form token; Start and the fix actions need a Bitrix24 administrator, as the settings do.
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app, make_response, render_template, request, url_for
from flask_babel import get_locale

from ...connectors.bitrix24.iframe import LaunchRefused, Viewer, check_form_token, form_token, framed
from ...installations import active_connection
from ...messages import N_
from ...sync.report_run import start as start_run
from .. import report_page
from ..report_page import Filters, ReportUrls
from .pages import APP_PAGES, answer_refusals, ledger_heading

bp = Blueprint("app_report", __name__)
answer_refusals(bp)


def _viewer(token: str | None, admin: bool = False) -> Viewer:
    viewer = check_form_token(token, APP_PAGES)
    if admin and not viewer.is_admin:
        raise LaunchRefused(403, N_("Only a Bitrix24 administrator can run the report or act on it."))
    return viewer


def _urls(token: str) -> ReportUrls:
    return ReportUrls(start=url_for(".start"), progress=url_for(".progress", token=token),
                      rows=url_for(".rows", token=token),
                      csv=lambda args: url_for(".export_csv", token=token, **args),
                      act=lambda row_id: url_for(".act", row_id=row_id), hidden={"token": token})


def _context(viewer: Viewer, filters: Filters, **extra) -> dict:
    token = form_token(viewer, APP_PAGES)
    connection = active_connection(viewer.installation)
    return {**report_page.context(viewer.installation, _urls(token), filters,
                                  ledger_kind=connection.ledger if connection else "", **extra),
            "viewer": viewer, "token": token, "ledger": ledger_heading(viewer.installation),
            "bx24_js": current_app.config["BITRIX24_JS_URL"]}


def _block(viewer: Viewer, block: str, context: dict, trigger: str | None = None) -> Response:
    response = make_response(report_page.panel(block, **context))
    if trigger:
        response.headers["HX-Trigger"] = trigger
    return framed(response, viewer.installation)


@bp.get("/bitrix24/app/report")
def page():
    viewer = _viewer(request.args.get("token"))
    context = _context(viewer, Filters.from_args(request.args))
    return framed(make_response(render_template("bitrix24/report.html", **context)), viewer.installation)


@bp.post("/bitrix24/app/report/start")
def start():
    viewer = _viewer(request.form.get("token"), admin=True)
    start_run(viewer.installation.id)
    context = _context(viewer, Filters.from_args(request.form))
    if request.headers.get("HX-Request"):
        return _block(viewer, "run", context)
    return framed(make_response(render_template("bitrix24/report.html", **context)), viewer.installation)


@bp.get("/bitrix24/app/report/progress")
def progress():
    """The current run's numbers (polled every 2 s while it runs); when it has ended the
    rows reload themselves (``report-finished``)."""
    viewer = _viewer(request.args.get("token"))
    context = _context(viewer, Filters.from_args(request.args))
    ended = request.args.get("was") == "running" and not context["running"]
    return _block(viewer, "run", context, report_page.FINISHED_EVENT if ended else None)


@bp.get("/bitrix24/app/report/rows")
def rows():
    viewer = _viewer(request.args.get("token"))
    return _block(viewer, "rows", _context(viewer, Filters.from_args(request.args)))


@bp.post("/bitrix24/app/report/rows/<int:row_id>")
def act(row_id: int):
    viewer = _viewer(request.form.get("token"), admin=True)
    notice, problem = report_page.take(viewer.installation, row_id, request.form.get("action") or "",
                                       request.form.get("other") or "")
    context = _context(viewer, Filters.from_args(request.form), notice=notice, problem=problem)
    if request.headers.get("HX-Request"):
        return _block(viewer, "rows", context)
    return framed(make_response(render_template("bitrix24/report.html", **context)), viewer.installation)


@bp.get("/bitrix24/app/report.csv")
def export_csv():
    viewer = _viewer(request.args.get("token"))
    body = report_page.as_csv(viewer.installation, Filters.from_args(request.args), str(get_locale() or "en"))
    response = make_response(body)
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = "attachment; filename=reconciliation-report.csv"
    return framed(response, viewer.installation)
