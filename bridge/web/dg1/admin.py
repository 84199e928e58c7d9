"""The pages DG1's "Bexio integration" menu frames: launch, orders, products (settings: ``settings.py``).

``/dg1/launch`` checks DG1's signature (docs/dg1.md section 6) and starts a cookie-less
session (``session.py``); every page answers with ``frame-ancestors`` set to the tenant's
admin origin, so no other site can frame it, and without X-Frame-Options, which would
forbid the framing DG1 needs.

Actions are htmx requests that get back a fragment of the page's own template (a block,
rendered with jinja2-fragments' ``render_block``): a row whose sync is queued or running
asks for itself again every two seconds until it has its result, and a run over all
products or all orders' statuses shows its progress in place, then reloads the table.
Without htmx (or JavaScript) the same forms post and redirect back to the page. The session
token travels in every URL and form, never in a cookie.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from flask import Blueprint, abort, current_app, g, make_response, redirect, render_template, request, url_for
from jinja2_fragments.flask import render_block
from sqlalchemy import select

from ...errors import SyncError
from ...messages import Message, N_
from ...extensions import db
from ...engine import WorkRequest, request_work
from ...installations import active_connection
from ...dashboard.models import SentAlert
from ...models import Cursor, Installation, Link, SyncRecord, WorkItem
from ...ports import ledger_class
from ...settings import get_section
from ...sync.money_check import amounts_differ
from ...sync.preview import preview_invoice
from ..preview_table import preview_table
from ...sync.product_to_ledger import FLOW as PRODUCT_FLOW, product_request
from ...sync.stock_from_ledger import FLOW as STOCK_FLOW, stock_request
from ...sync.status_from_ledger import FLOW as STATUS_FLOW, status_request
from ...connectors.bexio.mapper import invoice_url as bexio_invoice_url
from ...connectors.dg1 import mapper, session as admin_session, signing
from ...connectors.dg1.hooks import FLOW_INVOICE
from ...connectors.dg1.launch import PAGES, LaunchRefused, verify_launch
from ...connectors.dg1.tenants import admin_origin, client_for

ORDERS_DAYS = 90  # the orders page shows what changed in the last 90 days
PENDING = ("queued", "running", "waiting")  # work items whose result is still to come
FINISHED_EVENT = "dg1-run-finished"  # HX-Trigger: a run over everything ended, tables reload

bp = Blueprint("dg1_admin", __name__, url_prefix="/dg1")


@bp.after_request
def frame_headers(response):
    origin = g.get("dg1_frame_origin")
    response.headers["Content-Security-Policy"] = "frame-ancestors " + (origin or "'none'")
    response.headers.pop("X-Frame-Options", None)
    # The session token is in the URL: never hand it to another site in a Referer.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


# The notices a plain (non-htmx) form's redirect names in its ``message`` argument, by id,
# with ``name`` as the parameter: shown in the page's language, and nothing else a link
# might carry is ever shown as a notice.
NOTICES = {str(m.id): m for m in (
    N_("Order %(name)s is being synced."), N_("Order statuses are being read from Bexio."),
    N_("The product %(name)s is being synced to Bexio."), N_("All products are being synced to Bexio."),
    N_("Stock of %(name)s is being read from Bexio."), N_("Stock of all synced products is being read from Bexio."),
    N_("Settings saved."))}


def notice() -> Message | None:
    """The redirect's notice (``message`` and ``name`` in the query), if it is one of ``NOTICES``."""
    found = NOTICES.get(request.args.get("message") or "")
    return N_(found.id, name=request.args.get("name", "")) if found is not None else None


AGAIN = N_("Reload the page, or open it again from the DG1 menu “Bexio integration”.")


def _refuse(message: str, status: int = 401, fix: str | None = None):
    return render_template("dg1/refused.html", message=message, fix=fix), status


@bp.get("/launch")
def launch():
    """DG1's signed link (checked by ``connectors/dg1/launch.py``) starts a session on its page."""
    verified = verify_launch(request.args)
    installation = verified.installation
    g.dg1_frame_origin = admin_origin(installation)
    started = admin_session.start(installation.id, installation.account_id, verified.site, verified.user,
                                  verified.lang)
    return redirect(url_for(f".{verified.page}", s=started.token))


