"""What the invoice tab shows of the money after the invoice: each payment and credit note
the ledger applied (amount, date, account, part or full) and what is still due.

Read from bridge's own rows, no call to the ledger: every settlement noted under the
invoice has a link row (``sync/invoice_payments.py``) that keeps what its note said. Rows
written before those details were kept show their amount only.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from ...extensions import db
from ...models import Link
from ...sync.invoice_payments import KIND


@dataclass(frozen=True)
class SettlementShown:
    kind: str  # payment | credit_note
    amount: Decimal
    currency: str
    on: date | None
    number: str  # a credit note's number
    account: str  # where a payment went, as the ledger names it
    in_full: bool  # nothing was due after it


@dataclass(frozen=True)
class MoneyShown:
    settlements: list[SettlementShown]
    still_due: Decimal | None  # None when the rows do not say (written before balances were kept)
    currency: str


def money_shown(installation_id: int, link: Link | None) -> MoneyShown | None:
    """The invoice's payments and credit notes, oldest first, or None when it has none."""
    if link is None or not link.ledger_id:
        return None
    rows = db.session.scalars(select(Link).where(
        Link.installation_id == installation_id, Link.kind == KIND, Link.ledger == link.ledger,
        Link.platform_id.startswith(f"{link.platform_id}#", autoescape=True)).order_by(Link.id)).all()
    shown = []
    balances = []
    for row in rows:
        extra = row.extra or {}
        kind = "credit_note" if "#credit_note:" in row.platform_id else "payment"
        balance = Decimal(extra["balance"]) if extra.get("balance") is not None else None
        balances.append(balance)
        shown.append(SettlementShown(
            kind=kind, amount=Decimal(str(extra.get("amount") or 0)), currency=str(extra.get("currency") or ""),
            on=date.fromisoformat(extra["on"]) if extra.get("on") else None, number=str(extra.get("number") or ""),
            account=str(extra.get("account") or ""), in_full=balance is not None and balance <= 0))
    if not shown:
        return None
    known = [b for b in balances if b is not None]
    # Each row's balance is what was due after everything noted before it, so the smallest
    # is what is due now.
    still_due = min(known) if known and len(known) == len(balances) else None
    currency = next((s.currency for s in shown if s.currency), "")
    shown.sort(key=lambda s: (s.on or date.min))
    return MoneyShown(settlements=shown, still_due=max(still_due, Decimal(0)) if still_due is not None else None,
                      currency=currency)
