"""A tax mapping books the money the platform shows only if each platform rate is mapped to
a ledger tax of the same percentage: a 9 % rate mapped to Xero's OUTPUT2 (15 %) made the
preview promise 109.00 and Xero book 115.00 (issue 16, finding 3). So the settings form
refuses such a mapping when it is saved, naming both rates.

The ledger's percentages are the ones the form already reads live to offer its choices
(Xero TaxRates' EffectiveRate, Bexio taxes' value), so the check costs no call. A rate
changed in the ledger after saving is caught after the next write instead
(``money_check.py``).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Iterable

from ..ports import TaxCode
from ..messages import Message, N_


def percent(value: Decimal) -> str:
    """9, 8.1, 15: how a rate reads in a sentence."""
    return format(value.normalize(), "f") if value else "0"


@dataclass(frozen=True)
class Mismatch:
    """A platform rate (``None``: lines without tax) mapped to a ledger tax of another percentage."""

    rate: Decimal | None
    code: str
    ledger_rate: Decimal

    @property
    def wanted(self) -> Decimal:
        return self.rate if self.rate is not None else Decimal(0)


def rate_mismatches(mapping: dict[str, str], taxes: Iterable[TaxCode], none_code: str | None = None) -> list[Mismatch]:
    """The mapped rates whose ledger tax has another percentage. ``mapping`` is rate key
    ("9", "8.1", "none") -> ledger code; ``none_code`` is the tax for lines that carry no
    rate, which must be a 0 % one. Codes the ledger does not list are left to the form's
    own "not an active tax code" check, and keys that are no rate to its own refusal."""
    by_code = {tax.code: tax for tax in taxes}
    found = []
    rows = list(mapping.items()) + ([("none", none_code)] if none_code else [])
    for key, code in rows:
        tax = by_code.get(code or "")
        if tax is None:
            continue
        try:
            rate = None if key == "none" else Decimal(key)
        except (InvalidOperation, ValueError):
            continue
        if rate is not None and not (rate.is_finite() and 0 <= rate <= 100):
            continue  # no percentage at all: the form's own range check refuses it
        if tax.rate != (rate if rate is not None else Decimal(0)):
            found.append(Mismatch(rate, tax.code, tax.rate))
    return found


def describe(mismatch: Mismatch, platform: str, ledger: str) -> Message:
    """The refusal, naming both rates (in the reader's language, the rates the locale's way)."""
    theirs = _rate(mismatch.ledger_rate)
    if mismatch.rate is None:
        return N_("Lines without tax are mapped to %(ledger)s's %(code)s, which is %(theirs)s %%: choose a "
                  "%(ledger)s tax rate of 0 %%.", ledger=ledger, code=mismatch.code, theirs=theirs)
    return N_("%(platform)s rate %(ours)s %% is mapped to %(ledger)s's %(code)s, which is %(theirs)s %%: choose a "
              "%(ledger)s tax rate of %(ours)s %%.", platform=platform, ours=_rate(mismatch.rate), ledger=ledger,
              code=mismatch.code, theirs=theirs)


def _rate(value: Decimal) -> Decimal:
    """As ``percent`` writes it (9, 8.1, 15), left to the reader's locale to print."""
    return value.normalize() if value else Decimal(0)
