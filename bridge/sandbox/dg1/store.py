"""In-memory state of the simulated DG1: tenants, their sites, products, orders.

All mutation happens under ``host.lock``; records are plain dataclasses so the API,
admin pages and control endpoints read one source of truth.
"""
from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any


def iso(ts: float | None) -> str | None:
    """Unix seconds -> ISO 8601 UTC with a Z, the only time format DG1 sends."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso(text: str) -> float:
    """ISO 8601 (with Z or an offset) -> unix seconds; a naive time is taken as UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "+"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def credential(kind: str, tenant_id: str) -> str:
    """Demo credentials per tenant: ``dg1-demo-key-<tenant>`` etc., prefix overridable by env."""
    defaults = {"API_KEY": "dg1-demo-key-", "WEBHOOK_SECRET": "dg1-demo-webhook-",
                "LAUNCH_SECRET": "dg1-demo-launch-"}
    prefix = os.environ.get(f"SANDBOX_DG1_{kind}_PREFIX", defaults[kind])
    return f"{prefix}{tenant_id}"


@dataclass
class Site:
    id: str
    name: str
    domain: str
    currency: str
    default_language: str
    prices_include_tax: bool

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "domain": self.domain, "currency": self.currency,
                "default_language": self.default_language,
                "prices_include_tax": self.prices_include_tax}


@dataclass
class Product:
    id: str
    site_id: str
    sku: str | None
    name: str
    description: str
    price_gross: Decimal
    price_net: Decimal
    tax_rate: Decimal
    currency: str
    active: bool
    is_stock_managed: bool
    stock_quantity: int | None
    shared_product_id: str | None
    created_at: float
    updated_at: float


@dataclass
class Order:
    id: str
    number: str
    site_id: str
    status: str
    currency: str
    language: str
    prices_include_tax: bool
    customer: dict[str, Any]
    billing_address: dict[str, Any]
    shipping_address: dict[str, Any]
    line_items: list[dict[str, Any]]
    shipments: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    totals: dict[str, Any]
    created_at: float
    updated_at: float
    placed_at: float | None = None
    completed_at: float | None = None
    cancelled_at: float | None = None
    external_refs: dict[str, str] = field(default_factory=dict)
    refunds: list[dict[str, Any]] = field(default_factory=list)  # order.refunded (docs/dg1.md section 5)


@dataclass
class Tenant:
    id: str
    name: str
    api_key: str
    webhook_secret: str
    launch_secret: str
    webhook_url: str | None = None  # None: <app>/hooks/dg1/<tenant_id>
    webhooks_enabled: bool = True
    drop_next: int = 0
    admin_user: str = "admin"
    sites: dict[str, Site] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    order_numbers: dict[str, int] = field(default_factory=dict)
    # Idempotency-Key -> (request fingerprint, status, body, stored at)
    idempotency: dict[str, tuple[str, int, Any, float]] = field(default_factory=dict)

    def next_order_number(self, site_id: str) -> str:
        number = self.order_numbers.get(site_id, 1000) + 1
        self.order_numbers[site_id] = number
        return str(number)


class Store:
    """Every tenant; ids of products and orders are unique across the whole sandbox."""

    def __init__(self) -> None:
        self.tenants: dict[str, Tenant] = {}
        self._ids = itertools.count(100001)

    def new_id(self) -> str:
        return str(next(self._ids))

    def tenant_by_key(self, api_key: str) -> Tenant | None:
        for tenant in self.tenants.values():
            if tenant.api_key == api_key:
                return tenant
        return None

    def add_tenant(self, tenant_id: str, name: str | None = None, **secrets: str | None) -> Tenant:
        tenant = Tenant(
            id=tenant_id, name=name or tenant_id,
            api_key=secrets.get("api_key") or credential("API_KEY", tenant_id),
            webhook_secret=secrets.get("webhook_secret") or credential("WEBHOOK_SECRET", tenant_id),
            launch_secret=secrets.get("launch_secret") or credential("LAUNCH_SECRET", tenant_id),
            webhook_url=secrets.get("webhook_url"))
        self.tenants[tenant_id] = tenant
        return tenant
