"""Pure translation DG1 JSON <-> ``bridge.domain``. No I/O, no settings lookups.

Identities (the keys a ledger stores as its external reference):

- an order is ``dg1:<tenant>:<site>:<order id>`` (the Bexio ``api_reference`` of the
  invoice, issue 7) and its ``platform_id`` is ``<site>:<order id>``;
- a customer is ``dg1:<tenant>:customer:<customer_id>``, or by e-mail for a guest;
- a product with a SKU is ``dg1:<tenant>:sku:<SKU>`` whatever its site: one SKU on several
  sites is one ledger article (the seed's multi-site rule). A product without SKU is
  ``dg1:<tenant>:product:<site>:<id>``, one article per site's product.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ...domain import (Address, Invoice, InvoiceStatus, Line, LineKind, Party, PartyKind, Payment, Person,
                       Product, StockLevel)

Json = dict[str, Any]
ZERO = Decimal("0")
# DG1 is a Swiss platform (api.dg1.ch); an order placed at 23:30 UTC belongs to the next
# day's books in Zurich. The service date picks the Swiss VAT period (7.7 % vs 8.1 %).
SHOP_TIMEZONE = ZoneInfo("Europe/Zurich")


def parse_time(value: str | None) -> datetime | None:
    """DG1 times are ISO 8601 UTC with ``Z`` (docs/dg1.md, conventions)."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def format_time(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_date(value: datetime | None, tz: ZoneInfo = SHOP_TIMEZONE) -> date | None:
    return value.astimezone(tz).date() if value else None


def money(value: Any) -> Decimal:
    """DG1 money and rates are decimal strings ("49.90", "8.10"); never floats."""
    if value is None or value == "":
        return ZERO
    if isinstance(value, float):
        raise TypeError("DG1 money must not be a float")
    return Decimal(str(value))


# --------------------------------------------------------------------------------------
# ids
# --------------------------------------------------------------------------------------


def order_platform_id(site_id: str, order_id: str) -> str:
    return f"{site_id}:{order_id}"


def split_platform_id(platform_id: str) -> tuple[str, str]:
    """``<site>:<order>`` -> (site, order); site ids never contain ``:`` in DG1's model,
    order ids may not either, but only the first ``:`` separates."""
    site, sep, order = platform_id.partition(":")
    if not sep or not site or not order:
        raise ValueError(f"not a DG1 order id: {platform_id!r} (expected <site>:<order>)")
    return site, order


def order_key(tenant_id: str, site_id: str, order_id: str) -> str:
    return f"dg1:{tenant_id}:{site_id}:{order_id}"


def product_key(tenant_id: str, product: Json) -> str:
    if product.get("sku"):
        return f"dg1:{tenant_id}:sku:{product['sku']}"
    return f"dg1:{tenant_id}:product:{product['site_id']}:{product['id']}"


def parse_product_key(key: str) -> tuple[str, str, str | None]:
    """-> ("sku", sku, None) or ("product", product id, site)."""
    parts = key.split(":")
    if len(parts) >= 4 and parts[0] == "dg1" and parts[2] == "sku":
        return "sku", ":".join(parts[3:]), None
    if len(parts) == 5 and parts[0] == "dg1" and parts[2] == "product":
        return "product", parts[4], parts[3]
    raise ValueError(f"not a DG1 product key: {key!r}")


# --------------------------------------------------------------------------------------
# orders -> invoices
# --------------------------------------------------------------------------------------


def order_status(order: Json) -> InvoiceStatus:
    """Where an order stands as an invoice.

    COMPLETED is what bridge sets once the ledger says paid, so it counts as paid;
    otherwise an order is paid when its captured payments cover the grand total.
    """
    status = order.get("status")
    if status == "CANCELLED":
        return InvoiceStatus.VOIDED
    if status == "PENDING":
        return InvoiceStatus.DRAFT  # a cart: checkout not finished
    if status == "COMPLETED":
        return InvoiceStatus.PAID
    captured = sum((money(p.get("amount")) for p in order.get("payments") or [] if p.get("status") == "captured"),
                   ZERO)
    total = money((order.get("totals") or {}).get("grand_total"))
    if captured > ZERO and captured >= total:
        return InvoiceStatus.PAID
    return InvoiceStatus.PARTIALLY_PAID if captured > ZERO else InvoiceStatus.AUTHORISED


