"""After every ledger write of an invoice: does the ledger book the money the platform shows?

A tax mapping the settings accepted can still book other money: the ledger's tax rate was
changed after the mapping was saved, or a mapping older than the check. The ledger answers
every create and update with its own totals (Xero: SubTotal, TotalTax, Total, CurrencyCode;
Bexio: total, total_taxes and the currency), so comparing costs no call. The platform's
totals are computed from its own lines and rates as that platform shows them: taxed per
line on Bitrix24 (the preview's expected totals), per rate on DG1 (the order's totals).

Each ledger rounds in its documented way (its port's ``round_factor``), and a difference
within that is no difference:

- Xero rounds tax per line to the cent, then sums
  (https://developer.xero.com/documentation/guides/how-to-guides/rounding-in-xero): up to a
  cent per priced line;
- Bexio computes tax per rate on the document and rounds only the total to the currency's
  round factor, CHF 0.05 (https://docs.bexio.com/, an invoice's ``total_rounding_difference``):
  one round factor, plus a cent per priced line for the platform's own per-line rounding.

Beyond that the write is recorded as ``amounts_differ`` (``AMOUNTS_DIFFER``), never as
synced: the sync record's state, its message naming both amounts and what to fix, and
``links.extra["amounts_differ"]`` on the invoice's link, which stays until a write whose
amounts agree (every write rebinds the link). The invoice's follow-up steps (issue, book
the payment, e-mail) wait while the amounts differ: a customer is never sent them.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ..domain import Invoice, LineKind
from ..models import utcnow
from ..ports import Ledger, Platform
from ..messages import Message, N_
from ..stored_messages import key_of, stored
from .platform_words import sync_again

AMOUNTS_DIFFER = "amounts_differ"  # SyncRecord.state, and the key on the link's extra
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal  # without tax
    tax: Decimal
    total: Decimal
    currency: str

    def words(self) -> Message:
        if not self.currency:
            return N_("tax %(tax)s, total %(total)s", tax=_money(self.tax), total=_money(self.total))
        return N_("tax %(tax)s, total %(total)s %(currency)s", tax=_money(self.tax), total=_money(self.total),
                  currency=self.currency)

    def as_json(self) -> dict[str, str]:
        return {"subtotal": _money(self.subtotal), "tax": _money(self.tax), "total": _money(self.total),
                "currency": self.currency}


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _priced(invoice: Invoice) -> list:
    return [line for line in invoice.lines if line.kind != LineKind.TEXT]


def _line_amount(line) -> Decimal:
    gross = line.quantity * line.unit_price
    if line.discount_rate:
        gross -= gross * line.discount_rate / 100
    if line.discount_amount:
        gross -= line.discount_amount
    return gross.quantize(CENT, rounding=ROUND_HALF_UP)


def _line_tax(amount: Decimal, rate: Decimal | None, inclusive: bool) -> Decimal:
    rate = rate or Decimal(0)
    tax = amount - amount / (1 + rate / 100) if inclusive else amount * rate / 100
    return tax.quantize(CENT, rounding=ROUND_HALF_UP)


def platform_totals(invoice: Invoice, platform: Platform | type[Platform] = Platform) -> Totals:
    """What the platform shows for the invoice: its lines' amounts, and their tax at the
    platform's own rates, rounded per line or per rate as that platform does
    (``tax_per_rate``: DG1 per rate on the order's sum, its ``totals.taxes``; Bitrix24 per
    line, as the preview shows Xero's per-line figures). An order discount without a rate
    of its own lowers each rate's base in proportion (as Bexio spreads a document discount)."""
    inclusive = invoice.prices_include_tax
    priced = _priced(invoice)
    spread = [line for line in priced if line.kind == LineKind.DISCOUNT and not line.tax_rate]
    amounts = [(line.tax_rate, _line_amount(line)) for line in priced if line not in spread]
    base = sum((amount for _, amount in amounts), Decimal(0))
    discount = sum((_line_amount(line) for line in spread), Decimal(0))  # negative
    factor = (base + discount) / base if base else Decimal(1)
    if platform.tax_per_rate:
        by_rate: dict[Decimal, Decimal] = {}
        for rate, amount in amounts:
            by_rate[rate or Decimal(0)] = by_rate.get(rate or Decimal(0), Decimal(0)) + amount
        amounts = list(by_rate.items())
    tax = sum((_line_tax(amount * factor, rate, inclusive) for rate, amount in amounts), Decimal(0))
    total_amount = base + discount
    subtotal = total_amount - tax if inclusive else total_amount
    return Totals(subtotal=subtotal, tax=tax, total=subtotal + tax, currency=(invoice.currency or "").upper())


def ledger_totals(ledger: Ledger | type[Ledger], received: dict[str, Any] | None) -> Totals | None:
    """The totals in the ledger's answer to the write; None when the answer has none (an
    invoice found, not written)."""
    booked = ledger.booked_totals(received)
    return Totals(booked.subtotal, booked.tax, booked.total, booked.currency) if booked is not None else None


def tolerance(ledger: Ledger | type[Ledger], invoice: Invoice) -> Decimal:
    """The ledger's documented rounding, for this invoice (see the module's docstring)."""
    return CENT * max(len(_priced(invoice)), 1) + ledger.round_factor


@dataclass(frozen=True)
class MoneyCheck:
    agrees: bool
    ledger: Totals | None = None
    platform: Totals | None = None
    message: str | None = None
    fix: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"ledger": self.ledger.as_json() if self.ledger else None,
                "platform": self.platform.as_json() if self.platform else None,
                "message": self.message, "fix": self.fix,  # English; their ids beside them (for the pages)
                "message_i18n": key_of(self.message), "fix_i18n": key_of(self.fix)}


