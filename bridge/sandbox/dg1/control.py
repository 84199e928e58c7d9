"""``/_sandbox/dg1/...``: set up tenants, act as shop customers, and steer failures.

Exists only in the sandbox (docs/sandbox/dg1.md). Bodies are JSON; money may be given
as strings or numbers here, since it never reaches the product through these routes.
"""
from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from flask import Blueprint, jsonify, request

from . import catalog, orders
from .actions import ActionError
from .signing import LAUNCH_PAGES, launch_url

if TYPE_CHECKING:
    from . import System


def _body() -> dict[str, Any]:
    raw = request.get_data()
    return json.loads(raw, parse_float=Decimal) if raw else {}


def create_control_blueprint(system: "System") -> Blueprint:
    bp = Blueprint("dg1_control", __name__)
    actions = system.actions
    lock = system.host.lock

    @bp.errorhandler(ActionError)
    def action_error(exc: ActionError):
        return jsonify(error=str(exc)), exc.status

    @bp.get("/tenants")
    def list_tenants():
        with lock:
            return jsonify(tenants=[{"id": t.id, "name": t.name, "sites": list(t.sites)}
                                    for t in system.store.tenants.values()])

    @bp.post("/tenants")
    def create_tenant():
        tenant = actions.create_tenant(_body())
        return jsonify(actions.state(tenant.id)), 201

    @bp.get("/tenants/<tenant_id>/state")
    def state(tenant_id: str):
        return jsonify(actions.state(tenant_id))

    @bp.post("/tenants/<tenant_id>/products")
    def add_product(tenant_id: str):
        products = actions.add_product(tenant_id, _body())
        with lock:
            return jsonify(products=[catalog.product_json(p) for p in products]), 201

    @bp.post("/tenants/<tenant_id>/orders")
    def create_order(tenant_id: str):
        order = actions.create_order(tenant_id, _body())
        with lock:
            return jsonify(orders.order_json(order)), 201

    def order_action(name: str, do):
        def view(tenant_id: str, order_id: str):
            order = do(tenant_id, order_id)
            with lock:
                return jsonify(orders.order_json(order))
        bp.add_url_rule(f"/tenants/<tenant_id>/orders/<order_id>/{name}", f"order_{name}", view,
                        methods=["POST"])

    order_action("place", actions.place_order)
    order_action("pay", actions.pay_order)
    order_action("ship", actions.ship_order)
    order_action("cancel", actions.cancel_order)

    @bp.post("/tenants/<tenant_id>/orders/<order_id>/refund")
    def order_refund(tenant_id: str, order_id: str):
        """``{"lines": [{"sku", "quantity"}], "amount"}``, both optional: ``order.refunded``."""
        order = actions.refund_order(tenant_id, order_id, _body())
        with lock:
            return jsonify(orders.order_json(order))

    @bp.post("/tenants/<tenant_id>/webhooks")
    def webhook_settings(tenant_id: str):
        """``{"enabled": bool, "drop_next": N, "url": "..."}``, any subset."""
        body = _body()
        with lock:
            tenant = actions.tenant(tenant_id)
            if "enabled" in body:
                tenant.webhooks_enabled = bool(body["enabled"])
            if "drop_next" in body:
                tenant.drop_next = int(body["drop_next"])
            if "url" in body:
                tenant.webhook_url = body["url"] or None
            return jsonify(enabled=tenant.webhooks_enabled, drop_next=tenant.drop_next,
                           url=tenant.webhook_url)

    @bp.get("/deliveries")
    def deliveries():
        tenant_id = request.args.get("tenant")
        with lock:
            return jsonify(deliveries=[d.to_json() for d in system.dispatcher.deliveries
                                       if tenant_id in (None, d.tenant_id)])

    @bp.post("/deliveries/<delivery_id>/resend")
    def resend(delivery_id: str):
        with lock:
            delivery = next((d for d in system.dispatcher.deliveries if d.id == delivery_id), None)
            if delivery is None:
                raise ActionError(f"no delivery {delivery_id!r}", 404)
            system.dispatcher.resend(delivery)
            return jsonify(delivery.to_json())

    @bp.post("/deliveries/run")
    def run_due():
        """Attempt every due delivery now, in this request (deterministic for scripts)."""
        return jsonify(attempted=system.dispatcher.run_due())

    @bp.post("/fail")
    def fail():
        """``{"count": N}``: the next N API calls answer 503 (any tenant, before auth)."""
        with lock:
            system.fail_next = int(_body().get("count", 1))
            return jsonify(fail_next=system.fail_next)

    @bp.get("/launch-url")
    def mint_launch_url():
        """The signed URL the admin panel would frame: ``?tenant=&site=&page=&user=``."""
        with lock:
            tenant = actions.tenant(request.args.get("tenant", ""))
            site = request.args.get("site") or next(iter(tenant.sites))
            page = request.args.get("page", "settings")
            if site not in tenant.sites or page not in LAUNCH_PAGES:
                raise ActionError("unknown site or page (orders|products|settings)", 400)
            user = request.args.get("user", tenant.admin_user)
            ts = int(system.host.clock.time())
            return jsonify(url=launch_url(system.host.app_url, tenant.launch_secret, tenant.id,
                                          site, user, ts, page), ts=ts)

    return bp