def address(raw: Json | None) -> Address:
    raw = raw or {}
    street = " ".join(p for p in (raw.get("street") or "", raw.get("house_number") or "") if p).strip()
    if raw.get("address_addition"):
        street = f"{street}, {raw['address_addition']}" if street else raw["address_addition"]
    return Address(street=street, city=raw.get("city") or "", postcode=raw.get("postcode") or "",
                   country_code=raw.get("country_code") or "")


def party(tenant_id: str, order: Json) -> Party:
    """The order's customer: a company (with the person as its contact) when ``company``
    is set, else a person. Guests without ``customer_id`` are keyed by e-mail."""
    customer = order.get("customer") or {}
    first, last = customer.get("first_name") or "", customer.get("last_name") or ""
    email, phone = customer.get("email") or "", customer.get("phone") or ""
    if customer.get("customer_id"):
        key = f"dg1:{tenant_id}:customer:{customer['customer_id']}"
    else:
        key = f"dg1:{tenant_id}:email:{email.strip().lower()}"
    person_name = " ".join(p for p in (first, last) if p)
    common = dict(key=key, email=email, phone=phone, address=address(order.get("billing_address")),
                  currency=order.get("currency"), platform_id=customer.get("customer_id"))
    company = (customer.get("company") or "").strip()
    if company:
        return Party(kind=PartyKind.COMPANY, name=company,
                     contact_persons=[Person(first_name=first, last_name=last, email=email, phone=phone)]
                     if person_name else [], **common)
    return Party(kind=PartyKind.PERSON, name=person_name or email, first_name=first, last_name=last, **common)


def product_lines(order: Json) -> list[Line]:
    """Line items; a line's discount stays on the line (DG1 discounts are per line:
    ``line_total = quantity x unit_price - discount_amount``, docs/dg1.md section 4.2)."""
    lines = []
    for item in order.get("line_items") or []:
        discount = money(item.get("discount_amount"))
        lines.append(Line(description=item.get("name") or item.get("sku") or "", quantity=money(item.get("quantity")),
                          unit_price=money(item.get("unit_price")), kind=LineKind.PRODUCT,
                          tax_rate=money(item.get("tax_rate")), discount_amount=discount or None,
                          product_id=item.get("product_id"), sku=item.get("sku") or None))
    return lines


def shipping_lines(order: Json) -> list[Line]:
    return [Line(description=f"Shipping: {s['method']}" if s.get("method") else "Shipping", quantity=Decimal("1"),
                 unit_price=money(s.get("price")), kind=LineKind.SHIPPING, tax_rate=money(s.get("tax_rate")))
            for s in order.get("shipments") or [] if money(s.get("price")) != ZERO]


def payment_fee_lines(order: Json) -> list[Line]:
    """A payment fee is a surcharge the customer pays, taxed at its own rate."""
    return [Line(description=f"Payment fee: {p['method']}" if p.get("method") else "Payment fee",
                 quantity=Decimal("1"), unit_price=money(p.get("fee_amount")), kind=LineKind.PAYMENT_FEE,
                 tax_rate=money(p.get("fee_tax_rate")))
            for p in order.get("payments") or [] if money(p.get("fee_amount")) != ZERO]


def discount_lines(order: Json) -> list[Line]:
    """An order-level discount: whatever ``discount_total`` has beyond the per-line
    discounts. DG1 models none today (docs/dg1.md question 3); should one appear it is
    shown as its own line, untaxed until the contract says how it is taxed, rather than
    silently dropped."""
    per_line = sum((money(i.get("discount_amount")) for i in order.get("line_items") or []), ZERO)
    extra = money((order.get("totals") or {}).get("discount_total")) - per_line
    if extra <= ZERO:
        return []
    return [Line(description="Discount", quantity=Decimal("1"), unit_price=-extra, kind=LineKind.DISCOUNT)]


def payments(order: Json) -> list[Payment]:
    """Captured payments only; a pending one (invoice, prepayment) has not been paid."""
    found = []
    for p in order.get("payments") or []:
        if p.get("status") != "captured":
            continue
        captured = parse_time(p.get("captured_at")) or parse_time(order.get("placed_at"))
        found.append(Payment(amount=money(p.get("amount")), paid_on=local_date(captured) or date.today(),
                             currency=order.get("currency") or "", reference=p.get("transaction_id") or "",
                             method=p.get("method") or p.get("provider") or ""))
    return found


