"""Fixtures of the DG1 connector tests: a registered tenant, DG1's sample order, a clock."""
from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest

# docs/dg1.md section 4.2: the sample order of site "pro" (net prices, company customer).
SAMPLE_ORDER = json.loads("""{
  "id": "100013", "number": "1001", "site_id": "pro", "status": "PLACED",
  "created_at": "2025-05-01T10:00:00Z", "updated_at": "2025-05-01T10:00:00Z",
  "placed_at": "2025-05-01T10:00:00Z", "completed_at": null, "cancelled_at": null,
  "currency": "CHF", "language": "fr", "prices_include_tax": false,
  "customer": {"customer_id": "c-1", "email": "anna.muster@example.ch", "first_name": "Anna",
               "last_name": "Muster", "company": "Café Alpenblick GmbH", "phone": "+41 44 123 45 67"},
  "billing_address": {"street": "Bahnhofstrasse", "house_number": "1", "address_addition": null,
                      "postcode": "8001", "city": "Zürich", "country_code": "CH"},
  "shipping_address": {"street": "Bahnhofstrasse", "house_number": "1", "address_addition": null,
                       "postcode": "8001", "city": "Zürich", "country_code": "CH"},
  "line_items": [
    {"id": "100013-1", "product_id": "100004", "sku": "TEA-100", "name": "Mountain tea 100 g",
     "quantity": 10, "unit_price": "9.80", "tax_rate": "2.60", "discount_amount": "0.00",
     "line_total": "98.00"}
  ],
  "shipments": [{"method": "Post Economy", "price": "7.00", "tax_rate": "8.10", "tracking": null}],
  "payments": [{"provider": "datatrans", "method": "invoice", "amount": "108.12", "fee_amount": "0.00",
                "fee_tax_rate": "8.10", "status": "pending", "captured_at": null,
                "transaction_id": "tx-100013-1"}],
  "totals": {"subtotal": "98.00", "shipping_total": "7.00", "payment_fee_total": "0.00",
             "discount_total": "0.00",
             "taxes": [{"rate": "2.60", "taxable_amount": "98.00", "amount": "2.55"},
                       {"rate": "8.10", "taxable_amount": "7.00", "amount": "0.57"}],
             "tax_total": "3.12", "grand_total": "108.12"},
  "external_refs": {}
}""", parse_float=Decimal)

SITES = [
    {"id": "ch", "name": "Demo Shop Schweiz", "domain": "shop.demo.example.ch", "currency": "CHF",
     "default_language": "de", "prices_include_tax": True},
    {"id": "pro", "name": "Demo Shop Pro (B2B)", "domain": "pro.demo.example.ch", "currency": "CHF",
     "default_language": "fr", "prices_include_tax": False},
]

# docs/dg1.md section 5 and 6: the worked examples' secrets and timestamp.
WEBHOOK_SECRET = "dg1-demo-webhook-demo"
LAUNCH_SECRET = "dg1-demo-launch-demo"
API_KEY = "dg1-demo-key-demo"
EXAMPLE_TS = 1746093600
ADMIN_ORIGIN = "https://admin.dg1.ch"


def sample_order(**changes) -> dict:
    order = copy.deepcopy(SAMPLE_ORDER)
    order.update(changes)
    return order


class Clock:
    """bridge's DG1 clock, injected through ``DG1_CLOCK``."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock(app):
    clock = Clock(EXAMPLE_TS + 10)
    app.config["DG1_CLOCK"] = clock
    return clock


@pytest.fixture
def tenant(app_ctx):
    """Tenant ``demo`` registered with the documented sandbox secrets."""
    from bridge.connectors.dg1.tenants import add_tenant

    return add_tenant("demo", api_key=API_KEY, webhook_secret=WEBHOOK_SECRET, launch_secret=LAUNCH_SECRET,
                      admin_origin=ADMIN_ORIGIN)


@pytest.fixture
def api(app):
    """The DG1 API base URL bridge is configured with (mocked with ``responses``)."""
    return app.config["DG1_API_URL"]
