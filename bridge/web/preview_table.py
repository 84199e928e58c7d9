"""The dry-run preview as a table a person can check: lines, tax, totals, customer, problems.

Computed from the mapped invoice (``Preview.invoice``), not from the ledger's JSON, so the
same table serves Xero and Bexio. Money is Decimal and rounded per line to the currency's
two places, as Xero does (DESIGN "Money"); the ledger's own totals may differ by its
rounding rule (Bexio rounds the total to 0.05 CHF), which is why the table says "about".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import gettext as _

from ..domain import Invoice, Line
from ..sync.preview import Preview

CENT = Decimal("0.01")


@dataclass
class PreviewLine:
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal | None
    tax_code: str | None
    account: str | None
    net: Decimal
    tax: Decimal


@dataclass
class PreviewTable:
    currency: str = ""
    lines: list[PreviewLine] = field(default_factory=list)
    net: Decimal = Decimal("0")
    tax: Decimal = Decimal("0")
    gross: Decimal = Decimal("0")
    contact: dict = field(default_factory=dict)
    problems: list[dict[str, str]] = field(default_factory=list)
    prices_include_tax: bool = False


def _line(line: Line, includes_tax: bool) -> PreviewLine:
    amount = line.quantity * line.unit_price
    if line.discount_rate:
        amount -= amount * line.discount_rate / 100
    if line.discount_amount:
        amount -= line.discount_amount
    rate = line.tax_rate or Decimal("0")
    if includes_tax:
        gross = amount.quantize(CENT, ROUND_HALF_UP)
        net = (gross * 100 / (100 + rate)).quantize(CENT, ROUND_HALF_UP)
        tax = gross - net
    else:
        net = amount.quantize(CENT, ROUND_HALF_UP)
        tax = (net * rate / 100).quantize(CENT, ROUND_HALF_UP)
    return PreviewLine(line.description, line.quantity, line.unit_price, line.tax_rate, line.ledger_tax_code,
                       line.ledger_account_code, net, tax)


def preview_table(preview: Preview) -> PreviewTable:
    table = PreviewTable(contact=dict(preview.contact), problems=list(preview.problems))
    invoice: Invoice | None = preview.invoice
    if invoice is None:
        return table
    table.currency, table.prices_include_tax = invoice.currency, invoice.prices_include_tax
    table.lines = [_line(line, invoice.prices_include_tax) for line in invoice.lines]
    table.net = sum((line.net for line in table.lines), Decimal("0"))
    table.tax = sum((line.tax for line in table.lines), Decimal("0"))
    table.gross = table.net + table.tax
    for line in table.lines:
        if line.tax_code is None and line.tax_rate:
            table.problems.append({"message": _("No tax code is mapped for the rate %(rate)s%% (%(line)s).",
                                                rate=line.tax_rate.normalize(), line=line.description),
                                   "fix": _("Map it under Settings, Taxes and sales accounts.")})
    return table
