"""Old invoices' pure parts: rows written back read as the same lines, the version our own
write-back leaves, and the scopes bridge asks for."""
from __future__ import annotations

from decimal import Decimal

from bridge.connectors.bitrix24.legacy import content_version, legacy_row
from bridge.connectors.bitrix24.mapper import legacy_line
from bridge.connectors.bitrix24.scopes import missing
from bridge.domain import Line


def test_a_line_written_back_reads_as_the_same_line():
    line = Line(description="Workshop day", quantity=Decimal(2), unit_price=Decimal("1000.00"),
                tax_rate=Decimal(15), discount_amount=Decimal("200.00"), product_id="103", unit="day")
    row = legacy_row(line, prices_include_tax=False)
    assert (row["VAT_RATE"], row["DISCOUNT_PRICE"], row["PRICE"]) == ("0.15", "100.00", "900.00")
    back = legacy_line({k: str(v) for k, v in row.items()}, prices_include_tax=False)
    assert (back.quantity, back.unit_price, back.tax_rate, back.discount_amount, back.product_id, back.unit) == \
        (Decimal(2), Decimal("1000.00"), Decimal(15), Decimal("200.00"), "103", "day")


def test_our_write_back_leaves_the_version_but_a_users_edit_changes_it():
    invoice = {"ID": "5", "ORDER_TOPIC": "Workshop", "DATE_UPDATE": "2026-12-05T10:00:00+03:00", "XML_ID": "",
               "PRODUCT_ROWS": [{"ID": "1", "QUANTITY": "2.0000"}]}
    ours = dict(invoice, DATE_UPDATE="2026-12-05T10:00:01+03:00", XML_ID="xero-id")
    theirs = dict(invoice, PRODUCT_ROWS=[{"ID": "1", "QUANTITY": "3.0000"}])
    assert content_version(ours) == content_version(invoice) != content_version(theirs)


def test_every_scope_bridge_calls_is_asked_for():
    assert missing(["crm", "placement", "userfieldconfig", "im", "user_brief"]) == ["catalog"]
    assert missing(["crm", "catalog", "userfieldconfig"], mode="webhook") == []
    assert missing(["crm"], mode="webhook") == ["catalog", "userfieldconfig"]
