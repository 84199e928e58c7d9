"""Flow ``invoice_refund`` (object ``refund:<platform id>#<refund id>``, options ``refund``:
amount, currency, lines): the platform refunded a paid order in whole or in part (DG1
``order.refunded``, docs/dg1.md section 5).

Where the ledger books credit notes through its API (``Ledger.issues_credit_notes``: Xero)
the refund becomes one credit note over its amount, applied to what is still due
(``invoice_credit``). Bexio's API documents no credit-note create, so there the refund is a
visible task for the shop's administrator: a conflict on the order naming the amount, the
lines and the invoice in the ledger. Once a person has booked the credit in the ledger (Bexio
``total_credit_vouchers``), "Sync now" reads it back and the task closes.

Webhooks come in any order: a refund that reaches bridge before its order's invoice is in the
ledger finds nothing to credit, and runs again when the invoice is made
(``ask_early_refunds_again``), so no refund is lost to the order its events arrived in.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from ..errors import ConflictError, PermanentError
from ..extensions import db
from ..engine import WorkContext, flow, request_again
from ..messages import N_
from ..models import Installation, utcnow
from .invoice_credit import credit_cancelled, ledger_twin

FLOW = "invoice_refund"


@flow(FLOW)
def refund_in_ledger(ctx: WorkContext) -> None:
    installation = db.session.get(Installation, ctx.installation_id)
    platform_id, _, refund_id = ctx.object_key.partition(":")[2].rpartition("#")
    refund = dict(ctx.options.get("refund") or {})
    record = ctx.record(object_kind="invoice", object_id=platform_id, direction="to_ledger")
    try:
        amount = Decimal(str(refund.get("amount")))
    except (InvalidOperation, ValueError):
        raise PermanentError(N_("The refund carries no amount."), code="bad_refund") from None
    twin = ledger_twin(installation, platform_id, record, N_("Never synced: nothing to credit in the ledger."))
    if twin is None:
        return
    ledger, connection, link, document = twin
    if ledger.issues_credit_notes:
        credit_cancelled(installation, connection, ledger, link, document, record, amount=amount,
                         refund_id=refund_id)
        return
    credited = _credited_so_far(link, refund_id, amount)
    db.session.commit()  # the refund is remembered even while its task is open
    if document.amount_credited >= credited:
        # Booked by hand in the ledger (read back): the task is done.
        record.state = "succeeded"
        record.received = {"credited": str(document.amount_credited), "refund": str(amount)}
        record.finished_at = utcnow()
        return
    name = ledger.display_name or ledger.kind.title()
    raise ConflictError(
        N_("The order was refunded (%(amount)s %(currency)s), but %(ledger)s's API cannot make credit notes: "
           "credit it in %(ledger)s.", amount=str(amount), currency=refund.get("currency") or document.currency,
           ledger=name),
        ours={"refund": {"amount": str(amount), "lines": refund.get("lines") or []}},
        theirs={"invoice": document.number, "url": document.url, "credited": str(document.amount_credited)},
        choices=[N_("Credit it in the ledger by hand, then Sync now")],
        fix=N_("Open invoice %(number)s in %(ledger)s (%(url)s) and create a credit note for the lines shown; "
               "bridge reads it back.", number=document.number, ledger=name, url=document.url))


def _credited_so_far(link, refund_id: str, amount: Decimal) -> Decimal:
    """The credit the ledger must show once this refund is booked: every refund of the order
    so far, remembered on the invoice's link (``extra.refunds``, refund id -> amount)."""
    refunds = {**((link.extra or {}).get("refunds") or {}), refund_id: str(amount)}
    link.extra = {**(link.extra or {}), "refunds": refunds}
    return sum((Decimal(v) for v in refunds.values()), Decimal(0))


def ask_early_refunds_again(installation_id: int, platform_ids: list[str]) -> None:
    """The invoices of these platform orders were just made in the ledger: their refunds that
    came first (skipped: nothing to credit yet) run again, now with the invoice to credit."""
    request_again(installation_id, FLOW, *(f"refund:{platform_id}#" for platform_id in platform_ids))
