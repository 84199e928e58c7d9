"""The DG1 REST API (``https://api.dg1.ch/api/v1``), as proposed in NOTES section 3.

Every request: injected outage (control) -> API key -> per-tenant rate limit -> route.
A key sees only its own tenant; another tenant's site or order is simply not found.
"""
from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import MethodNotAllowed, NotFound

from . import catalog, orders
from .paging import page, parse_limit
from .problems import Problem
from .store import Order, Site, Tenant, parse_iso

if TYPE_CHECKING:
    from . import System

API_HOST = "api.dg1.ch"
IDEMPOTENCY_TTL = 24 * 3600
MAX_STOCK_ITEMS = 100


def create_api_blueprint(system: "System") -> Blueprint:
    bp = Blueprint("dg1_api", __name__, url_prefix=f"/{API_HOST}")
    bp.register_error_handler(Problem, lambda exc: exc.response())

    @bp.before_request
    def gate() -> None:
        with system.host.lock:
            if system.fail_next > 0:
                system.fail_next -= 1
                raise Problem(503, "service-unavailable", "Service unavailable",
                              "DG1 is temporarily unavailable; retry later",
                              headers={"Retry-After": "1"})
            tenant = _authenticate(system)
            allowed, remaining, retry_after = system.limiter.hit(tenant.id, system.host.clock.time())
        g.dg1_tenant, g.dg1_remaining = tenant, remaining
        if not allowed:
            raise Problem(429, "rate-limited", "Too many requests",
                          f"at most {system.limiter.per_second} requests per second per tenant",
                          headers={"Retry-After": str(retry_after)})

    @bp.after_request
    def rate_headers(response: Response) -> Response:
        if "dg1_remaining" in g:
            response.headers["X-RateLimit-Limit"] = str(system.limiter.per_second)
            response.headers["X-RateLimit-Remaining"] = str(g.dg1_remaining)
        return response

    @bp.get("/api/v1/sites")
    def list_sites():
        with system.host.lock:
            sites = list(g.dg1_tenant.sites.values())
            key = {s.id: (0.0, n) for n, s in enumerate(sites)}
            return jsonify(page(sites, lambda s: key[s.id], request.args.get("cursor"),
                                parse_limit(request.args.get("limit")), Site.to_json))

    @bp.get("/api/v1/sites/<site_id>")
    def get_site(site_id: str):
        with system.host.lock:
            return jsonify(_site(g.dg1_tenant, site_id).to_json())

    @bp.get("/api/v1/sites/<site_id>/orders")
    def list_orders(site_id: str):
        since = _since()
        status = request.args.get("status") or None
        if status is not None and status not in orders.STATUSES:
            raise Problem(400, "invalid-parameter", "Invalid parameter",
                          f"status must be one of {', '.join(orders.STATUSES)}", parameter="status")
        limit = parse_limit(request.args.get("limit"))
        with system.host.lock:
            site = _site(g.dg1_tenant, site_id)
            found = [o for o in g.dg1_tenant.orders.values() if o.site_id == site.id
                     and (since is None or o.updated_at >= since)
                     and (status is None or o.status == status)]
            return jsonify(page(found, _key, request.args.get("cursor"), limit, orders.order_json))

    @bp.get("/api/v1/sites/<site_id>/orders/<order_id>")
    def get_order(site_id: str, order_id: str):
        with system.host.lock:
            return jsonify(orders.order_json(_order(g.dg1_tenant, site_id, order_id)))

    @bp.patch("/api/v1/sites/<site_id>/orders/<order_id>")
    def patch_order(site_id: str, order_id: str):
        body = _json_body()
        key = request.headers.get("Idempotency-Key")
        fingerprint = hashlib.sha256(request.method.encode() + request.path.encode()
                                     + request.get_data()).hexdigest()
        with system.host.lock:
            tenant: Tenant = g.dg1_tenant
            now = system.host.clock.time()
            if key:
                replay = _replay(tenant, key, fingerprint, now)
                if replay is not None:
                    return replay
            order = _order(tenant, site_id, order_id)
            _apply_patch(system, tenant, order, body, now)
            result = orders.order_json(order)
            if key:
                tenant.idempotency[key] = (fingerprint, 200, result, now)
            return jsonify(result)

    @bp.get("/api/v1/sites/<site_id>/products")
    def list_products(site_id: str):
        since = _since()
        sku = request.args.get("sku")
        limit = parse_limit(request.args.get("limit"))
        with system.host.lock:
            site = _site(g.dg1_tenant, site_id)
            found = [p for p in catalog.site_products(g.dg1_tenant, site.id)
                     if (since is None or p.updated_at >= since) and (sku is None or p.sku == sku)]
            return jsonify(page(found, _key, request.args.get("cursor"), limit, catalog.product_json))

    @bp.put("/api/v1/sites/<site_id>/stock")
    def put_stock(site_id: str):
        body = _json_body()
        errors = catalog.validate_stock_items(body, MAX_STOCK_ITEMS)
        if errors:
            raise Problem(422, "validation-failed", "Validation failed", "; ".join(errors),
                          errors=errors)
        with system.host.lock:
            site = _site(g.dg1_tenant, site_id)
            now = system.host.clock.time()
            results = [catalog.set_stock(g.dg1_tenant, site.id, item, now) for item in body]
        return jsonify({"results": results})

    @bp.route("/", defaults={"rest": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    @bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def unknown(rest: str):
        allowed = _allowed_methods()
        if allowed:
            raise Problem(405, "method-not-allowed", "Method not allowed",
                          f"{request.method} is not allowed here",
                          headers={"Allow": ", ".join(allowed)})
        raise Problem(404, "not-found", "Not found", f"no such resource: {request.path}")

    return bp


def _authenticate(system: "System") -> Tenant:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    tenant = system.store.tenant_by_key(token.strip()) if scheme.lower() == "bearer" and token else None
    if tenant is None:
        raise Problem(401, "unauthorized", "Unauthorized",
                      "send a valid tenant API key as 'Authorization: Bearer <key>'",
                      headers={"WWW-Authenticate": 'Bearer realm="dg1", error="invalid_token"'})
    return tenant


def _key(record: Any) -> tuple[float, int]:
    return (record.updated_at, int(record.id))


def _since() -> float | None:
    raw = request.args.get("updated_since")
    if not raw:
        return None
    try:
        return parse_iso(raw)
    except ValueError as exc:
        raise Problem(400, "invalid-parameter", "Invalid parameter",
                      "updated_since must be an ISO 8601 date-time, e.g. 2025-05-01T10:00:00Z",
                      parameter="updated_since") from exc


def _site(tenant: Tenant, site_id: str) -> Site:
    site = tenant.sites.get(site_id)
    if site is None:
        raise Problem(404, "not-found", "Site not found", f"no site {site_id!r} in this tenant")
    return site


def _order(tenant: Tenant, site_id: str, order_id: str) -> Order:
    site = _site(tenant, site_id)
    order = tenant.orders.get(order_id)
    if order is None or order.site_id != site.id:
        raise Problem(404, "not-found", "Order not found", f"no order {order_id!r} on site {site_id!r}")
    return order


def _json_body() -> Any:
    if not request.mimetype == "application/json":
        raise Problem(415, "unsupported-media-type", "Unsupported media type",
                      "send the body as application/json")
    try:
        return json.loads(request.get_data(), parse_float=Decimal)
    except ValueError as exc:
        raise Problem(400, "malformed-json", "Malformed JSON", str(exc)) from exc


def _replay(tenant: Tenant, key: str, fingerprint: str, now: float) -> Response | None:
    stored = tenant.idempotency.get(key)
    if stored is None or now - stored[3] > IDEMPOTENCY_TTL:
        return None
    if stored[0] != fingerprint:
        raise Problem(422, "idempotency-key-reused", "Idempotency-Key reused",
                      "this Idempotency-Key was used with a different request")
    response = jsonify(stored[2])
    response.status_code = stored[1]
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _apply_patch(system: "System", tenant: Tenant, order: Order, body: Any, now: float) -> None:
    """Validate everything first, then change: a refused PATCH changes nothing."""
    if not isinstance(body, dict) or not body:
        raise Problem(422, "validation-failed", "Validation failed",
                      "body must be an object with status and/or external_refs")
    unknown = sorted(set(body) - {"status", "external_refs"})
    if unknown:
        raise Problem(422, "validation-failed", "Validation failed",
                      f"fields not allowed: {', '.join(unknown)}")
    status = body.get("status")
    if status is not None and status not in orders.STATUSES:
        raise Problem(422, "validation-failed", "Validation failed",
                      f"status must be one of {', '.join(orders.STATUSES)}")
    refs = body.get("external_refs")
    if refs is not None and not (isinstance(refs, dict) and len(refs) <= 20 and all(
            isinstance(k, str) and (v is None or (isinstance(v, str) and len(v) <= 255))
            for k, v in refs.items())):
        raise Problem(422, "validation-failed", "Validation failed",
                      "external_refs must map names to strings (<= 255 chars) or null, at most 20")
    if status is not None and status != order.status and status not in orders.TRANSITIONS[order.status]:
        allowed = sorted(orders.TRANSITIONS[order.status]) or ["none"]
        raise Problem(409, "invalid-transition", "Status change not allowed",
                      f"cannot change status from {order.status} to {status}",
                      current_status=order.status, allowed=allowed)
    changed = status is not None and orders.set_status(order, status, now)
    if refs:
        merged = dict(order.external_refs)
        for name, value in refs.items():  # a string sets the reference, null removes it
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        if merged != order.external_refs:
            order.external_refs = merged
            order.updated_at = now
    if changed:
        system.dispatcher.emit(tenant, order.site_id, "order.updated", order.id)


def _allowed_methods() -> list[str]:
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in ("GET", "PATCH", "PUT"):
        try:
            endpoint, _ = adapter.match(method=method)
        except (NotFound, MethodNotAllowed):
            continue
        if not endpoint.endswith(".unknown"):
            allowed.append(method)
    return allowed