def compare(ledger: Ledger | type[Ledger], platform: Platform | type[Platform], invoice: Invoice,
            received: dict[str, Any] | None) -> MoneyCheck:
    """The ledger's totals against the platform's, within the ledger's rounding."""
    theirs = ledger_totals(ledger, received)
    if theirs is None:
        return MoneyCheck(agrees=True)  # nothing to compare without a call: said nothing
    ours = platform_totals(invoice, platform)
    allowed = tolerance(ledger, invoice)
    same_currency = not (theirs.currency and ours.currency) or theirs.currency == ours.currency
    if same_currency and abs(theirs.tax - ours.tax) <= allowed and abs(theirs.total - ours.total) <= allowed:
        return MoneyCheck(agrees=True, ledger=theirs, platform=ours)
    ledger_name, platform_name = ledger.display_name, platform.display_name
    message = N_("Amounts differ: %(ledger)s booked %(theirs)s, but %(platform)s shows %(ours)s.",
                 ledger=ledger_name, theirs=theirs.words(), platform=platform_name, ours=ours.words())
    again = sync_again(platform, ledger)
    if not same_currency:
        fix = N_("Give the invoice a currency %(ledger)s books it in, then %(again)s.", ledger=ledger_name, again=again)
    else:
        fix = N_("A tax rate is mapped to a %(ledger)s tax of another percentage (or %(ledger)s's rate changed since): "
                 "in the settings' tax mapping, map each %(platform)s rate to a %(ledger)s tax of the same percentage, "
                 "then %(again)s.", ledger=ledger_name, platform=platform_name, again=again)
    return MoneyCheck(agrees=False, ledger=theirs, platform=ours, message=message, fix=fix)


def money_agrees(record, link, ledger: Ledger | type[Ledger], platform: Platform | type[Platform], invoice: Invoice,
                 received: dict[str, Any] | None) -> bool:
    """Compare after a write and note the outcome on the sync record and the link. A
    difference closes the record as ``amounts_differ``, with both amounts and what to fix,
    and marks the link (the caller then leaves the follow-up steps alone); agreement clears
    a mark an earlier write left."""
    check = compare(ledger, platform, invoice, received)
    extra = {k: v for k, v in (link.extra or {}).items() if k != AMOUNTS_DIFFER}
    if not check.agrees:
        extra[AMOUNTS_DIFFER] = check.as_json()
        record.state = AMOUNTS_DIFFER
        record.error_code = AMOUNTS_DIFFER
        record.error_message = check.message
        record.error_fix = check.fix
        record.finished_at = utcnow()
    link.extra = extra
    return check.agrees


def amounts_differ(link) -> dict[str, Any] | None:
    """The mark the last write left on an invoice's link, if its amounts differ; its message
    and fix as ``Message``s where their ids were kept (shown in the reader's language)."""
    mark = (link.extra or {}).get(AMOUNTS_DIFFER) if link is not None else None
    if not mark:
        return mark
    return {**mark, "message": stored(mark, "message"), "fix": stored(mark, "fix")}
