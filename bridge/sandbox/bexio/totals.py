"""How Bexio computes a sales document's totals (NOTES §5 "Response", §8.1).

Bexio computes every total itself: positions keep six decimals, tax is computed per rate
on the document (not summed per line), and only the document total is rounded, to the
currency's ``round_factor`` (CHF 0.05), with the gap reported in
``total_rounding_difference``. The docs' example: net 17.80 at 7.7 % on top gives tax
1.3706, total 19.15 and a rounding difference of -0.02.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

SIX = Decimal("0.000001")
TAX_PLACES = Decimal("0.0001")  # the docs show total_taxes "1.3706"
ITEM_TYPES = {"KbPositionCustom", "KbPositionArticle"}


def line_total(amount: Decimal, unit_price: Decimal, discount: Decimal | None) -> Decimal:
    total = amount * unit_price
    if discount:
        total = total * (Decimal(100) - discount) / Decimal(100)
    return total.quantize(SIX, ROUND_HALF_UP)


def round_to(value: Decimal, factor: Decimal) -> Decimal:
    return ((value / factor).quantize(Decimal(1), ROUND_HALF_UP) * factor).quantize(SIX)


def compute(positions: list[dict], mwst_type: int, mwst_is_net: bool,
            round_factor: Decimal) -> dict:
    """Totals of a document from its positions (each carrying ``position_total`` and,
    for item positions, ``tax_rate``)."""
    items = [p for p in positions if p["type"] in ITEM_TYPES and not p.get("is_optional")]
    gross = sum((p["position_total"] for p in items), Decimal(0))
    discount = Decimal(0)
    running = gross
    for p in positions:
        if p["type"] == "KbPositionDiscount":
            value = p["value"]
            amount = (running * value / Decimal(100)) if p["is_percentual"] else value
            p["discount_total"] = amount.quantize(SIX, ROUND_HALF_UP)
            discount += p["discount_total"]
            running -= p["discount_total"]
    net = gross - discount
    factor = (net / gross) if gross else Decimal(1)
    by_rate: dict[Decimal, Decimal] = {}
    for p in items:
        rate = p.get("tax_rate")
        if rate is not None:
            by_rate[rate] = by_rate.get(rate, Decimal(0)) + p["position_total"] * factor
    taxes: list[dict] = []
    if mwst_type == 0:  # 1 = excluding and 2 = exempt compute no tax (NOTES §5 "mwst_type")
        for rate in sorted(by_rate):
            if rate == 0:
                continue
            base = by_rate[rate]
            tax = base * rate / Decimal(100) if mwst_is_net else base * rate / (Decimal(100) + rate)
            taxes.append({"percentage": rate, "value": tax.quantize(TAX_PLACES, ROUND_HALF_UP)})
    total_taxes = sum((t["value"] for t in taxes), Decimal(0))
    raw = net + total_taxes if (mwst_type == 0 and mwst_is_net) else net
    total = round_to(raw, round_factor)
    return {"total_gross": gross.quantize(SIX), "total_net": net.quantize(SIX),
            "total_taxes": total_taxes, "total": total,
            "total_rounding_difference": (total - raw).quantize(Decimal("0.01"), ROUND_HALF_UP),
            "taxs": taxes}
