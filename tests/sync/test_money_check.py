"""The money check after a ledger write and the tax mapping check on save: what each
refuses or flags, within each ledger's documented rounding."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from bridge.connectors.bexio.ledger import BexioLedger
from bridge.connectors.bitrix24.platform import Bitrix24Platform
from bridge.connectors.dg1.platform import DG1Platform
from bridge.connectors.xero.ledger import XeroLedger
from bridge.domain import Invoice, InvoiceStatus, Line, LineKind, Party, PartyKind
from bridge.sync.money_check import AMOUNTS_DIFFER, amounts_differ, compare, money_agrees, platform_totals
from bridge.sync.platform_words import decide_where, settled_on_both_sides
from bridge.ports import TaxCode
from bridge.sync.tax_check import describe, rate_mismatches

XERO_TAXES = [TaxCode("OUTPUT2", "15% GST on Income", Decimal("15")), TaxCode("NONE", "No GST", Decimal("0")),
              TaxCode("ZERORATED", "Zero Rated", Decimal("0"))]


def invoice(*lines: Line, inclusive: bool = False, currency: str = "NZD") -> Invoice:
    return Invoice(key="b24:m:SI:1", number="", issue_date=date(2026, 12, 1), currency=currency,
                   party=Party(key="b24:m:CO:1", kind=PartyKind.COMPANY, name="Acme"), lines=list(lines),
                   prices_include_tax=inclusive)


def line(price: str, rate: str | None, quantity: str = "1", kind: LineKind = LineKind.PRODUCT) -> Line:
    return Line(description="Item", quantity=Decimal(quantity), unit_price=Decimal(price), kind=kind,
                tax_rate=Decimal(rate) if rate is not None else None)


def xero_answer(subtotal: str, tax: str, total: str, currency: str = "NZD") -> dict:
    return {"SubTotal": subtotal, "TotalTax": tax, "Total": total, "CurrencyCode": currency}


# -- the tax mapping, on save ------------------------------------------------------------

def test_a_9_percent_rate_mapped_to_output2_is_named_with_both_rates():
    (found,) = rate_mismatches({"9": "OUTPUT2", "15": "OUTPUT2", "0": "ZERORATED"}, XERO_TAXES)
    assert describe(found, "Bitrix24", "Xero") == (
        "Bitrix24 rate 9 % is mapped to Xero's OUTPUT2, which is 15 %: choose a Xero tax rate of 9 %.")


def test_zero_rated_and_exempt_mappings_of_0_percent_and_the_demo_mapping_pass():
    assert rate_mismatches({"15": "OUTPUT2", "0": "NONE"}, XERO_TAXES, none_code="ZERORATED") == []


def test_lines_without_tax_mapped_to_a_taxing_code_are_named():
    (found,) = rate_mismatches({}, XERO_TAXES, none_code="OUTPUT2")
    assert describe(found, "Bitrix24", "Xero").startswith(
        "Lines without tax are mapped to Xero's OUTPUT2, which is 15 %")


# -- the ledger's totals after a write ---------------------------------------------------

def test_xero_booking_15_percent_for_a_9_percent_invoice_differs_naming_both_amounts():
    check = compare(XeroLedger, Bitrix24Platform, invoice(line("100", "9")), xero_answer("100.00", "15.00", "115.00"))
    assert not check.agrees
    assert check.message == ("Amounts differ: Xero booked tax 15.00, total 115.00 NZD, but Bitrix24 shows "
                             "tax 9.00, total 109.00 NZD.")
    assert check.fix == ("A tax rate is mapped to a Xero tax of another percentage (or Xero's rate changed since): "
                         "in the settings' tax mapping, map each Bitrix24 rate to a Xero tax of the same percentage, "
                         "then press Retry on the invoice's Xero tab in Bitrix24.")


def test_xero_per_line_rounding_is_no_difference():
    # three lines of 0.33 at 15 %: Xero taxes each line (0.05 x 3 = 0.15); taxed on the total it is 0.1485
    lines = [line("0.33", "15") for _ in range(3)]
    assert compare(XeroLedger, Bitrix24Platform, invoice(*lines), xero_answer("0.99", "0.15", "1.14")).agrees
    assert compare(XeroLedger, Bitrix24Platform, invoice(*lines), xero_answer("0.99", "0.14", "1.13")).agrees
    assert not compare(XeroLedger, Bitrix24Platform, invoice(*lines), xero_answer("0.99", "0.19", "1.18")).agrees


def test_another_currency_differs():
    check = compare(XeroLedger, Bitrix24Platform, invoice(line("100", "15")), xero_answer("100.00", "15.00", "115.00", "USD"))
    assert not check.agrees and "115.00 USD" in check.message and "115.00 NZD" in check.message


def test_bexio_rounds_the_total_to_five_rappen_and_that_is_no_difference():
    # 5 x 3.56 at 7.7 % on top: 19.17 in the shop, 19.15 in Bexio (NOTES 8.1)
    order = invoice(line("3.56", "7.7", quantity="5"), currency="CHF")
    assert platform_totals(order).total == Decimal("19.17")
    assert compare(BexioLedger, DG1Platform, order, {"total": "19.150000", "total_taxes": "1.3706", "currency": "CHF"}).agrees


def test_bexio_taxing_8_1_percent_as_7_7_differs_even_when_gross_prices_keep_the_total():
    order = invoice(line("48.80", "8.1"), inclusive=True, currency="CHF")
    check = compare(BexioLedger, DG1Platform, order, {"total": "48.800000", "total_taxes": "3.4894", "currency": "CHF"})
    assert not check.agrees
    assert "Bexio booked tax 3.49, total 48.80 CHF, but DG1 shows tax 3.66, total 48.80 CHF" in check.message
    assert "invoice tab" not in check.fix and check.fix.endswith(
        "press \"Sync order to Bexio\" on the Orders page (Bexio integration > Orders in the DG1 admin).")


def test_an_answer_without_totals_says_nothing():
    assert compare(BexioLedger, DG1Platform, invoice(line("10", "8.1")), None).agrees


class Record:
    state = "running"
    error_code = error_message = error_fix = finished_at = None


class Link:
    def __init__(self, extra=None):
        self.extra = extra


def test_a_difference_marks_the_record_and_the_link_and_agreement_clears_the_mark():
    record, link = Record(), Link({"url": "u"})
    assert not money_agrees(record, link, XeroLedger, Bitrix24Platform, invoice(line("100", "9")),
                            xero_answer("100.00", "15.00", "115.00"))
    assert record.state == AMOUNTS_DIFFER and "115.00" in record.error_message and "109.00" in record.error_message
    assert amounts_differ(link)["ledger"]["total"] == "115.00" and amounts_differ(link)["platform"]["total"] == "109.00"
    assert link.extra["url"] == "u"
    assert money_agrees(Record(), link, XeroLedger, Bitrix24Platform, invoice(line("100", "9")),
                        xero_answer("100.00", "9.00", "109.00"))
    assert amounts_differ(link) is None and link.extra == {"url": "u"}


# -- where to decide, per platform ------------------------------------------------------

def test_each_platform_is_pointed_at_a_page_it_has():
    assert decide_where(Bitrix24Platform, XeroLedger) == "Decide on the invoice's Xero tab in Bitrix24."
    dg1 = decide_where(DG1Platform, BexioLedger)
    assert "invoice tab" not in dg1 and "Bexio integration > Orders" in dg1 and "Sync order to Bexio" in dg1


def test_only_a_paid_dg1_order_with_its_ledger_invoice_paid_is_settled():
    paid, open_ = InvoiceStatus.PAID, InvoiceStatus.AUTHORISED
    assert settled_on_both_sides(DG1Platform, paid, paid)
    assert not settled_on_both_sides(DG1Platform, open_, paid) and not settled_on_both_sides(DG1Platform, paid, open_)
    assert not settled_on_both_sides(Bitrix24Platform, paid, paid)  # a paid Bitrix24 invoice can still be edited
