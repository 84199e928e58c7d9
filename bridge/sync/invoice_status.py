"""Flows that follow the ledger and the platform's end of an invoice's life.

``ledger_invoice_changed`` (object ``ledger_invoice:<ledger id>``): the ledger says an
invoice changed (a Xero webhook, a poll, Bexio's daily status run). Read it; if its status
moved (sent/approved, paid, voided), move the platform invoice to the mapped stage
(Bitrix24) or status (DG1 COMPLETED on paid). Our own writes coming back are recognised by
the ledger version stored on the link and do nothing.

``invoice_cancel`` (object ``invoice:<platform id>``): the platform invoice was deleted or
cancelled. A ledger draft is deleted; an approved invoice without payments is voided only
when the setting allows it, otherwise flagged; a paid invoice is never touched.
"""
from __future__ import annotations

from ..domain import InvoiceStatus
from ..errors import ConflictError
from ..extensions import db
from ..jobs import WorkContext, flow
from ..models import Installation, utcnow
from ..settings import get_section
from .invoice_flowback import flow_back
from .links import find_link, find_link_by_ledger_id
from .polling import is_known
from .registry import ledger_for, platform_for

# Ledger statuses the platform follows, in the order an invoice lives them.
FOLLOWED = {InvoiceStatus.AUTHORISED, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.PAID,
            InvoiceStatus.VOIDED, InvoiceStatus.DELETED}


@flow("ledger_invoice_changed")
def follow_ledger_status(ctx: WorkContext) -> None:
    installation = db.session.get(Installation, ctx.installation_id)
    ledger_id = ctx.object_key.partition(":")[2]
    ledger, connection = ledger_for(installation)
    link = find_link_by_ledger_id(connection, "invoice", ledger_id)
    if link is None:
        return  # not one of ours (e.g. a bill, or an invoice made in the ledger by hand)
    record = ctx.record(object_kind="invoice", object_id=link.platform_id, direction="to_platform")
    documents = ledger.get_invoices([ledger_id])
    if not documents:
        record.state, record.warning = "skipped", "The ledger no longer has this invoice."
        record.finished_at = utcnow()
        return
    document = documents[0]
    if is_known(document, link):
        record.state, record.warning = "skipped", "Our own change coming back: nothing to do."
        record.finished_at = utcnow()
        return
    previous = InvoiceStatus(link.ledger_status) if link.ledger_status else None
    # Read before the link changes below: a lazy load would flush them, and the write
    # transaction would then be held across the platform call (SQLite: database locked).
    follow_status = get_section(installation, "daily").sync_status
    platform = platform_for(installation)
    applied = flow_back(installation, platform, ledger, link, document)
    link.ledger_version = document.version
    status_moved = document.status != previous and document.status in FOLLOWED
    link.ledger_status = document.status.value
    if not status_moved and not applied:
        record.state, record.warning = "skipped", "No change to follow."
        record.finished_at = utcnow()
        return
    if status_moved and not follow_status:
        record.state, record.warning = "skipped", "Status sync is switched off in the settings."
        record.finished_at = utcnow()
        return
    if status_moved:
        platform.set_invoice_status(link.platform_id, document.status)
    record.sent = {"status": document.status.value, "groups": sorted(applied)}
    record.received = {"ledger_id": document.ledger_id, "number": document.number,
                       "amount_paid": str(document.amount_paid), "amount_due": str(document.amount_due)}
    record.state = "succeeded"
    record.finished_at = utcnow()


@flow("invoice_cancel")
def cancel_in_ledger(ctx: WorkContext) -> None:
    installation = db.session.get(Installation, ctx.installation_id)
    platform_id = ctx.object_key.partition(":")[2]
    link = find_link(installation.id, "invoice", platform_id)
    record = ctx.record(object_kind="invoice", object_id=platform_id, direction="to_ledger")
    if link is None or not link.ledger_id:
        record.state, record.warning = "skipped", "Never synced: nothing to cancel in the ledger."
        record.finished_at = utcnow()
        return
    ledger, _ = ledger_for(installation)
    documents = ledger.get_invoices([link.ledger_id])
    if not documents:
        record.state, record.warning = "skipped", "The ledger no longer has this invoice."
        record.finished_at = utcnow()
        return
    document = documents[0]
    allowed = get_section(installation, "invoices").void_authorised_on_cancel
    if document.status in (InvoiceStatus.PAID, InvoiceStatus.PARTIALLY_PAID) or document.amount_paid:
        raise ConflictError(
            f"The invoice was cancelled here, but {ledger.kind.title()} has payments on it: it was left "
            f"as it is.", ours={"cancelled": True}, theirs={"status": document.status.value,
                                                           "amount_paid": str(document.amount_paid)},
            choices=["Credit or refund it in the ledger by hand"], fix="Handle it in the ledger.")
    if document.status in (InvoiceStatus.VOIDED, InvoiceStatus.DELETED):
        record.state, record.warning = "skipped", "Already cancelled in the ledger."
    elif document.status == InvoiceStatus.AUTHORISED and not allowed:
        raise ConflictError(
            f"The invoice was cancelled here, but {ledger.kind.title()} has it approved; voiding approved "
            f"invoices is switched off.", ours={"cancelled": True}, theirs={"status": document.status.value},
            choices=["Void it in the ledger by hand", "Allow voiding in Settings and retry"],
            fix="Settings > Invoices: allow voiding approved invoices.")
    else:
        result = ledger.cancel_invoice(document, void_allowed=allowed)
        if not result.ok:
            raise result.error
        link.ledger_status = (result.status or InvoiceStatus.VOIDED).value
        record.state = "succeeded"
        record.received = {"status": link.ledger_status}
    record.finished_at = utcnow()
