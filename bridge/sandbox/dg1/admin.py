"""The DG1 admin panel (``https://admin.dg1.ch/<tenant>/...``), reduced to what a demo needs.

Its point is the "Bexio integration" menu: Settings, Orders and Products frame the app
through the signed launch URL exactly as DG1 would (docs/dg1.md, "Admin launch"). The
rest (orders with "complete checkout" and "cancel", products with stock, the webhook
delivery log with "resend") lets a person drive the shop side by hand.
"""
from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from flask import Blueprint, abort, redirect, render_template, request, url_for

from . import catalog, orders
from .actions import ActionError
from .signing import LAUNCH_PAGES, launch_url

# The admin panel's languages; the launch names the one chosen (docs/dg1.md section 6).
ADMIN_LANGUAGES = ("en", "de", "fr")

if TYPE_CHECKING:
    from . import System

ADMIN_HOST = "admin.dg1.ch"


def create_admin_blueprint(system: "System") -> Blueprint:
    bp = Blueprint("dg1_admin", __name__, url_prefix=f"/{ADMIN_HOST}", template_folder="templates")
    actions = system.actions
    lock = system.host.lock

    def context(tenant_id: str, **extra):
        try:
            tenant = actions.tenant(tenant_id)
        except ActionError:
            abort(404)
        site_id = request.args.get("site") or next(iter(tenant.sites))
        if site_id not in tenant.sites:
            abort(404)
        return {"tenant": tenant, "site": tenant.sites[site_id], "pages": LAUNCH_PAGES, **extra}

    @bp.get("/")
    def tenants():
        with lock:
            return render_template("dg1/tenants.html", tenants=list(system.store.tenants.values()))

    @bp.get("/<tenant_id>/")
    def sites(tenant_id: str):
        with lock:
            return render_template("dg1/sites.html", **context(tenant_id))

    @bp.get("/<tenant_id>/orders")
    def order_list(tenant_id: str):
        with lock:
            ctx = context(tenant_id)
            found = sorted((o for o in ctx["tenant"].orders.values() if o.site_id == ctx["site"].id),
                           key=lambda o: -int(o.id))
            products = catalog.site_products(ctx["tenant"], ctx["site"].id)
            return render_template("dg1/orders.html", orders=found, products=products, **ctx)

    @bp.post("/<tenant_id>/orders")
    def order_new(tenant_id: str):
        """A customer fills a cart; the order stays PENDING until "complete checkout"."""
        site = request.args.get("site", "")
        order = actions.create_order(tenant_id, {
            "site": site, "place": False,
            "items": [{"product_id": request.form["product_id"],
                       "quantity": request.form.get("quantity", "1")}]})
        return redirect(url_for(".order_detail", tenant_id=tenant_id, order_id=order.id, site=site))

    @bp.get("/<tenant_id>/orders/<order_id>")
    def order_detail(tenant_id: str, order_id: str):
        with lock:
            ctx = context(tenant_id)
            order = ctx["tenant"].orders.get(order_id)
            if order is None:
                abort(404)
            return render_template("dg1/order.html", order=orders.order_json(order),
                                   allowed=orders.TRANSITIONS[order.status], **ctx)

    @bp.post("/<tenant_id>/orders/<order_id>/<action>")
    def order_action(tenant_id: str, order_id: str, action: str):
        do = {"place": actions.place_order, "pay": actions.pay_order,
              "ship": actions.ship_order, "cancel": actions.cancel_order}.get(action)
        if do is None:
            abort(404)
        try:
            do(tenant_id, order_id)
        except ActionError as exc:
            return str(exc), exc.status
        return redirect(url_for(".order_detail", tenant_id=tenant_id, order_id=order_id,
                                site=request.args.get("site")))

    @bp.get("/<tenant_id>/products")
    def product_list(tenant_id: str):
        with lock:
            ctx = context(tenant_id)
            products = [catalog.product_json(p)
                        for p in catalog.site_products(ctx["tenant"], ctx["site"].id)]
            return render_template("dg1/products.html", products=products, **ctx)

    @bp.get("/<tenant_id>/webhooks")
    def delivery_log(tenant_id: str):
        with lock:
            ctx = context(tenant_id)
            log = [d.to_json() for d in reversed(system.dispatcher.deliveries)
                   if d.tenant_id == tenant_id]
            return render_template("dg1/webhooks.html", deliveries=log, **ctx)

    @bp.post("/<tenant_id>/webhooks/<delivery_id>/resend")
    def resend(tenant_id: str, delivery_id: str):
        with lock:
            delivery = next((d for d in system.dispatcher.deliveries
                             if d.id == delivery_id and d.tenant_id == tenant_id), None)
            if delivery is None:
                abort(404)
            system.dispatcher.resend(delivery)
        return redirect(url_for(".delivery_log", tenant_id=tenant_id, site=request.args.get("site")))

    @bp.get("/<tenant_id>/bexio/<page>")
    def bexio(tenant_id: str, page: str):
        """The "Bexio integration" menu entry: the app's page in an iframe, signed launch URL."""
        if page not in LAUNCH_PAGES:
            abort(404)
        with lock:
            ctx = context(tenant_id)
            tenant, site = ctx["tenant"], ctx["site"]
            lang = request.args.get("lang") if request.args.get("lang") in ADMIN_LANGUAGES else ADMIN_LANGUAGES[0]
            src = launch_url(system.host.app_url, tenant.launch_secret, tenant.id, site.id,
                             tenant.admin_user, int(system.host.clock.time()), page, lang)
            parts = urlsplit(system.host.app_url)
            return render_template("dg1/bexio.html", page=page, launch_url=src, lang=lang,
                                   languages=ADMIN_LANGUAGES, app_origin=f"{parts.scheme}://{parts.netloc}", **ctx)

    return bp
