"""Flow ``ledger_invoice_changed`` (object ``ledger_invoice:<ledger id>``): the ledger says an
invoice changed (a Xero webhook, a poll, Bexio's daily status run, the sent sweep). Read
it; if the status the platform follows moved (sent, paid, voided), move the platform
invoice to the mapped stage (Bitrix24) or status (DG1 COMPLETED on paid). "Sent" is what
the setting ``sent_when`` says: by default the ledger marking the invoice sent to the
customer (Xero SentToContact), else its approval (``followed_status``). Our own writes
coming back are recognised by the ledger version stored on the link and do nothing.
"""
from __future__ import annotations

from ..domain import InvoiceStatus
from ..extensions import db
from ..faults import fault_point
from ..engine import WorkContext, WorkRequest, flow, request_work
from ..models import Installation, utcnow
from ..messages import N_
from ..ports import KEPT_CANCELLED
from ..settings import get_section
from .invoice_flowback import flow_back
from .invoice_payments import note_settlements
from .online_link import keep_online_link
from .invoice_credit import KIND as CREDIT_NOTE
from .links import find_link, find_link_by_ledger_id
from .polling import is_known
from .registry import ledger_for, platform_for

APPROVED = (InvoiceStatus.AUTHORISED, InvoiceStatus.PARTIALLY_PAID)

BATCH = 50  # ledger invoices read per call (Xero: up to 50 IDs chunked in one GET)
# Ledger statuses the platform follows, in the order an invoice lives them.
FOLLOWED = {InvoiceStatus.AUTHORISED, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.PAID,
            InvoiceStatus.VOIDED, InvoiceStatus.DELETED}


@flow("ledger_invoice_changed", batch=BATCH)
def follow_ledger_status(contexts: list[WorkContext]) -> None:
    """Up to BATCH changed ledger invoices of one installation, read in one ledger call (a
    bulk export's own writes come back as one webhook each: read one by one they would cost
    a call apiece). Each invoice then succeeds or fails on its own."""
    installation = db.session.get(Installation, contexts[0].installation_id)
    ledger, connection = ledger_for(installation)
    linked = []
    for ctx in contexts:
        link = find_link_by_ledger_id(connection, "invoice", ctx.object_key.partition(":")[2])
        if link is not None:  # else not one of ours (e.g. a bill, or an invoice made in the ledger by hand)
            linked.append((ctx, link, ctx.record(object_kind="invoice", object_id=link.platform_id,
                                                 direction="to_platform")))
    if not linked:
        return
    documents = {d.ledger_id: d for d in ledger.get_invoices(list(dict.fromkeys(l.ledger_id for _, l, _ in linked)))}
    # Read before the links change below: a lazy load would flush them, and the write
    # transaction would then be held across the platform call (SQLite: database locked).
    follow_status = get_section(installation, "daily").sync_status
    sent_when = get_section(installation, "invoices").sent_when
    platform = platform_for(installation)
    for ctx, link, record in linked:
        try:
            follow_one(installation, platform, ledger, link, record, documents.get(link.ledger_id), follow_status,
                       sent_when)
            db.session.commit()
        except Exception as exc:  # this invoice's problem, not its batch's
            db.session.rollback()
            ctx.fail(exc)


def followed_status(document, sent_when: str) -> InvoiceStatus:
    """The ledger status the platform follows. An approved invoice not yet sent to the
    customer stays where it is (DRAFT: no stage) while "sent" means sent; a ledger that
    does not say (``sent_to_contact`` None) counts approval as sent."""
    if document.status in APPROVED and sent_when == "sent" and document.sent_to_contact is False:
        return InvoiceStatus.DRAFT
    return document.status


def previously_followed(link) -> InvoiceStatus | None:
    """What the platform was last moved for; links older than ``followed`` followed the
    ledger status itself."""
    value = (link.extra or {}).get("followed") or link.ledger_status
    return InvoiceStatus(value) if value else None


def follow_one(installation: Installation, platform, ledger, link, record, document, follow_status: bool,
               sent_when: str = "approved") -> None:
    if document is None:
        _skip(record, N_("The ledger no longer has this invoice."))
        return
    if is_known(document, link):
        _skip(record, N_("Our own change coming back: nothing to do."))
        return
    # Payments and credit notes first: each is noted under the platform invoice once, and a
    # failure here retries before anything below marks this version as followed.
    noted = note_settlements(installation, platform, link, document)
    online = keep_online_link(platform, ledger, link, document)
    previous = previously_followed(link)
    followed = followed_status(document, sent_when)
    applied = flow_back(installation, platform, ledger, link, document)
    status_moved = followed != previous and followed in FOLLOWED
    if status_moved and followed == InvoiceStatus.PAID and find_link(installation.id, CREDIT_NOTE, link.platform_id):
        # Settled by the credit note of the platform's own cancellation: it stays cancelled there.
        status_moved = False
    if status_moved and follow_status:
        # The link changes below only after the platform took the move: a failure retries it.
        # No autoflush: a pending link change must not open a write transaction that the
        # platform call would hold (SQLite: database is locked).
        with db.session.no_autoflush:
            kept = platform.set_invoice_status(link.platform_id, followed) == KEPT_CANCELLED
        fault_point("after stage move")
        if kept:
            cancelled_meanwhile(installation, platform, ledger, link, document, record)
            return
    remember_followed(link, document, followed if status_moved and follow_status else previous)
    if not status_moved and not applied and not noted and not online:
        _skip(record, N_("No change to follow."))
        return
    if status_moved and not follow_status and not noted and not online:
        _skip(record, N_("Status sync is switched off in the settings."))
        return
    record.sent = {"status": document.status.value, "groups": sorted(applied), **({"noted": noted} if noted else {}),
                   **({"online_url": online} if online else {})}
    record.received = {"ledger_id": document.ledger_id, "number": document.number,
                       "amount_paid": str(document.amount_paid), "amount_due": str(document.amount_due)}
    record.state = "succeeded"
    record.finished_at = utcnow()


def cancelled_meanwhile(installation: Installation, platform, ledger, link, document, record) -> None:
    """The platform has the invoice cancelled and the ledger's status was not followed: a
    person cancelled it after the ledger's change, and its event is still on its way (or was
    taken for our own echo). The cancellation wins: it goes to the ledger now (a credit note
    for a paid invoice), and this ledger version is remembered, so it is not followed later."""
    remember_followed(link, document, previously_followed(link))
    request_work(WorkRequest(installation.id, "invoice_cancel", f"{platform.invoice_object}:{link.platform_id}"))
    record.sent = {"status": document.status.value, "kept": "cancelled"}
    _skip(record, N_("Cancelled in %(platform)s: %(ledger)s's status is not followed; the cancellation is sent to "
                     "%(ledger)s.", platform=platform.display_name, ledger=ledger.display_name))


def remember_followed(link, document, followed: InvoiceStatus | None) -> None:
    """The ledger's version and status, what the platform follows now, whether the ledger
    has it as sent, and since when it is approved (the sent sweep's window)."""
    extra = dict(link.extra or {})
    if followed is not None:
        extra["followed"] = followed.value
    if document.sent_to_contact is not None:
        extra["sent_to_contact"] = document.sent_to_contact
    if document.status in APPROVED and not extra.get("approved_at"):
        extra["approved_at"] = utcnow().isoformat()
    link.extra = extra
    link.ledger_version = document.version
    link.ledger_status = document.status.value


def _skip(record, why: str) -> None:
    record.state, record.warning = "skipped", why
    record.finished_at = utcnow()
