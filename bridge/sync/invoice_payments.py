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
from ..installations import active_connection
from ..messages import N_, render
from .links import bind, find_link

KIND = "settlement"


def note_settlements(installation, platform, link, document) -> list[str]:
    """Note every settlement of ``document`` not noted yet; returns the ledger ids noted now.
    Costs nothing (no query, no call) for a platform without notes or an invoice without
    settlements."""
    if not platform.takes_invoice_notes or not document.settlements:
        return []
    connection = active_connection(installation)
    noted = []
    rows = {s.ledger_id: find_link(installation.id, KIND, f"{link.platform_id}#{s.kind}:{s.ledger_id}")
            for s in document.settlements}
    done = {ledger_id for ledger_id, row in rows.items()
            if row is not None and (row.extra or {}).get("note") is not None}
    for settlement, balance in zip(document.settlements, balances(document, done)):
        key = f"{link.platform_id}#{settlement.kind}:{settlement.ledger_id}"
        row = rows[settlement.ledger_id]
        if settlement.ledger_id in done:
            continue
        marker = f"[{settlement.ledger_id}]"
        note_id = None
        if row is None:
            # What the note says, kept for the invoice tab (``web/bitrix24/invoice_money.py``).
            bind(installation.id, connection, KIND, key, ledger_id=settlement.ledger_id,
                 extra={"amount": str(settlement.amount), "currency": document.currency,
                        "on": settlement.on.isoformat() if settlement.on else None, "number": settlement.number,
                        "account": settlement.account, "balance": str(balance)})
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


def balances(document, done: set[str] = frozenset()) -> list[Decimal]:
    """What was still due after each settlement, as its note says it: those noted before
    (``done``) count first, then the new ones oldest first, so the newest note always shows
    the balance after everything noted so far (two settlements of one day may be listed in
    either order)."""
    left = document.total - sum((s.amount for s in document.settlements if s.ledger_id in done), Decimal(0))
    out = []
    for settlement in document.settlements:
        if settlement.ledger_id in done:
            out.append(None)
            continue
        left -= settlement.amount
        out.append(left)
    return out