def order_url(admin_url: str, tenant_id: str, order: Json) -> str:
    return f"{admin_url.rstrip('/')}/{tenant_id}/orders/{order['id']}?site={order['site_id']}"


def invoice(tenant_id: str, order: Json, *, admin_url: str = "") -> Invoice:
    """A DG1 order as the invoice a ledger books.

    Prices are gross or net as the order's site has them (``prices_include_tax``); the
    ledger mapper honours the flag. The issue date is the checkout date (``placed_at``),
    not the creation of the cart.
    """
    placed = parse_time(order.get("placed_at")) or parse_time(order.get("created_at"))
    return Invoice(
        key=order_key(tenant_id, order["site_id"], order["id"]),
        number=str(order.get("number") or order["id"]),
        issue_date=local_date(placed) or date.today(),
        currency=order.get("currency") or "",
        party=party(tenant_id, order),
        lines=product_lines(order) + shipping_lines(order) + payment_fee_lines(order) + discount_lines(order),
        reference=str(order.get("number") or ""),
        prices_include_tax=bool(order.get("prices_include_tax")),
        status=order_status(order),
        platform_url=order_url(admin_url, tenant_id, order) if admin_url else "",
        payments=payments(order),
        language=order.get("language") or "",
        platform_id=order_platform_id(order["site_id"], order["id"]),
        updated_at=parse_time(order.get("updated_at")),
    )


def grand_total(order: Json) -> Decimal:
    """What the customer pays, as DG1 computed it (tax rounded once per rate, half up):
    what a ledger's total is checked against."""
    return money((order.get("totals") or {}).get("grand_total"))


def tax_rates(order: Json) -> list[Decimal]:
    """Every tax rate an order uses (line items, shipping, fees): what the tax mapping
    must cover before the order can be booked."""
    rates = {money(t.get("rate")) for t in (order.get("totals") or {}).get("taxes") or []}
    rates |= {line.tax_rate for line in product_lines(order) + shipping_lines(order) + payment_fee_lines(order)
              if line.tax_rate is not None}
    return sorted(rates)


# --------------------------------------------------------------------------------------
# products and stock
# --------------------------------------------------------------------------------------


def product(tenant_id: str, raw: Json, *, prices_include_tax: bool) -> Product:
    """A site's product. ``price`` is gross on a site whose prices include tax, net
    otherwise, as the site sells it; both figures come from DG1, none is computed here."""
    price = raw.get("price_gross") if prices_include_tax else raw.get("price_net")
    return Product(key=product_key(tenant_id, raw), name=raw.get("name") or "", sku=raw.get("sku") or None,
                   price=money(price), currency=raw.get("currency") or "", tax_rate=money(raw.get("tax_rate")),
                   prices_include_tax=prices_include_tax, description=raw.get("description") or "",
                   active=bool(raw.get("active", True)), stock_managed=bool(raw.get("is_stock_managed")),
                   site_id=raw.get("site_id"), platform_id=f"{raw.get('site_id')}:{raw.get('id')}")


def stock_level(tenant_id: str, raw: Json) -> StockLevel | None:
    """The product's stock, or None when DG1 does not manage its stock."""
    if not raw.get("is_stock_managed") or raw.get("stock_quantity") is None:
        return None
    return StockLevel(quantity=money(raw["stock_quantity"]), sku=raw.get("sku") or None,
                      product_key=product_key(tenant_id, raw))


def stock_quantity(level: StockLevel) -> int:
    """DG1 takes whole, non-negative quantities (docs/dg1.md section 4.6). A ledger's
    fractional or negative figure is rounded down / floored at zero: a shop cannot sell
    half an item or a negative stock."""
    whole = int(level.quantity.to_integral_value(rounding="ROUND_FLOOR"))
    return max(whole, 0)


def shared_skus(products: list[Json]) -> dict[str, list[str]]:
    """SKUs present on more than one site -> those site ids: the products whose stock one
    ledger figure overwrites on every site (the seed's multi-site warning)."""
    sites: dict[str, set[str]] = {}
    for raw in products:
        if raw.get("sku"):
            sites.setdefault(raw["sku"], set()).add(raw["site_id"])
    return {sku: sorted(s) for sku, s in sorted(sites.items()) if len(s) > 1}
