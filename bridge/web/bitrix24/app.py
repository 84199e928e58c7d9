"""Bitrix24 pages: the install page, the main page and the invoice tab.

URLs to enter in the local application's settings (docs/bitrix24.md):
- handler path (main page): ``<PUBLIC_URL>/bitrix24/app``
- initial installation path: ``<PUBLIC_URL>/bitrix24/install``
The installer binds the invoice tab (``/bitrix24/placement/invoice``) and the event handler
(``/hooks/bitrix24``, received in ``connectors/bitrix24/hooks.py``) itself.
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app, make_response, render_template, request
from flask_babel import gettext as _
from jinja2_fragments.flask import render_block

from ...messages import N_
from ...errors import SyncError
from ...extensions import db
from ...installations import active_connection
from ...engine import WorkRequest, request_work
from ...models import SyncRecord, WorkItem
from ...numbers import whole_number
from ...ports import ledger_name
from ...sync.preview import preview_invoice
from ...sync.report_run import open_count
from ...connectors.bitrix24 import setup, store
from ...connectors.bitrix24.client import refresh_tokens
from ...connectors.bitrix24.iframe import (LaunchRefused, Viewer, authenticate, check_form_token, form_token, framed,
                                           launch_params, require)
from ...connectors.bitrix24.inbox import FLOW_INVOICE
from ...connectors.bitrix24.mapper import LEGACY
from ...connectors.bitrix24.reconcile import cursor_for
from ..preview_table import preview_table
from .invoice_state import invoice_state
from .pages import APP_PAGES, answer_refusals, ledger_heading

bp = Blueprint("bitrix24", __name__)
answer_refusals(bp)


def _page(template: str, status: int = 200, installation=None, **context) -> Response:
    context.setdefault("bx24_js", current_app.config["BITRIX24_JS_URL"])
    return framed(make_response(render_template(template, **context), status), installation)


def _failed(exc: SyncError, installation=None, status: int = 502) -> Response:
    return _page("bitrix24/message.html", status, installation, title="bridge", message=exc.message, fix=exc.fix,
                 details=exc.ledger_messages)


# --------------------------------------------------------------------------------------
# Install (NOTES s2): verify, store, set up, then BX24.installFinish() in the page
# --------------------------------------------------------------------------------------


@bp.route("/bitrix24/install", methods=["GET", "POST"])
def install():
    params = launch_params()
    require(params, "member_id", "AUTH_ID", "REFRESH_ID", "APPLICATION_TOKEN", "DOMAIN")
    config = current_app.config
    try:
        token_url = store.check_server_endpoint(params.get("SERVER_ENDPOINT"))
    except SyncError as exc:  # the request names a server we do not trust: a refusal (with
        return _failed(exc, status=403)  # what to configure for one's own), no upstream failure
    try:
        # The OAuth server's reply names the portal with authority (member_id,
        # client_endpoint); the form alone could claim any portal.
        tokens = refresh_tokens(token_url, config["BITRIX24_CLIENT_ID"] or "",
                                config["BITRIX24_CLIENT_SECRET"] or "", params["REFRESH_ID"],
                                timeout=config["HTTP_TIMEOUT_SECONDS"])
    except SyncError as exc:
        raise LaunchRefused(401, N_("Bitrix24 did not confirm this installation: %(reason)s", reason=exc.message)) from exc
    if tokens.get("member_id") != params["member_id"] or not tokens.get("client_endpoint"):
        raise LaunchRefused(401, N_("Bitrix24 did not confirm this installation (another portal's tokens)."))
    if f"/{params['DOMAIN'].lower()}/" not in tokens["client_endpoint"].lower():
        # The name shown for the installation (operator console, alerts) is the portal's
        # own address as its OAuth server gives it, not whatever the form claims.
        raise LaunchRefused(401, N_("Bitrix24 did not confirm this installation (DOMAIN is not the portal's address)."))
    installation = store.save_oauth(member_id=params["member_id"], domain=params["DOMAIN"], tokens=tokens,
                                    application_token=params["APPLICATION_TOKEN"],
                                    language=params.get("LANG") or "en")
    try:
        result = run_installer(installation)
    except SyncError as exc:
        db.session.rollback()
        return _failed(exc, installation)
    return _page("bitrix24/install.html", 200, installation, result=result, domain=installation.domain)


def run_installer(installation) -> setup.SetupResult:
    # New titles on the portal name the connected ledger (a reinstall, a repair), else neutral.
    connected = active_connection(installation)
    result = setup.run_setup(store.client_for(installation), current_app.config["PUBLIC_URL"],
                             ledger_name(connected.ledger) if connected is not None else None)
    # A field whose title the portal did not read back keeps the title known for it.
    result.sync_label = result.sync_label or setup.sync_label_of(installation)
    installation.endpoints = {**(installation.endpoints or {}), "setup": result.as_dict()}
    cursor_for(installation)
    db.session.commit()
    return result


# --------------------------------------------------------------------------------------
# Main page (DEFAULT / LEFT_MENU / CRM_ANALYTICS_MENU)
# --------------------------------------------------------------------------------------


def _overview(viewer: Viewer) -> dict:
    installation = viewer.installation
    recent = db.session.scalars(
        db.select(SyncRecord).where(SyncRecord.installation_id == installation.id)
        .order_by(SyncRecord.id.desc()).limit(10)).all()
    pending = db.session.scalar(db.select(db.func.count()).select_from(WorkItem).where(
        WorkItem.installation_id == installation.id, WorkItem.state.in_(("queued", "running", "waiting"))))
    return {"viewer": viewer, "setup": (installation.endpoints or {}).get("setup") or {}, "recent": recent,
            "pending": pending, "token": form_token(viewer, "repair"), "app_token": form_token(viewer, APP_PAGES),
            "ledger": ledger_heading(installation), "open_differences": open_count(installation.id)}


@bp.route("/bitrix24/app", methods=["GET", "POST"])
def main_page():
    viewer = authenticate(launch_params())
    return _page("bitrix24/app.html", 200, viewer.installation, **_overview(viewer))


@bp.post("/bitrix24/app/repair")
def repair():
    """Run the installer again (after an app update, NOTES s2: bindings are removed)."""
    viewer = check_form_token(request.form.get("token"), "repair")
    if not viewer.is_admin:
        raise LaunchRefused(403, N_("Only a Bitrix24 administrator can repair the setup."))
    try:
        result = run_installer(viewer.installation)
    except SyncError as exc:
        db.session.rollback()
        return _failed(exc, viewer.installation)
    overview = _overview(viewer)
    return _page("bitrix24/app.html", 200, viewer.installation, repaired=result, **overview)


# --------------------------------------------------------------------------------------
# Invoice tab (CRM_SMART_INVOICE_DETAIL_TAB): state, last error, "sync now"
# --------------------------------------------------------------------------------------


def _invoice_id(viewer: Viewer) -> str:
    """The platform id of the invoice the page opened on: an old invoice's card toolbar
    (``setup.LEGACY_PLACEMENTS``) names an old invoice, ``L<ID>``."""
    invoice_id = str(viewer.options.get("ID") or "")  # NOTES s5: {"ID": "<invoice id>", "URI": ...}
    if whole_number(invoice_id) is None:
        raise LaunchRefused(400, N_("PLACEMENT_OPTIONS from Bitrix24 lacks the invoice ID."))
    return f"{LEGACY}{invoice_id}" if viewer.placement in setup.LEGACY_PLACEMENTS else invoice_id


# How often the tab asks again about an invoice bridge has heard nothing of (every 3 s: about
# three minutes). Past that the portal's event is not coming soon, and the tab offers "Sync now".
AWAIT_POLLS = 60


def _tab_context(viewer: Viewer, invoice_id: str, notice: str | None = None, polls: int = 0) -> dict:
    state = invoice_state(viewer.installation.id, invoice_id)
    awaiting = state.awaiting and polls < AWAIT_POLLS
    return {"viewer": viewer, "invoice_id": invoice_id, "state": state, "notice": notice,
            "poll": state.tone == "pending" or awaiting, "awaiting": awaiting,
            "polls": polls + 1 if awaiting else 0,
            "token": form_token(viewer, f"invoice:{invoice_id}"),
            "ledger": ledger_heading(viewer.installation, state.ledger),
            "sync_label": setup.sync_label_of(viewer.installation)}


def _tab(viewer: Viewer, invoice_id: str, notice: str | None = None, polls: int = 0) -> Response:
    context = _tab_context(viewer, invoice_id, notice, polls)
    if request.headers.get("HX-Request"):
        response = make_response(render_block("bitrix24/invoice_tab.html", "panel", **context))
        if not context["poll"]:
            response.headers["HX-Trigger"] = "bridge-sync-settled"  # the preview reloads itself
        return framed(response, viewer.installation)
    return _page("bitrix24/invoice_tab.html", 200, viewer.installation, **context)


def _tab_viewer(invoice_id: str, token: str | None) -> Viewer:
    if whole_number(invoice_id.removeprefix(LEGACY)) is None:
        raise LaunchRefused(400, N_("Not an invoice id."))
    return check_form_token(token, f"invoice:{invoice_id}")


@bp.route("/bitrix24/placement/invoice", methods=["GET", "POST"])
def invoice_tab():
    viewer = authenticate(launch_params())
    return _tab(viewer, _invoice_id(viewer))


@bp.get("/bitrix24/placement/invoice/<invoice_id>/panel")
def invoice_panel(invoice_id: str):
    """The state again (htmx polls it while a sync is waiting or running, and a while for an
    invoice bridge has not heard of yet: ``polls`` counts those asks)."""
    polls = whole_number(request.args.get("polls") or "0") or 0
    return _tab(_tab_viewer(invoice_id, request.args.get("token")), invoice_id, polls=polls)


@bp.post("/bitrix24/placement/invoice/<invoice_id>/sync")
def invoice_sync_now(invoice_id: str):
    """"Sync now" and "Retry": a manual run (``{"manual": true}``); works when automatic sync is off."""
    viewer = _tab_viewer(invoice_id, request.form.get("token"))
    queued = request_work(WorkRequest(viewer.installation.id, FLOW_INVOICE, f"invoice:{invoice_id}",
                                      {"manual": True, "user_id": viewer.user_id}))
    db.session.commit()
    notice = _("Sync requested.") if queued else _("A sync of this invoice is already on its way.")
    return _tab(viewer, invoice_id, notice)


@bp.get("/bitrix24/placement/invoice/<invoice_id>/preview")
def invoice_preview(invoice_id: str):
    """The dry run: what a sync would send, read live from Bitrix24 and the ledger, nothing written."""
    viewer = _tab_viewer(invoice_id, request.args.get("token"))
    db.session.commit()  # nothing of ours open while the preview calls out
    table = preview_table(preview_invoice(viewer.installation, invoice_id))
    body = render_block("bitrix24/invoice_tab.html", "preview", table=table, invoice_id=invoice_id)
    return framed(make_response(body), viewer.installation)