@bp.errorhandler(LaunchRefused)
def launch_refused(exc: LaunchRefused):
    """A refused launch, framed for the tenant's admin when the link named a registered one."""
    if exc.installation is not None:
        g.dg1_frame_origin = admin_origin(exc.installation)
    return _refuse(exc.message, exc.status)


def _session() -> tuple[admin_session.AdminSession, Installation]:
    """The page's session from its token (query or form), or 401."""
    current = admin_session.load(request.values.get("s"))
    if current is None:
        _frame_expired(request.values.get("s"))
        abort(401, N_("Your session has expired. Open the page again from the DG1 menu."))
    installation = db.session.get(Installation, current.installation_id)
    if installation is None or installation.state != "active" or installation.account_id != current.tenant:
        abort(401, N_("This DG1 shop is no longer registered in bridge."))
    g.dg1_frame_origin = admin_origin(installation)
    if current.lang:
        g.bridge_lang = current.lang  # the pages' language (bridge/web/i18n.py)
    return current, installation


def _frame_expired(token: str | None) -> None:
    """An expired session's refusal is framed for its shop's admin and worded in its language,
    so DG1's frame shows what to do instead of a blank (a forged token names no shop)."""
    old = admin_session.expired(token)
    installation = db.session.get(Installation, old.installation_id) if old is not None else None
    if installation is not None and installation.state == "active" and installation.account_id == old.tenant:
        g.dg1_frame_origin = admin_origin(installation)
        if old.lang:
            g.bridge_lang = old.lang


@bp.errorhandler(401)
def unauthorised(error):
    return _refuse(getattr(error, "description", "") or N_("Not signed in."))


def _render(page: str, current: admin_session.AdminSession, **context: Any):
    return render_template(f"dg1/{page}.html", page=page, session=current, pages=PAGES,
                           frame_origin=g.get("dg1_frame_origin"), alerts=_alerts(current.installation_id), **context)


ALERT_DAYS = 2  # today's and yesterday's alerts


def _alerts(installation_id: int) -> list[SentAlert]:
    """The shop's recent alerts (``bridge/alerts.py``: a renewal needed, a sync failed for good),
    for the banner on every admin page: DG1 has no notification API, so the admin reads
    them here as a Bitrix24 administrator reads them in the portal's notifications."""
    since = (datetime.now(timezone.utc) - timedelta(days=ALERT_DAYS - 1)).date().isoformat()
    return list(db.session.scalars(select(SentAlert).where(
        SentAlert.installation_id == installation_id, SentAlert.day >= since).order_by(SentAlert.id.desc()).limit(5)))


def _fragment(page: str, block: str, current: admin_session.AdminSession, *, trigger: str | None = None,
              **context: Any):
    """One block of the page's template, for htmx to swap in."""
    response = make_response(render_block(f"dg1/{page}.html", block, page=page, session=current, pages=PAGES,
                                          **context))
    if trigger:
        response.headers["HX-Trigger"] = trigger
    return response


def _htmx() -> bool:
    return bool(request.headers.get("HX-Request"))


def _links(installation_id: int, kind: str, platform_ids: list[str]) -> dict[str, Link]:
    if not platform_ids:
        return {}
    rows = db.session.scalars(select(Link).where(Link.installation_id == installation_id, Link.kind == kind,
                                                 Link.platform_id.in_(platform_ids))).all()
    return {row.platform_id: row for row in rows}


def _pending(installation_id: int, flow_name: str, object_keys: list[str]) -> dict[str, str]:
    """Work still to be done per object (queued, running or waiting for a retry)."""
    if not object_keys:
        return {}
    rows = db.session.execute(select(WorkItem.object_key, WorkItem.state).where(
        WorkItem.installation_id == installation_id, WorkItem.flow == flow_name,
        WorkItem.object_key.in_(object_keys), WorkItem.state.in_(PENDING))).all()
    return {key: state for key, state in rows}


