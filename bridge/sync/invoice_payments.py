"""Payments and credit notes the ledger applied to an invoice, written under the platform
invoice (Bitrix24: a timeline comment) once each: amount, date, part or full, and the
balance left after it. Called by ``ledger_invoice_changed`` with the invoice it read.

A note has no idempotency key, so each settlement gets a link row (kind ``settlement``,
platform id ``<invoice>#<kind>:<ledger id>``) committed *before* the note is added; the
note's id is kept on it after. A retry that finds the row without a note id looks for the
note's marker (the ledger id, printed at its end) under the invoice before adding it again.
"""
from __future__ import annotations

from decimal import Decimal

from ..extensions import db
from ..faults import fault_point
from ..messages import N_, render
from .links import bind, find_link

KIND = "settlement"


def note_settlements(installation, connection, platform, link, document) -> list[str]:
    """Note every settlement of ``document`` not noted yet; returns the ledger ids noted now."""
    if not platform.takes_invoice_notes or not document.settlements:
        return []
    noted = []
    for settlement, balance in zip(document.settlements, balances(document)):
        key = f"{link.platform_id}#{settlement.kind}:{settlement.ledger_id}"
        row = find_link(installation.id, KIND, key)
        if row is not None and (row.extra or {}).get("note") is not None:
            continue
        marker = f"[{settlement.ledger_id}]"
        note_id = None
        if row is None:
            bind(installation.id, connection, KIND, key, ledger_id=settlement.ledger_id,
                 extra={"amount": str(settlement.amount)})
            db.session.commit()
        else:  # an earlier attempt may have added it and died before remembering
            note_id = platform.find_invoice_note(link.platform_id, marker)
        if note_id is None:
            text = render(_sentence(settlement, document, balance), installation.language or "en")
            note_id = platform.add_invoice_note(link.platform_id, f"{text} {marker}")
            fault_point("after invoice note")
        row = find_link(installation.id, KIND, key)
        row.extra = {**(row.extra or {}), "note": note_id}
        db.session.commit()
        noted.append(settlement.ledger_id)
    return noted


def _sentence(settlement, document, balance: Decimal):
    amount = f"{settlement.amount:.2f} {document.currency}".strip()
    due = f"{balance:.2f} {document.currency}".strip()
    on = settlement.on.isoformat() if settlement.on else ""
    if settlement.kind == "credit_note":
        return N_("Credit note %(number)s of %(amount)s applied on %(date)s. Still due: %(balance)s.",
                  number=settlement.number, amount=amount, date=on, balance=due)
    if balance <= 0:
        return N_("Payment of %(amount)s received on %(date)s: paid in full.", amount=amount, date=on)
    return N_("Payment of %(amount)s received on %(date)s: part payment. Still due: %(balance)s.",
              amount=amount, date=on, balance=due)


def balances(document) -> list[Decimal]:
    """What was still due after each settlement, oldest first (the note says it as it was then)."""
    left, out = document.total, []
    for settlement in document.settlements:
        left -= settlement.amount
        out.append(left)
    return out
