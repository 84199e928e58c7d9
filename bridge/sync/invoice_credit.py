"""Crediting a paid or part-paid invoice the platform cancelled (called by ``invoice_cancel``).

The ledger gets one approved credit note over what the invoice's total still lacks in
credit, applied to what is still due on the invoice (so its balance is nil); the rest is the customer's credit, refunded in
the ledger by a person (a refund moves money out of a bank account: never ours to do).

Never a second credit note for one cancellation, whatever crashes where:

1. an intent row (a link of kind ``credit_note`` keyed by the platform invoice, no ledger id
   yet) is committed *before* the create, with when it was written;
2. the create carries an Idempotency-Key of the invoice, so a lost answer replays within
   the ledger's window;
3. the credit note's id is committed on the intent row as soon as it is known;
4. a retry that finds an intent without an id looks for an unapplied credit note for the
   contact over the amount changed since the intent (``Ledger.find_credit``) and adopts it
   (ours is applied only after its id is committed, so an applied one is never a lost one).
A crash between the create and the apply therefore only repeats the apply. A cancellation
credits what is not credited yet: a credit note a person made before stays theirs.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from ..errors import PermanentError
from ..extensions import db
from ..faults import fault_point
from ..messages import N_
from ..models import utcnow
from .links import bind, find_link
from .registry import ledger_for

KIND = "credit_note"


def credit_cancelled(installation, connection, ledger, link, document, record, amount: Decimal | None = None,
                     refund_id: str = "") -> None:
    """Credit ``document`` (the ledger twin of the platform invoice ``link``): its total on a
    cancellation, ``amount`` for a refund (one credit note per ``refund_id``)."""
    # A cancellation credits what is not credited yet (a person's earlier credit note stays).
    amount = document.total - document.amount_credited if amount is None else amount
    key = f"{link.platform_id}#refund:{refund_id}" if refund_id else link.platform_id
    intent = find_link(installation.id, KIND, key)
    credit_id = intent.ledger_id if intent is not None else None
    if credit_id is None:
        since = _intent_at(intent)
        found = ledger.find_credit(document, amount, since) if intent is not None else None
        if found is not None:
            credit_id = found.ledger_id
            _remember(installation, connection, key, credit_id, found.number)
        else:
            if intent is None:
                bind(installation.id, connection, KIND, key, ledger_id=None,
                     extra={"intent_at": utcnow().isoformat(), "amount": str(amount)})
                db.session.commit()
            result = ledger.create_credit(document, amount, f"credit-{installation.id}-{key}")
            record.sent = result.sent
            if not result.ok:
                raise result.error or PermanentError(N_("The ledger refused the credit note."), code="credit_refused")
            credit_id = result.ledger_id
            _remember(installation, connection, key, credit_id, result.number)
            fault_point("after credit note created")
    due = min(document.amount_due, amount)
    already = any(s.ledger_id == credit_id for s in document.settlements)
    if due > 0 and not already:
        result = ledger.apply_credit(document, credit_id, due, f"credit-apply-{installation.id}-{credit_id}")
        if not result.ok:
            raise result.error or PermanentError(N_("The ledger refused to apply the credit note."),
                                                 code="credit_refused")
    number = find_link(installation.id, KIND, key).ledger_number or ""
    applied_now = Decimal(0) if already else due
    to_refund = amount - applied_now  # the customer's credit: paid money going back, a person's act
    record.state = "succeeded"
    record.received = {"credit_note": credit_id, "number": number, "applied": str(applied_now),
                       "to_refund": str(to_refund)}
    if to_refund > 0:
        record.warning = N_("Credit note %(number)s made; %(amount)s %(currency)s were paid and are to be refunded "
                            "to the customer in the ledger.", number=number, amount=str(to_refund),
                            currency=document.currency)
    record.finished_at = utcnow()


def ledger_twin(installation, platform_id: str, record, never_synced) -> tuple | None:
    """(ledger, connection, link, document) of a platform invoice, or None once ``record``
    says why there is none (``never_synced``: the sentence for an invoice never sent)."""
    link = find_link(installation.id, "invoice", platform_id)
    if link is None or not link.ledger_id:
        record.state, record.warning = "skipped", never_synced
        record.finished_at = utcnow()
        return None
    ledger, connection = ledger_for(installation)
    documents = ledger.get_invoices([link.ledger_id])
    if not documents:
        record.state, record.warning = "skipped", N_("The ledger no longer has this invoice.")
        record.finished_at = utcnow()
        return None
    return ledger, connection, link, documents[0]


def _remember(installation, connection, key: str, credit_id: str, number: str | None) -> None:
    bind(installation.id, connection, KIND, key, ledger_id=credit_id, ledger_number=number or "")
    db.session.commit()


def _intent_at(intent) -> datetime | None:
    value = ((intent.extra or {}) if intent is not None else {}).get("intent_at")
    return datetime.fromisoformat(value) if value else None