def ledger_link(order: dict[str, Any], link: Link | None) -> dict[str, str] | None:
    """The ledger document of an order: DG1's external_refs (what bridge wrote there),
    else bridge's own link row."""
    refs = order.get("external_refs") or {}
    kept = (link.extra or {}).get("url", "") if link is not None else ""
    for ledger in ("bexio", "xero"):
        if refs.get(f"{ledger}_invoice_id"):
            invoice_id = refs[f"{ledger}_invoice_id"]
            return {"number": refs.get(f"{ledger}_document_nr") or invoice_id,
                    "url": refs.get(f"{ledger}_invoice_url") or kept or _invoice_page(ledger, invoice_id)}
    if link is not None and link.ledger_id:
        return {"number": link.ledger_number or link.ledger_id, "url": kept or _invoice_page(link.ledger, link.ledger_id)}
    return None


def _invoice_page(ledger: str, invoice_id: str) -> str:
    """The invoice's page in the ledger from its id alone, when neither DG1 nor the link kept
    its URL (an order exported before URLs were kept): the number is then still a link."""
    if ledger == "bexio":
        return bexio_invoice_url(current_app.config.get("BEXIO_WEB_URL") or "https://office.bexio.com", invoice_id)
    return ledger_class(ledger).invoice_page_url(invoice_id)


# --------------------------------------------------------------------------------------
# Orders
# --------------------------------------------------------------------------------------


