"""The Xero transactions dashboard inside Bitrix24 (app page and CRM_ANALYTICS_MENU).

Trust is the Bitrix24 iframe's (``bitrix24/iframe.py``): the launch POST is verified, then
the page's filter and paging requests carry the signed, cookie-less form token. Every view
reads the local copy (``bridge/dashboard``); Xero is only called by the refresh job. A copy
that was never filled asks for a refresh and tells the user it is on its way.
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app, make_response, render_template, request
from flask_babel import get_locale
from jinja2_fragments.flask import render_block

from ...connectors.bitrix24.iframe import Viewer, authenticate, check_form_token, form_token, framed, launch_params
from ...connectors.xero.connection import active_connection
from ...dashboard import chart, queries
from ...dashboard import refresh  # noqa: F401  (registers the refresh flow and its periodic job)
from ...dashboard.refresh import last_refreshed, request_refresh
from ...extensions import db
from .pages import APP_PAGES, answer_refusals

bp = Blueprint("dashboard", __name__)
answer_refusals(bp)
TEMPLATE = "dashboard/transactions.html"
TOKEN_OBJECT = "dashboard"


def _context(viewer: Viewer, form) -> dict:
    connection = active_connection(viewer.installation.id)
    filters = queries.parse_filters(form)
    context = {"viewer": viewer, "token": form_token(viewer, TOKEN_OBJECT), "app_token": form_token(viewer, APP_PAGES),
               "connection": connection, "filters": filters, "kinds": queries.KINDS, "statuses": queries.STATUSES,
               "status_label": queries.status_label, "bx24_js": current_app.config["BITRIX24_JS_URL"]}
    if connection is None:
        return context
    refreshed = last_refreshed(connection)
    if refreshed is None and connection.health in ("ok", "error"):  # never filled: in the background
        request_refresh(connection)
        db.session.commit()
    result = queries.run(connection.id, filters)
    periods = queries.periods(result.daily, filters.date_from, filters.date_to, locale=str(get_locale() or "en"))
    accounts = queries.bank_accounts(connection.id)
    context.update(result=result, refreshed=refreshed, accounts=accounts, account_names=dict(accounts),
                   periods=periods, chart=chart.bars(periods), type_label=queries.type_label)
    return context


def _render(viewer: Viewer, form) -> Response:
    context = _context(viewer, form)
    if request.headers.get("HX-Request"):
        return framed(make_response(render_block(TEMPLATE, "results", **context)), viewer.installation)
    return framed(make_response(render_template(TEMPLATE, **context)), viewer.installation)


@bp.route("/bitrix24/dashboard", methods=["GET", "POST"])
def page():
    """The launch from Bitrix24 (the CRM analytics menu), or a link from the app's own pages,
    which carries their signed token (``?token=``) instead of a launch."""
    if request.method == "GET" and request.args.get("token"):
        viewer = check_form_token(request.args.get("token"), APP_PAGES)
    else:
        viewer = authenticate(launch_params())
    # No filters from the launch: its form is Bitrix24's (it even has a "status" field).
    return _render(viewer, {})


@bp.post("/bitrix24/dashboard/results")
def results():
    """Filters and pages (htmx swaps the results; without JS the whole page comes back)."""
    return _render(check_form_token(request.form.get("token"), TOKEN_OBJECT), request.form)
