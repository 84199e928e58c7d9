"""Decimal money helpers: DG1 sends every amount as a decimal string (NOTES section 3)."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


class MoneyError(ValueError):
    """A value that is not a decimal amount (a float sneaking in, or garbage)."""


def dec(value: object) -> Decimal:
    """Parse an amount. Floats are refused: they are how cents get lost."""
    if isinstance(value, bool) or isinstance(value, float):
        raise MoneyError(f"amount must be a decimal string, not {value!r}")
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise MoneyError(f"not a decimal amount: {value!r}") from exc


def q2(value: Decimal) -> Decimal:
    """Round to cents, half up, as a Swiss shop prints prices."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def fmt(value: Decimal) -> str:
    """The wire form: two decimals, no exponent ("8.10", "49.90")."""
    return format(q2(value), "f")


def tax_of(amount: Decimal, rate: Decimal, gross: bool) -> Decimal:
    """Tax contained in (gross) or added to (net) an amount at a percentage rate."""
    if gross:
        return q2(amount * rate / (Decimal(100) + rate))
    return q2(amount * rate / Decimal(100))


def net_from_gross(gross: Decimal, rate: Decimal) -> Decimal:
    return q2(gross * Decimal(100) / (Decimal(100) + rate))


def gross_from_net(net: Decimal, rate: Decimal) -> Decimal:
    return q2(net * (Decimal(100) + rate) / Decimal(100))