def _order_rows(installation: Installation, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = [mapper.order_platform_id(o["site_id"], o["id"]) for o in found]
    links = _links(installation.id, "invoice", ids)
    records = _last_records(installation.id, ("order", "invoice"), ids)
    pending = _pending(installation.id, FLOW_INVOICE, [f"order:{i}" for i in ids])
    rows = []
    for order, platform_id in zip(found, ids):
        rows.append({"order": order, "customer": mapper.party(installation.account_id, order).name,
                     "record": records.get(platform_id), "pending": pending.get(f"order:{platform_id}"),
                     "ledger": ledger_link(order, links.get(platform_id)),
                     "amounts_differ": amounts_differ(links.get(platform_id))})
    return rows


def _orders_context(installation: Installation, current: admin_session.AdminSession) -> dict[str, Any]:
    since = datetime.fromtimestamp(signing.now_seconds(), tz=timezone.utc) - timedelta(days=ORDERS_DAYS)
    error, found = None, []
    try:
        found = list(client_for(installation).orders(current.site, updated_since=mapper.format_time(since)))
    except SyncError as exc:
        error = exc
    found.sort(key=lambda o: (o.get("placed_at") or o.get("created_at") or "", o.get("id")), reverse=True)
    return {"rows": _order_rows(installation, found), "error": error, "status_run": _status_run(installation)}


def _status_run(installation: Installation) -> dict[str, Any]:
    """The daily status sync: switched on or not, its last run's record, a run pending."""
    last = db.session.scalars(select(SyncRecord).where(
        SyncRecord.installation_id == installation.id, SyncRecord.flow == STATUS_FLOW)
        .order_by(SyncRecord.id.desc()).limit(1)).first()
    return {"enabled": get_section(installation, "daily").sync_status, "last": last,
            "pending": _pending(installation.id, STATUS_FLOW, ["status:all"]).get("status:all")}


@bp.get("/orders")
def orders():
    current, installation = _session()
    return _render("orders", current, message=notice(), **_orders_context(installation, current))


@bp.get("/orders/table")
def orders_table():
    """The orders table again (after a status run moved orders)."""
    current, installation = _session()
    return _fragment("orders", "table", current, **_orders_context(installation, current))


def _order_row(installation: Installation, current: admin_session.AdminSession, order_id: str, *,
               message: str | None = None):
    try:
        order = client_for(installation).order(current.site, order_id)
    except SyncError as exc:
        order, message = None, exc.message
    if order is None:
        abort(404, N_("DG1 does not know this order on this site."))
    (row,) = _order_rows(installation, [order])
    return _fragment("orders", "order_row", current, row=row, row_message=message)


@bp.get("/orders/<order_id>/row")
def order_row(order_id: str):
    """One order's row: its sync's progress, then its result and Bexio link."""
    current, installation = _session()
    return _order_row(installation, current, order_id)


@bp.get("/orders/<order_id>/preview")
def order_preview(order_id: str):
    """The dry run of an order's Bexio invoice: what a sync would send, read live from DG1 and
    the ledger, nothing written (the same preview as a Bitrix24 invoice's)."""
    current, installation = _session()
    db.session.commit()  # nothing of ours open while the preview calls out
    table = preview_table(preview_invoice(installation, mapper.order_platform_id(current.site, order_id)))
    number = request.args.get("number") or order_id  # the number the admin knows the order by (shown only)
    if _htmx():
        return _fragment("orders", "order_preview", current, order_id=order_id, order_number=number, table=table)
    return _render("preview", current, order_id=order_id, order_number=number, table=table)


@bp.post("/orders/<order_id>/sync")
def sync_order(order_id: str):
    """The orders page's "Sync order to Bexio": queues the invoice flow for the order."""
    current, installation = _checked_form()
    object_key = f"order:{current.site}:{order_id}"
    request_work(WorkRequest(installation.id, FLOW_INVOICE, object_key, {"manual": True, "user": current.user}))
    db.session.commit()
    if _htmx():
        return _order_row(installation, current, order_id)
    return redirect(url_for(".orders", s=current.token, message="Order %(name)s is being synced.", name=order_id))


@bp.get("/orders/status")
def status_panel():
    """The status sync's panel, polled while a run is pending; when it ends the table
    reloads (the run may have completed orders)."""
    current, installation = _session()
    run = _status_run(installation)
    finished = request.args.get("was") == "pending" and not run["pending"]
    return _fragment("orders", "status_sync", current, status_run=run, trigger=FINISHED_EVENT if finished else None)


@bp.post("/orders/status")
def sync_status():
    """"Sync status now": Bexio's paid invoices complete their DG1 orders, now rather
    than at the daily run (only orders sent to Bexio)."""
    current, installation = _checked_form()
    request_work(status_request(installation.id, manual=True))
    db.session.commit()
    if _htmx():
        return _fragment("orders", "status_sync", current, status_run=_status_run(installation))
    return redirect(url_for(".orders", s=current.token, message="Order statuses are being read from Bexio."))


# --------------------------------------------------------------------------------------
# Products
# --------------------------------------------------------------------------------------


def _products_context(installation: Installation, current: admin_session.AdminSession,
                      only: str | None = None) -> dict[str, Any]:
    error, everything = None, []
    try:
        client = client_for(installation)
        for site in client.sites():
            everything.extend(client.products(site["id"]))
    except SyncError as exc:
        error = exc
    shared = mapper.shared_skus(everything)
    here = [p for p in everything if p.get("site_id") == current.site]
    keys = [mapper.product_key(installation.account_id, p) for p in here]
    if only is not None:
        here, keys = [p for p, k in zip(here, keys) if k == only], [k for k in keys if k == only]
    links = _links(installation.id, "product", keys)
    records = _last_records(installation.id, ("product",), keys)
    stock = _last_records(installation.id, ("stock",), keys)
    pending = _pending(installation.id, PRODUCT_FLOW, [f"product:{k}" for k in keys])
    pending_stock = _pending(installation.id, STOCK_FLOW, [f"stock:{k}" for k in keys])
    rows = [{"product": p, "key": key, "shared_with": [s for s in shared.get(p.get("sku") or "", []) if s != current.site],
             "link": links.get(key), "record": records.get(key), "stock_record": stock.get(key),
             "pending": pending.get(f"product:{key}") or pending_stock.get(f"stock:{key}")}
            for p, key in zip(here, keys)]
    return {"rows": rows, "shared": shared, "error": error, "runs": _runs(installation)}


@bp.get("/products")
def products():
    current, installation = _session()
    return _render("products", current, message=notice(),
                   **_products_context(installation, current))


@bp.get("/products/table")
def products_table():
    current, installation = _session()
    return _fragment("products", "table", current, **_products_context(installation, current))


@bp.get("/products/row")
def product_row():
    current, installation = _session()
    key = _product_key(installation, request.args.get("key"))
    return _product_row(installation, current, key)


def _product_row(installation: Installation, current: admin_session.AdminSession, key: str):
    context = _products_context(installation, current, only=key)
    if context["error"] is not None:
        abort(502, context["error"].message)
    if not context["rows"]:
        abort(404, N_("This product is no longer on this site."))
    return _fragment("products", "product_row", current, row=context["rows"][0])


def _runs(installation: Installation) -> dict[str, dict]:
    """Progress of the product and stock runs over everything, from their cursors, their
    work items and their last records (read only: a page view never writes)."""
    connection = active_connection(installation)
    runs: dict[str, dict] = {PRODUCT_FLOW: {}, STOCK_FLOW: {}}
    if connection is not None:
        rows = db.session.scalars(select(Cursor).where(
            Cursor.scope == f"installation:{installation.id}",
            Cursor.name.in_([f"{PRODUCT_FLOW}:{connection.id}", f"{STOCK_FLOW}:{connection.id}"]))).all()
        for row in rows:
            runs[row.name.partition(":")[0]] = dict(row.value or {})
    pending = {**_pending(installation.id, PRODUCT_FLOW, ["products:all"]),
               **_pending(installation.id, STOCK_FLOW, ["stock:all"])}
    records = _last_records(installation.id, ("products", "stock"), ["all"], by_kind=True)
    for name, key, kind in ((PRODUCT_FLOW, "products:all", "products"), (STOCK_FLOW, "stock:all", "stock")):
        runs[name]["pending"] = pending.get(key)
        runs[name]["record"] = records.get(kind)
    return runs


@bp.get("/products/runs")
def products_runs():
    """The runs' progress, polled while one is pending; its end reloads the table."""
    current, installation = _session()
    runs = _runs(installation)
    finished = request.args.get("was") == "pending" and not any(r.get("pending") for r in runs.values())
    return _fragment("products", "runs", current, runs=runs, trigger=FINISHED_EVENT if finished else None)


def _checked_form() -> tuple[admin_session.AdminSession, Installation]:
    """The session of a POSTed form whose CSRF token matches it, or 400."""
    current, installation = _session()
    if not admin_session.csrf_valid(current, request.form.get("csrf")):
        abort(400, N_("The form expired; reload the page."))
    return current, installation


def _last_records(installation_id: int, kinds: tuple[str, ...], object_ids: list[str], *,
                  by_kind: bool = False) -> dict[str, SyncRecord]:
    """The newest sync record per object (or per kind): the result a manual action shows."""
    if not object_ids:
        return {}
    rows = db.session.scalars(select(SyncRecord).where(
        SyncRecord.installation_id == installation_id, SyncRecord.object_kind.in_(kinds),
        SyncRecord.object_id.in_(object_ids)).order_by(SyncRecord.id)).all()
    return {(row.object_kind if by_kind else row.object_id): row for row in rows}


def _product_key(installation: Installation, value: str | None) -> str:
    """A product key from a form, only of this tenant (never another shop's product)."""
    if not value or not value.startswith(f"dg1:{installation.account_id}:"):
        abort(400, N_("Unknown product."))
    return value


@bp.post("/products/sync")
def sync_product():
    """"Sync product to Bexio": one product (its key), or all with no key."""
    return _queue_products(product_request, "The product %(name)s is being synced to Bexio.",
                           "All products are being synced to Bexio.")


@bp.post("/products/stock")
def sync_stock():
    """"Sync stock from Bexio": one synced product, or all synced products with no key."""
    return _queue_products(stock_request, "Stock of %(name)s is being read from Bexio.",
                           "Stock of all synced products is being read from Bexio.")


def _queue_products(request_for, one: str, everything: str):
    """A manual product or stock run for the form's product (its key, only of this tenant), or
    for all; htmx gets the row or the runs' progress back, a plain form the page with a notice."""
    current, installation = _checked_form()
    key = _product_key(installation, request.form.get("key")) if request.form.get("key") else None
    request_work(request_for(installation.id, key, manual=True))
    db.session.commit()
    if _htmx():
        return _product_row(installation, current, key) if key else \
            _fragment("products", "runs", current, runs=_runs(installation))
    named = {"message": one, "name": request.form.get("name") or key} if key else {"message": everything}
    return redirect(url_for(".products", s=current.token, **named))


@bp.errorhandler(404)
@bp.errorhandler(502)
def not_here(error):
    """A product or order gone from the site, or DG1 or Bexio unreadable: the page's words,
    in the admin's language and framed for the shop, with what to do."""
    return _refuse(getattr(error, "description", "") or N_("Not found."), error.code, AGAIN)


@bp.errorhandler(400)
def bad_request(error):
    return _refuse(getattr(error, "description", "") or N_("Bad request."), 400, AGAIN)
