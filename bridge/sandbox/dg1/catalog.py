"""Products and stock of a DG1 tenant.

A product lives on one site. A catalogue product shared by several sites is one record
per site, tied by ``shared_product_id``, each with its own price, currency and stock:
stock set through one site changes that site's record only (our answer to NOTES
section 4 question 2, and the multi-site warning of the DG1 Bexio page).
"""
from __future__ import annotations

from typing import Any

from .money import dec, fmt, gross_from_net, net_from_gross
from .store import Product, Site, Tenant, iso


class CatalogError(ValueError):
    pass


def add_product(tenant: Tenant, site: Site, spec: dict[str, Any], product_id: str, now: float,
                shared_product_id: str | None = None) -> Product:
    """Create a product from a control spec: one price given, the other derived at the rate.

    ``price`` is read as gross on a site with prices incl. tax, net otherwise;
    ``price_gross`` / ``price_net`` may be given explicitly.
    """
    sku = spec.get("sku") or None
    if sku is not None and any(p.sku == sku and p.site_id == site.id for p in tenant.products.values()):
        # SKUs are unique within a site; the same SKU on two sites is allowed (NOTES section 4 q2).
        raise CatalogError(f"SKU {sku!r} already exists on site {site.id!r}")
    rate = dec(spec.get("tax_rate", "8.10"))
    if "price_gross" in spec:
        gross = dec(spec["price_gross"])
        net = dec(spec["price_net"]) if "price_net" in spec else net_from_gross(gross, rate)
    elif "price_net" in spec:
        net = dec(spec["price_net"])
        gross = gross_from_net(net, rate)
    else:
        price = dec(spec.get("price", "10.00"))
        gross, net = ((price, net_from_gross(price, rate)) if site.prices_include_tax
                      else (gross_from_net(price, rate), price))
    managed = bool(spec.get("is_stock_managed", True))
    product = Product(
        id=product_id, site_id=site.id, sku=sku, name=str(spec.get("name") or sku or "Product"),
        description=str(spec.get("description", "")), price_gross=gross, price_net=net,
        tax_rate=rate, currency=site.currency, active=bool(spec.get("active", True)),
        is_stock_managed=managed,
        stock_quantity=int(spec.get("stock_quantity", 0)) if managed else None,
        shared_product_id=shared_product_id, created_at=now, updated_at=now)
    tenant.products[product.id] = product
    return product


def product_json(product: Product) -> dict[str, Any]:
    return {
        "id": product.id, "site_id": product.site_id, "sku": product.sku, "name": product.name,
        "description": product.description, "price_gross": fmt(product.price_gross),
        "price_net": fmt(product.price_net), "tax_rate": fmt(product.tax_rate),
        "currency": product.currency, "active": product.active,
        "is_stock_managed": product.is_stock_managed, "stock_quantity": product.stock_quantity,
        "shared_product_id": product.shared_product_id,
        "created_at": iso(product.created_at), "updated_at": iso(product.updated_at),
    }


def site_products(tenant: Tenant, site_id: str) -> list[Product]:
    return [p for p in tenant.products.values() if p.site_id == site_id]


def set_stock(tenant: Tenant, site_id: str, item: dict[str, Any], now: float) -> dict[str, Any]:
    """Apply one absolute stock value on one site; the per-item result of ``PUT /stock``."""
    quantity = item["quantity"]
    if "sku" in item:
        result: dict[str, Any] = {"sku": item["sku"]}
        matches = [p for p in site_products(tenant, site_id) if p.sku == item["sku"]]
        if not matches:
            return {**result, "status": "unknown_sku"}
    else:
        result = {"product_id": str(item["product_id"])}
        product = tenant.products.get(str(item["product_id"]))
        if product is None or product.site_id != site_id:
            return {**result, "status": "unknown_product"}
        matches = [product]
    product = matches[0]
    result["product_id"] = product.id
    if not product.is_stock_managed:
        return {**result, "status": "not_stock_managed"}
    if product.stock_quantity != quantity:
        product.stock_quantity = quantity
        product.updated_at = now
    return {**result, "status": "ok", "stock_quantity": quantity}


def validate_stock_items(body: Any, max_items: int) -> list[str]:
    """Structural errors of a ``PUT /stock`` body (the whole request is refused on any)."""
    if not isinstance(body, list):
        return ["body must be a JSON array of {sku|product_id, quantity}"]
    if len(body) > max_items:
        return [f"at most {max_items} items per request, got {len(body)}"]
    errors = []
    for i, item in enumerate(body):
        if not isinstance(item, dict):
            errors.append(f"[{i}] must be an object")
            continue
        if ("sku" in item) == ("product_id" in item):
            errors.append(f"[{i}] needs exactly one of sku, product_id")
        elif "sku" in item and not (isinstance(item["sku"], str) and item["sku"]):
            errors.append(f"[{i}].sku must be a non-empty string")
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
            errors.append(f"[{i}].quantity must be a whole number >= 0")
    return errors
