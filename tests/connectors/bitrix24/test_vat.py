"""The portal's VAT rates as the tax mapping offers them."""
from __future__ import annotations

from decimal import Decimal

from bridge.connectors.bitrix24.vat import rates_from_list


def test_active_rates_with_a_percent_keyed_as_the_mapping_is():
    rows = [{"ID": "3", "NAME": "VAT 20%", "RATE": "20.00", "ACTIVE": "Y"},
            {"ID": "1", "NAME": "No VAT", "RATE": None},
            {"ID": "7", "NAME": "8.1", "RATE": "8.10"},
            {"ID": "8", "NAME": "Old 8.1", "RATE": "8.1", "ACTIVE": "Y"},
            {"ID": "9", "NAME": "Retired", "RATE": "7.70", "ACTIVE": "N"}]
    rates = rates_from_list(rows)
    assert [(r.key, r.name, r.rate) for r in rates] == [("8.1", "8.1", Decimal("8.10")),
                                                        ("20", "VAT 20%", Decimal("20.00"))]
