"""DG1 JSON -> domain, pure: the documented sample order and the variations a shop has."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from bridge.connectors.dg1 import mapper
from bridge.domain import InvoiceStatus, LineKind, PartyKind, StockLevel

from .conftest import sample_order


def test_the_sample_order_becomes_an_invoice_keyed_by_tenant_site_and_order():
    invoice = mapper.invoice("demo", sample_order(), admin_url="https://admin.dg1.ch")
    assert invoice.key == "dg1:demo:pro:100013"
    assert invoice.platform_id == "pro:100013"
    assert (invoice.number, invoice.currency, invoice.language) == ("1001", "CHF", "fr")
    assert invoice.issue_date == date(2025, 5, 1)
    assert invoice.prices_include_tax is False
    assert invoice.status is InvoiceStatus.AUTHORISED
    assert invoice.payments == []  # the invoice payment is still pending
    assert invoice.platform_url == "https://admin.dg1.ch/demo/orders/100013?site=pro"


def test_lines_carry_sku_and_tax_rate_as_decimals_plus_a_shipping_line():
    lines = mapper.invoice("demo", sample_order()).lines
    product, shipping = lines
    assert (product.kind, product.sku, product.product_id) == (LineKind.PRODUCT, "TEA-100", "100004")
    assert (product.quantity, product.unit_price, product.tax_rate) == (Decimal("10"), Decimal("9.80"),
                                                                       Decimal("2.60"))
    assert product.discount_amount is None
    assert (shipping.kind, shipping.description, shipping.unit_price, shipping.tax_rate) == (
        LineKind.SHIPPING, "Shipping: Post Economy", Decimal("7.00"), Decimal("8.10"))
    assert all(isinstance(v, Decimal) for line in lines for v in (line.quantity, line.unit_price, line.tax_rate))


def test_payment_fee_and_line_discount_and_a_captured_payment():
    order = sample_order(prices_include_tax=True, status="PAID")
    order["line_items"][0]["discount_amount"] = "4.90"
    order["payments"] = [{"provider": "datatrans", "method": "card", "amount": "110.42", "fee_amount": "2.30",
                          "fee_tax_rate": "8.10", "status": "captured", "captured_at": "2025-05-01T22:30:00Z",
                          "transaction_id": "tx-9"}]
    order["totals"].update(discount_total="4.90", grand_total="110.42")
    invoice = mapper.invoice("demo", order)
    fee = invoice.lines[-1]
    assert (fee.kind, fee.unit_price, fee.tax_rate) == (LineKind.PAYMENT_FEE, Decimal("2.30"), Decimal("8.10"))
    assert invoice.lines[0].discount_amount == Decimal("4.90")
    assert not [line for line in invoice.lines if line.kind is LineKind.DISCOUNT]  # not counted twice
    assert invoice.prices_include_tax is True
    assert invoice.status is InvoiceStatus.PAID
    (payment,) = invoice.payments
    # Captured at 22:30 UTC on 1 May is 2 May in Zurich, the shop's books.
    assert (payment.amount, payment.paid_on, payment.reference) == (Decimal("110.42"), date(2025, 5, 2), "tx-9")


def test_an_order_level_discount_beyond_the_lines_becomes_its_own_line():
    order = sample_order()
    order["totals"]["discount_total"] = "5.00"
    (discount,) = [line for line in mapper.invoice("demo", order).lines if line.kind is LineKind.DISCOUNT]
    assert discount.unit_price == Decimal("-5.00")


def test_a_company_customer_has_the_person_as_contact_and_keeps_the_address():
    party = mapper.invoice("demo", sample_order()).party
    assert (party.kind, party.name, party.key) == (PartyKind.COMPANY, "Café Alpenblick GmbH", "dg1:demo:customer:c-1")
    assert party.contact_persons[0].full_name == "Anna Muster"
    assert (party.address.street, party.address.postcode, party.address.city, party.address.country_code) == (
        "Bahnhofstrasse 1", "8001", "Zürich", "CH")


def test_a_guest_without_company_is_a_person_keyed_by_email():
    order = sample_order()
    order["customer"] = {"customer_id": None, "email": "Max@Example.ch", "first_name": "Max", "last_name": "Meier",
                         "company": None, "phone": None}
    order["billing_address"]["address_addition"] = "c/o Huber"
    party = mapper.party("demo", order)
    assert (party.kind, party.name, party.first_name, party.last_name) == (PartyKind.PERSON, "Max Meier", "Max",
                                                                           "Meier")
    assert party.key == "dg1:demo:email:max@example.ch"
    assert party.address.street == "Bahnhofstrasse 1, c/o Huber"


def test_statuses():
    assert mapper.order_status(sample_order(status="CANCELLED")) is InvoiceStatus.VOIDED
    assert mapper.order_status(sample_order(status="PENDING")) is InvoiceStatus.DRAFT
    assert mapper.order_status(sample_order(status="COMPLETED")) is InvoiceStatus.PAID
    assert mapper.order_status(sample_order(status="SHIPPED")) is InvoiceStatus.AUTHORISED


def test_tax_rates_and_total_for_the_settings_check():
    assert mapper.tax_rates(sample_order()) == [Decimal("2.60"), Decimal("8.10")]
    assert mapper.grand_total(sample_order()) == Decimal("108.12")


PRODUCT = {"id": "100003", "site_id": "ch", "sku": "TEA-100", "name": "Mountain tea 100 g", "description": "",
           "price_gross": "12.50", "price_net": "12.18", "tax_rate": "2.60", "currency": "CHF", "active": True,
           "is_stock_managed": True, "stock_quantity": 25, "shared_product_id": "100002"}


def test_a_product_with_sku_is_keyed_by_sku_across_sites_and_priced_as_its_site_sells():
    gross = mapper.product("demo", PRODUCT, prices_include_tax=True)
    net = mapper.product("demo", {**PRODUCT, "id": "100004", "site_id": "pro"}, prices_include_tax=False)
    assert gross.key == net.key == "dg1:demo:sku:TEA-100"
    assert (gross.platform_id, net.platform_id) == ("ch:100003", "pro:100004")
    assert (gross.price, net.price) == (Decimal("12.50"), Decimal("12.18"))
    assert gross.stock_managed and gross.site_id == "ch" and gross.tax_rate == Decimal("2.60")


def test_a_product_without_sku_is_one_article_per_site_product():
    product = mapper.product("demo", {**PRODUCT, "sku": None, "id": "100009"}, prices_include_tax=True)
    assert product.key == "dg1:demo:product:ch:100009" and product.sku is None
    assert mapper.parse_product_key(product.key) == ("product", "100009", "ch")
    assert mapper.parse_product_key("dg1:demo:sku:A:B") == ("sku", "A:B", None)


def test_stock_levels_and_quantities_dg1_accepts():
    assert mapper.stock_level("demo", PRODUCT) == StockLevel(quantity=Decimal(25), sku="TEA-100",
                                                             product_key="dg1:demo:sku:TEA-100")
    assert mapper.stock_level("demo", {**PRODUCT, "is_stock_managed": False, "stock_quantity": None}) is None
    assert mapper.stock_quantity(StockLevel(quantity=Decimal("7.9"))) == 7
    assert mapper.stock_quantity(StockLevel(quantity=Decimal("-3"))) == 0


def test_shared_skus_name_the_sites():
    products = [PRODUCT, {**PRODUCT, "site_id": "pro"}, {**PRODUCT, "site_id": "eu", "sku": "MUG-01-EU"},
                {**PRODUCT, "sku": None, "site_id": "pro"}]
    assert mapper.shared_skus(products) == {"TEA-100": ["ch", "pro"]}
