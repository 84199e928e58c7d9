"""Flow ``invoice_cancel`` (object ``invoice:<platform id>``): the platform invoice was deleted
or cancelled. A ledger draft is deleted; an approved invoice without payments is voided only
when the setting allows it, otherwise flagged; a paid or part-paid invoice gets a credit
note where the ledger books them through its API (``invoice_credit``), else it is flagged
for a person to credit in the ledger.
"""
from __future__ import annotations

from ..domain import InvoiceStatus
from ..errors import ConflictError
from ..extensions import db
from ..engine import WorkContext, flow
from ..models import Installation, utcnow
from ..settings import get_section
from ..messages import N_
from .invoice_credit import credit_cancelled, ledger_twin


@flow("invoice_cancel")
def cancel_in_ledger(ctx: WorkContext) -> None:
    installation = db.session.get(Installation, ctx.installation_id)
    platform_id = ctx.object_key.partition(":")[2]
    record = ctx.record(object_kind="invoice", object_id=platform_id, direction="to_ledger")
    twin = ledger_twin(installation, platform_id, record, N_("Never synced: nothing to cancel in the ledger."))
    if twin is None:
        return
    ledger, connection, link, document = twin
    allowed = get_section(installation, "invoices").void_authorised_on_cancel
    paid = document.status in (InvoiceStatus.PAID, InvoiceStatus.PARTIALLY_PAID) or document.amount_paid
    if paid and ledger.issues_credit_notes:
        credit_cancelled(installation, connection, ledger, link, document, record)
        return
    if paid:
        raise ConflictError(
            N_("The invoice was cancelled here, but %(ledger)s has payments on it: it was left as it is.",
               ledger=ledger.kind.title()),
            ours={"cancelled": True}, theirs={"status": document.status.value, "amount_paid": str(document.amount_paid)},
            choices=[N_("Credit or refund it in the ledger by hand")], fix=N_("Handle it in the ledger."))
    if document.status in (InvoiceStatus.VOIDED, InvoiceStatus.DELETED):
        record.state, record.warning = "skipped", N_("Already cancelled in the ledger.")
    elif document.status == InvoiceStatus.AUTHORISED and not allowed:
        raise ConflictError(
            N_("The invoice was cancelled here, but %(ledger)s has it approved; voiding approved invoices is switched "
               "off.", ledger=ledger.kind.title()), ours={"cancelled": True}, theirs={"status": document.status.value},
            choices=[N_("Void it in the ledger by hand"), N_("Allow voiding in Settings and retry")],
            fix=N_("Settings > Invoices: allow voiding approved invoices."))
    else:
        result = ledger.cancel_invoice(document, void_allowed=allowed)
        if not result.ok:
            raise result.error
        link.ledger_status = (result.status or InvoiceStatus.VOIDED).value
        record.state = "succeeded"
        record.received = {"status": link.ledger_status}
    record.finished_at = utcnow()
