"""The reconciliation report, payment by payment: a payment (or part payment) known on one
side only is a row of its own, with a fix that writes the missing half exactly once.

- ``payment_not_shown``: the ledger has a payment the platform does not show: no note of it
  under the platform invoice (``invoice_payments``' settlement row with its note), and the
  platform's own payments (a DG1 order's) have none of its amount. Only for a platform that
  takes notes. Fix ``note_payment``: the payment flow's ``note_settlements``, which keeps a
  row per payment, so pressing it twice, or the webhook arriving after, adds no second note.
- ``payment_not_in_ledger``: the platform has a payment (a DG1 order's captured payment)
  with no ledger payment of its amount. Fix ``book_payment``: ``Ledger.record_payment``
  with the key the invoice's follow-up step uses for that payment, and a ledger that finds
  a payment of that date and amount already booked (Bexio) books nothing.

A row's ledger id is the invoice's ledger id, ``#``, and the payment's: one row per
payment (the report's rows are keyed by kind, platform id, ledger id). ``base_id`` gives
the invoice's back. Reading costs nothing extra: the ledger's payments come with the
invoices the report reads anyway (Xero lists them on the invoice; Bexio's are read with
each paid invoice), the notes are rows of our own database.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import or_, select

from ..errors import PermanentError
from ..extensions import db
from ..messages import Message, N_
from ..models import Link
from .invoice_payments import KIND as NOTE_KIND, note_settlements
from .links import find_link
from .registry import ledger_for, platform_for

NOT_SHOWN, NOT_IN_LEDGER = "payment_not_shown", "payment_not_in_ledger"
KINDS = (NOT_SHOWN, NOT_IN_LEDGER)
_LEDGER, _PLATFORM = "#payment:", "#platform_payment:"


def base_id(ledger_id: str) -> str:
    """The invoice's ledger id in a row's ledger id (itself for an invoice row)."""
    return ledger_id.partition("#")[0]


def noted(installation_id: int, platform_ids: list[str]) -> set[str]:
    """The ledger ids of the payments already noted under these platform invoices."""
    if not platform_ids:
        return set()
    wanted = set(platform_ids)
    rows = db.session.execute(select(Link.platform_id, Link.ledger_id, Link.extra).where(
        Link.installation_id == installation_id, Link.kind == NOTE_KIND,
        or_(*[Link.platform_id.startswith(f"{pid}#", autoescape=True) for pid in wanted]))).all()
    return {r.ledger_id for r in rows
            if r.platform_id.partition("#")[0] in wanted and (r.extra or {}).get("note") is not None}


def payment_rows(link, document, invoice, platform, ledger, shown: set[str], tolerance: Decimal,
                 installed_on: date | None = None) -> list[tuple[str, str, Message, list[str]]]:
    """(kind, row ledger id, what, actions) for each payment known on one side only.
    ``shown``: the payments noted under the platform invoices (``noted``). A payment made
    before bridge was installed was never bridge's to show or book: no row."""
    names = {"ledger": ledger.display_name, "platform": platform.display_name}
    theirs = [s for s in document.settlements if s.kind == "payment"]
    unmatched = []
    for n, payment in enumerate(invoice.payments):
        twin = next((s for s in theirs if abs(s.amount - payment.amount) <= tolerance), None)
        if twin is None:
            unmatched.append((n, payment))
        else:
            theirs.remove(twin)  # the platform has this payment itself: known on both sides
    found = []
    if platform.takes_invoice_notes:
        for settlement in theirs:
            if settlement.ledger_id in shown or _before(settlement.on, installed_on):
                continue
            found.append((NOT_SHOWN, f"{link.ledger_id}{_LEDGER}{settlement.ledger_id}", N_(
                "Paid %(amount)s in %(ledger)s on %(date)s, not shown in %(platform)s.",
                amount=_money(settlement.amount, document.currency), ledger=names["ledger"],
                date=settlement.on.isoformat() if settlement.on else "?", platform=names["platform"]),
                ["note_payment", "ignore"]))
    for n, payment in unmatched:
        if _before(payment.paid_on, installed_on):
            continue
        found.append((NOT_IN_LEDGER, f"{link.ledger_id}{_PLATFORM}{n}", N_(
            "Paid %(amount)s in %(platform)s on %(date)s, not in %(ledger)s.",
            amount=_money(payment.amount, payment.currency or document.currency), platform=names["platform"],
            date=payment.paid_on.isoformat(), ledger=names["ledger"]), ["book_payment", "ignore"]))
    return found


def _before(day: date | None, installed_on: date | None) -> bool:
    return bool(day and installed_on and day < installed_on)


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:.2f} {currency or ''}".strip()


def note_payment(installation, row) -> Message:
    """Write the payment's note under the platform invoice, once (the payment flow's rows)."""
    link, document = _both(installation, row)
    payment_id = row.ledger_id.partition(_LEDGER)[2]
    if not any(s.ledger_id == payment_id for s in document.settlements):
        raise PermanentError(N_("The ledger no longer has this payment: nothing was written."))
    note_settlements(installation, platform_for(installation), link, document)
    return N_("The payment is shown under the invoice now.")


def book_payment(installation, row) -> Message:
    """Book the platform's payment in the ledger with the follow-up step's key for it."""
    link, document = _both(installation, row)
    invoice = platform_for(installation).get_invoice(row.platform_id)
    token = row.ledger_id.partition(_PLATFORM)[2]
    if invoice is None or not token.isdigit() or int(token) >= len(invoice.payments):
        raise PermanentError(N_("The payment is no longer on the invoice here: nothing was booked."))
    n = int(token)
    key = f"bridge-{installation.id}-payment-{link.platform_id}-{n}"[:128]  # as ``invoice_followup``'s step
    ledger, _ = ledger_for(installation)
    result = ledger.record_payment(document, invoice.payments[n], key)
    if not result.ok:
        raise result.error or PermanentError(N_("The ledger refused the payment."))
    return N_("The payment was booked in the ledger.")


def _both(installation, row):
    link = find_link(installation.id, "invoice", row.platform_id)
    ledger, _ = ledger_for(installation)
    documents = ledger.get_invoices([base_id(row.ledger_id)]) if link is not None else []
    if not documents:
        raise PermanentError(N_("The invoice is no longer on both sides: nothing was written."))
    return link, documents[0]
