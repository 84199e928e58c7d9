"""Orders of a DG1 tenant: how a checkout becomes an order, its totals, its statuses.

Amounts follow the site: on a site with prices incl. tax every unit price, shipping
price and fee is gross and tax is the part contained in it; otherwise they are net and
tax is added on top. Tax is summed per rate and rounded once per rate.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from .money import dec, fmt, q2, tax_of
from .store import Order, Site, Tenant, iso

STATUSES = ("PENDING", "PLACED", "PAID", "SHIPPED", "COMPLETED", "CANCELLED")

# Transitions the API accepts (our answer to NOTES section 4 question 4). COMPLETED may be
# set before SHIPPED: the Bexio flow completes an order once its invoice is paid.
TRANSITIONS: dict[str, set[str]] = {
    "PENDING": {"PLACED", "CANCELLED"},
    "PLACED": {"PAID", "SHIPPED", "COMPLETED", "CANCELLED"},
    "PAID": {"SHIPPED", "COMPLETED", "CANCELLED"},
    "SHIPPED": {"COMPLETED"},
    "COMPLETED": set(),
    "CANCELLED": set(),
}

DEMO_CUSTOMER = {"customer_id": "c-1", "email": "anna.muster@example.ch", "first_name": "Anna",
                 "last_name": "Muster", "company": None, "phone": "+41 44 123 45 67"}
DEMO_ADDRESS = {"street": "Bahnhofstrasse", "house_number": "1", "address_addition": None,
                "postcode": "8001", "city": "Zürich", "country_code": "CH"}


class OrderError(ValueError):
    pass


def _line(tenant: Tenant, site: Site, item: dict[str, Any]) -> dict[str, Any]:
    product = None
    if item.get("product_id") is not None:
        product = tenant.products.get(str(item["product_id"]))
    elif item.get("sku"):
        product = next((p for p in tenant.products.values()
                        if p.site_id == site.id and p.sku == item["sku"]), None)
    if product is None or product.site_id != site.id:
        if "unit_price" not in item:
            raise OrderError(f"no product for item {item!r} on site {site.id!r}")
    quantity = dec(item.get("quantity", 1))
    if "unit_price" in item:
        unit = dec(item["unit_price"])
    else:
        unit = product.price_gross if site.prices_include_tax else product.price_net
    rate = dec(item["tax_rate"]) if "tax_rate" in item else product.tax_rate
    discount = dec(item.get("discount_amount", "0"))
    return {"id": None, "product_id": product.id if product else None,
            "sku": product.sku if product else item.get("sku"),
            "name": item.get("name") or (product.name if product else "Item"),
            "quantity": quantity, "unit_price": q2(unit), "tax_rate": rate,
            "discount_amount": q2(discount), "line_total": q2(unit * quantity - discount)}


def _totals(site: Site, lines: list[dict], shipments: list[dict], payments: list[dict]) -> dict:
    gross = site.prices_include_tax
    bases: dict[Decimal, Decimal] = {}
    for amount, rate in ([(l["line_total"], l["tax_rate"]) for l in lines]
                         + [(s["price"], s["tax_rate"]) for s in shipments]
                         + [(p["fee_amount"], p["fee_tax_rate"]) for p in payments]):
        bases[rate] = bases.get(rate, Decimal(0)) + amount
    taxes = [{"rate": rate, "taxable_amount": q2(base), "amount": tax_of(base, rate, gross)}
             for rate, base in sorted(bases.items()) if base]
    subtotal = sum((l["line_total"] for l in lines), Decimal(0))
    shipping = sum((s["price"] for s in shipments), Decimal(0))
    fees = sum((p["fee_amount"] for p in payments), Decimal(0))
    tax_total = sum((t["amount"] for t in taxes), Decimal(0))
    grand = subtotal + shipping + fees + (Decimal(0) if gross else tax_total)
    return {"subtotal": subtotal, "shipping_total": shipping, "payment_fee_total": fees,
            "discount_total": sum((l["discount_amount"] for l in lines), Decimal(0)),
            "taxes": taxes, "tax_total": tax_total, "grand_total": grand}


def build_order(tenant: Tenant, site: Site, spec: dict[str, Any], order_id: str, now: float) -> Order:
    """A PENDING order (checkout not yet finished) from a control spec."""
    items = spec.get("items") or spec.get("line_items")
    if not items:
        raise OrderError("an order needs items: [{sku|product_id, quantity}]")
    lines = [_line(tenant, site, item) for item in items]
    for n, line in enumerate(lines, 1):
        line["id"] = f"{order_id}-{n}"
    shipments = [{"method": s.get("method", "Post Economy"), "price": q2(dec(s.get("price", "7.00"))),
                  "tax_rate": dec(s.get("tax_rate", "8.10")), "tracking": s.get("tracking")}
                 for s in spec.get("shipments", [{}])]
    pay_specs = spec.get("payments", [{}])
    payments = [{"provider": p.get("provider", "datatrans"), "method": p.get("method", "card"),
                 "amount": Decimal(0), "fee_amount": q2(dec(p.get("fee_amount", "0.00"))),
                 "fee_tax_rate": dec(p.get("fee_tax_rate", "8.10")),
                 "status": p.get("status", "captured"), "captured_at": None,
                 "transaction_id": p.get("transaction_id") or f"tx-{order_id}-{n}"}
                for n, p in enumerate(pay_specs, 1)]
    totals = _totals(site, lines, shipments, payments)
    if payments:
        payments[0]["amount"] = totals["grand_total"]
    return Order(
        id=order_id, number=tenant.next_order_number(site.id), site_id=site.id, status="PENDING",
        currency=site.currency, language=spec.get("language", site.default_language),
        prices_include_tax=site.prices_include_tax,
        customer={**DEMO_CUSTOMER, **spec.get("customer", {})},
        billing_address={**DEMO_ADDRESS, **spec.get("billing_address", {})},
        shipping_address={**DEMO_ADDRESS, **spec.get("shipping_address", spec.get("billing_address", {}))},
        line_items=lines, shipments=shipments, payments=payments, totals=totals,
        created_at=now, updated_at=now)


def place(order: Order, now: float) -> None:
    """The customer completed checkout: PLACED, or PAID at once if the payment was captured."""
    if order.status != "PENDING":
        raise OrderError(f"order {order.id} is {order.status}, not PENDING")
    order.placed_at = now
    captured = False
    for payment in order.payments:
        if payment["status"] == "captured":
            payment["captured_at"] = now
            captured = True
    order.status = "PAID" if captured else "PLACED"
    order.updated_at = now


def capture(order: Order, now: float) -> None:
    """Payment received later (invoice, bank transfer)."""
    if order.status not in ("PLACED",):
        raise OrderError(f"order {order.id} is {order.status}, not PLACED")
    for payment in order.payments:
        payment["status"], payment["captured_at"] = "captured", now
    set_status(order, "PAID", now)


def set_status(order: Order, status: str, now: float) -> bool:
    """Apply a transition; False when the order already has that status (a no-op)."""
    if status == order.status:
        return False
    if status not in TRANSITIONS[order.status]:
        raise OrderError(f"cannot change status from {order.status} to {status}")
    order.status = status
    order.updated_at = now
    if status == "COMPLETED":
        order.completed_at = now
    if status == "CANCELLED":
        order.cancelled_at = now
    return True


def _money(record: dict[str, Any], *keys: str) -> dict[str, Any]:
    out = dict(record)
    for key in keys:
        out[key] = fmt(out[key])
    return out


def order_json(order: Order) -> dict[str, Any]:
    """The full order as ``GET /sites/{site}/orders/{order}`` returns it (NOTES section 3)."""
    totals = _money(order.totals, "subtotal", "shipping_total", "payment_fee_total",
                    "discount_total", "tax_total", "grand_total")
    totals["taxes"] = [_money(t, "rate", "taxable_amount", "amount") for t in order.totals["taxes"]]
    return {
        "id": order.id, "number": order.number, "site_id": order.site_id, "status": order.status,
        "created_at": iso(order.created_at), "updated_at": iso(order.updated_at),
        "placed_at": iso(order.placed_at), "completed_at": iso(order.completed_at),
        "cancelled_at": iso(order.cancelled_at),
        "currency": order.currency, "language": order.language,
        "prices_include_tax": order.prices_include_tax,
        "customer": dict(order.customer), "billing_address": dict(order.billing_address),
        "shipping_address": dict(order.shipping_address),
        "line_items": [{**_money(l, "unit_price", "tax_rate", "discount_amount", "line_total"),
                        "quantity": _quantity(l["quantity"])} for l in order.line_items],
        "shipments": [_money(s, "price", "tax_rate") for s in order.shipments],
        "payments": [{**_money(p, "amount", "fee_amount", "fee_tax_rate"),
                      "captured_at": iso(p["captured_at"])} for p in order.payments],
        "totals": totals,
        "external_refs": dict(order.external_refs),
    }


def _quantity(value: Decimal) -> int | str:
    """Whole quantities as JSON integers; fractional ones (by weight) as decimal strings."""
    return int(value) if value == value.to_integral_value() else format(value, "f")
