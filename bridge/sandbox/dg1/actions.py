"""What happens in DG1 outside the API: tenants set up, products listed, customers check out.

Shared by the admin panel pages and the control endpoints, so a click and a test script
do exactly the same thing (including the webhook it fires).
"""
from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from . import catalog, orders
from .store import Order, Product, Site, Tenant

if TYPE_CHECKING:
    from . import System

DEMO_TENANT = "demo"
SWISS_TENANT = "alpen"


class ActionError(ValueError):
    """A request the shop would refuse; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


class Actions:
    def __init__(self, system: "System") -> None:
        self.system = system

    @property
    def _now(self) -> float:
        return self.system.host.clock.time()

    def tenant(self, tenant_id: str) -> Tenant:
        tenant = self.system.store.tenants.get(tenant_id)
        if tenant is None:
            raise ActionError(f"no tenant {tenant_id!r}", 404)
        return tenant

    def create_tenant(self, spec: dict[str, Any]) -> Tenant:
        tenant_id = str(spec.get("id") or "")
        if not tenant_id or not tenant_id.replace("-", "").replace("_", "").isalnum():
            raise ActionError("tenant id must be letters, digits, - or _")
        with self.system.host.lock:
            if tenant_id in self.system.store.tenants:
                raise ActionError(f"tenant {tenant_id!r} exists", 409)
            sites = spec.get("sites") or [{"id": "main"}]
            tenant = self.system.store.add_tenant(
                tenant_id, spec.get("name"), api_key=spec.get("api_key"),
                webhook_secret=spec.get("webhook_secret"), launch_secret=spec.get("launch_secret"),
                webhook_url=spec.get("webhook_url"))
            for s in sites:
                site_id = str(s.get("id") or f"site{len(tenant.sites) + 1}")
                tenant.sites[site_id] = Site(
                    id=site_id, name=s.get("name", site_id),
                    domain=s.get("domain", f"{site_id}.{tenant_id}.example.ch"),
                    currency=s.get("currency", "CHF"), default_language=s.get("default_language", "de"),
                    prices_include_tax=bool(s.get("prices_include_tax", True)))
            return tenant

    def add_product(self, tenant_id: str, spec: dict[str, Any]) -> list[Product]:
        """One product, or one per site in ``sites`` (a shared product), same SKU on each."""
        with self.system.host.lock:
            tenant = self.tenant(tenant_id)
            site_ids = spec.get("sites") or [spec.get("site")]
            sites = []
            for site_id in site_ids:
                if site_id not in tenant.sites:
                    raise ActionError(f"no site {site_id!r} in tenant {tenant_id!r}", 404)
                sites.append(tenant.sites[site_id])
            store = self.system.store
            shared = store.new_id() if len(sites) > 1 else None
            per_site = spec.get("per_site", {})
            try:
                return [catalog.add_product(tenant, site, {**spec, **per_site.get(site.id, {})},
                                            store.new_id(), self._now, shared) for site in sites]
            except (catalog.CatalogError, ValueError) as exc:
                raise ActionError(str(exc), 409 if isinstance(exc, catalog.CatalogError) else 422)

    def create_order(self, tenant_id: str, spec: dict[str, Any]) -> Order:
        """A checkout; placed at once (firing ``order.placed``) unless ``"place": false``."""
        with self.system.host.lock:
            tenant = self.tenant(tenant_id)
            site = tenant.sites.get(spec.get("site") or next(iter(tenant.sites)))
            if site is None:
                raise ActionError(f"no site {spec.get('site')!r} in tenant {tenant_id!r}", 404)
            try:
                order = orders.build_order(tenant, site, spec, self.system.store.new_id(), self._now)
            except (orders.OrderError, ValueError) as exc:
                raise ActionError(str(exc)) from exc
            tenant.orders[order.id] = order
            if spec.get("place", True):
                self.place_order(tenant_id, order.id)
            return order

    def place_order(self, tenant_id: str, order_id: str) -> Order:
        """The customer completes checkout: ``order.placed``."""
        return self._change(tenant_id, order_id, orders.place, "order.placed")

    def pay_order(self, tenant_id: str, order_id: str) -> Order:
        return self._change(tenant_id, order_id, orders.capture, "order.updated")

    def cancel_order(self, tenant_id: str, order_id: str) -> Order:
        return self._change(tenant_id, order_id,
                            lambda o, now: orders.set_status(o, "CANCELLED", now), "order.updated")

    def ship_order(self, tenant_id: str, order_id: str) -> Order:
        return self._change(tenant_id, order_id,
                            lambda o, now: orders.set_status(o, "SHIPPED", now), "order.updated")

    def refund_order(self, tenant_id: str, order_id: str, spec: dict[str, Any]) -> Order:
        """The shop refunds a paid order, whole or in part: ``order.refunded`` carrying the
        refund (docs/dg1.md section 5). ``spec``: ``{"lines": [{"sku", "quantity"}], "amount"}``,
        both optional: no lines refunds every line, no amount refunds the lines' value (the
        whole grand total when no lines are named)."""
        with self.system.host.lock:
            tenant = self.tenant(tenant_id)
            order = tenant.orders.get(order_id)
            if order is None:
                raise ActionError(f"no order {order_id!r} in tenant {tenant_id!r}", 404)
            if order.status not in ("PAID", "SHIPPED", "COMPLETED"):
                raise ActionError("only a paid order can be refunded", 409)
            by_sku = {str(l.get("sku")): l for l in order.line_items}
            wanted = spec.get("lines") or [{"sku": l.get("sku"), "quantity": str(l["quantity"])}
                                           for l in order.line_items]
            lines = []
            for item in wanted:
                line = by_sku.get(str(item.get("sku")))
                if line is None:
                    raise ActionError(f"no line with sku {item.get('sku')!r}", 422)
                qty = Decimal(str(item.get("quantity", line["quantity"])))
                amount = line["line_total"] * qty / Decimal(str(line["quantity"]))
                if not order.prices_include_tax:  # a refund is gross: what the customer paid
                    amount = amount * (1 + Decimal(str(line["tax_rate"])) / 100)
                amount = amount.quantize(Decimal("0.01"))
                lines.append({"sku": line.get("sku"), "name": line.get("name", ""), "quantity": str(qty),
                              "amount": str(amount)})
            grand = Decimal(str(order.totals["grand_total"]))
            default = grand if not spec.get("lines") else sum((Decimal(l["amount"]) for l in lines), Decimal(0))
            amount = Decimal(str(spec.get("amount", default))).quantize(Decimal("0.01"))
            refunded = sum((Decimal(r["amount"]) for r in order.refunds), Decimal(0))
            if amount <= 0 or refunded + amount > grand:
                raise ActionError("the refund exceeds what was paid", 409)
            refund = {"refund_id": f"rf-{order.id}-{len(order.refunds) + 1}", "amount": str(amount),
                      "currency": order.currency, "lines": lines}
            order.refunds.append(refund)
            order.updated_at = self._now
            self.system.dispatcher.emit(tenant, order.site_id, "order.refunded", order.id, refund)
            return order

    def _change(self, tenant_id: str, order_id: str, change, topic: str) -> Order:
        with self.system.host.lock:
            tenant = self.tenant(tenant_id)
            order = tenant.orders.get(order_id)
            if order is None:
                raise ActionError(f"no order {order_id!r} in tenant {tenant_id!r}", 404)
            try:
                if change(order, self._now) is False:
                    return order  # already in that status: nothing happened, no event
            except orders.OrderError as exc:
                raise ActionError(str(exc), 409) from exc
            self.system.dispatcher.emit(tenant, order.site_id, topic, order.id)
            return order

    def seed_demo(self) -> None:
        """The demo tenant a fresh sandbox starts with (docs/sandbox/dg1.md lists it)."""
        with self.system.host.lock:
            self.create_tenant({"id": DEMO_TENANT, "name": "Demo Shop AG", "sites": [
                {"id": "ch", "name": "Demo Shop Schweiz", "domain": "shop.demo.example.ch",
                 "currency": "CHF", "default_language": "de", "prices_include_tax": True},
                {"id": "pro", "name": "Demo Shop Pro (B2B)", "domain": "pro.demo.example.ch",
                 "currency": "CHF", "default_language": "fr", "prices_include_tax": False},
                {"id": "eu", "name": "Demo Shop Europe", "domain": "eu.demo.example.ch",
                 "currency": "EUR", "default_language": "en", "prices_include_tax": True},
            ]})
            self.add_product(DEMO_TENANT, {"site": "ch", "sku": "MUG-01", "name": "Espresso mug",
                                           "price": "19.90", "stock_quantity": 40})
            self.add_product(DEMO_TENANT, {"sites": ["ch", "pro"], "sku": "TEA-100",
                                           "name": "Mountain tea 100 g", "tax_rate": "2.60",
                                           "per_site": {"ch": {"price": "12.50"}, "pro": {"price": "9.80"}},
                                           "stock_quantity": 25})
            self.add_product(DEMO_TENANT, {"sites": ["ch", "pro"], "sku": None,
                                           "name": "Gift wrapping", "price": "4.00",
                                           "is_stock_managed": False})
            self.add_product(DEMO_TENANT, {"sites": ["ch", "eu"], "sku": None, "name": "Linen apron",
                                           "price": "39.00", "stock_quantity": 8})
            self.add_product(DEMO_TENANT, {"site": "eu", "sku": "MUG-01-EU", "name": "Espresso mug",
                                           "price": "18.00", "tax_rate": "8.10", "stock_quantity": 12})
            self.create_order(DEMO_TENANT, {"site": "ch", "place": False, "items": [
                {"sku": "MUG-01", "quantity": 2}, {"sku": "TEA-100", "quantity": 1}]})
            self.create_order(DEMO_TENANT, {"site": "pro", "items": [{"sku": "TEA-100", "quantity": 10}],
                                            "customer": {"company": "Café Alpenblick GmbH"},
                                            "payments": [{"method": "invoice", "status": "pending"}]})
            # A second shop selling in one currency only, as the Bexio integration needs
            # (one Bexio currency for every site): the one the demo connects to Bexio.
            self.create_tenant({"id": SWISS_TENANT, "name": "Alpen Laden GmbH", "sites": [
                {"id": "ch", "name": "Alpen Laden", "domain": "shop.alpen.example.ch",
                 "currency": "CHF", "default_language": "de", "prices_include_tax": True},
                {"id": "li", "name": "Alpen Laden Liechtenstein", "domain": "shop.alpen.example.li",
                 "currency": "CHF", "default_language": "de", "prices_include_tax": True},
            ]})
            self.add_product(SWISS_TENANT, {"sites": ["ch", "li"], "sku": "CHEESE-500",
                                            "name": "Alpine cheese 500 g", "tax_rate": "2.60", "price": "14.50",
                                            "stock_quantity": 30})
            self.add_product(SWISS_TENANT, {"site": "ch", "sku": "KNIFE-01", "name": "Cheese knife",
                                            "price": "29.00", "stock_quantity": 12})
            # Orders the shop had before the integration: a paid one already shipped, one waiting.
            shipped = self.create_order(SWISS_TENANT, {"site": "ch", "items": [
                {"sku": "CHEESE-500", "quantity": 2}, {"sku": "KNIFE-01", "quantity": 1}],
                "customer": {"company": "Hotel Seeblick AG"}})
            self.ship_order(SWISS_TENANT, shipped.id)
            self.create_order(SWISS_TENANT, {"site": "li", "items": [{"sku": "CHEESE-500", "quantity": 4}],
                                             "payments": [{"method": "invoice", "status": "pending"}]})
            # The demo data exists before any app is listening: its events are not sent.
            self.system.dispatcher.deliveries.clear()

    def state(self, tenant_id: str) -> dict[str, Any]:
        """What tests assert on: orders with status and refs, products with stock."""
        with self.system.host.lock:
            tenant = self.tenant(tenant_id)
            return {
                "tenant": {"id": tenant.id, "name": tenant.name, "api_key": tenant.api_key,
                           "webhook_secret": tenant.webhook_secret,
                           "launch_secret": tenant.launch_secret,
                           "webhook_url": tenant.webhook_url or
                           f"{self.system.host.app_url}/hooks/dg1/{tenant.id}",
                           "webhooks_enabled": tenant.webhooks_enabled,
                           "drop_next": tenant.drop_next},
                "sites": [s.to_json() for s in tenant.sites.values()],
                "orders": [orders.order_json(o) for o in tenant.orders.values()],
                "products": [catalog.product_json(p) for p in tenant.products.values()],
            }
