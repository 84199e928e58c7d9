"""The fix actions of the reconciliation report's rows, as a person takes them on the
report page: sync again, link to this one, accept the ledger's version, ignore.

Each acts on one row and says what it did in the user's words (a ``Message``); a refusal
(the twin chosen is not there, or belongs to another invoice) is a ``SyncError`` the page
shows. Sync again only asks for the invoice's work, as the invoice tab's Retry does; the
row is marked fixed by the next run that finds it in step. Linking and accepting the
ledger's version are done at once (one invoice, a few calls) and close the row.
"""
from __future__ import annotations

from ..engine import WorkRequest, request_work
from ..errors import PermanentError
from ..extensions import db
from ..messages import Message, N_
from ..models import Installation, utcnow
from ..report_models import ReportRow
from .invoice_flowback import GROUPS, changed_groups, with_platform_rates
from .links import LinkTaken, bind, find_link
from .mapping import document_digests, ledger_document, with_due_date
from .registry import ledger_for, platform_for
from .report_payments import book_payment, note_payment

ACTIONS = ("sync_again", "link_other", "accept_ledger", "note_payment", "book_payment", "ignore", "reopen")


def act(installation: Installation, row: ReportRow, action: str, other: str = "") -> Message:
    """Take ``action`` on ``row`` (``other``: the twin's id, for link_other). Commits."""
    if action not in ACTIONS or (action != "reopen" and action not in (row.actions or [])):
        raise PermanentError(N_("This action does not apply to this difference."))
    done = _ACT[action](installation, row, other.strip())
    db.session.commit()
    return done


def _close(row: ReportRow, state: str) -> None:
    row.state, row.resolved_at = state, utcnow()


def _ignore(installation: Installation, row: ReportRow, other: str) -> Message:
    _close(row, "ignored")
    return N_("Ignored: the report no longer counts it.")


def _reopen(installation: Installation, row: ReportRow, other: str) -> Message:
    row.state, row.resolved_at = "open", None
    return N_("Counted again.")


def _sync_again(installation: Installation, row: ReportRow, other: str) -> Message:
    if row.kind == "payments" and row.ledger_id:
        # The ledger's payments and status, followed to the platform as a webhook would.
        request_work(WorkRequest(installation.id, "ledger_invoice_changed", f"ledger_invoice:{row.ledger_id}",
                                 {"manual": True}))
    else:
        link = find_link(installation.id, "invoice", row.platform_id)
        if link is not None:
            # What we last wrote is no longer what the ledger has (an edit there): forget it,
            # so the run sends the invoice again instead of finding it "unchanged".
            link.content_hash = None
        platform = platform_for(installation)
        request_work(WorkRequest(installation.id, "invoice_to_ledger", f"{platform.invoice_object}:{row.platform_id}",
                                 {"manual": True}))
    return N_("Sync requested: the next run of the report checks it again.")


def _link_other(installation: Installation, row: ReportRow, other: str) -> Message:
    """Link the row's invoice to the twin the person named: a ledger invoice for a platform
    invoice, a platform invoice for a ledger invoice. Read first: a twin that is not there is
    refused, and nothing is written to either system."""
    if not other:
        raise PermanentError(N_("Enter the invoice to link it to."))
    ledger, connection = ledger_for(installation)
    platform_id, ledger_id = (row.platform_id, other) if row.platform_id else (other, row.ledger_id)
    documents = ledger.get_invoices([ledger_id])
    invoice = platform_for(installation).get_invoices([platform_id]).get(platform_id)
    if not documents or invoice is None:
        raise PermanentError(N_("No invoice %(number)s was found: nothing was linked.", number=other))
    existing = find_link(installation.id, "invoice", platform_id)
    if existing is not None and existing.ledger_id and existing.ledger_id != ledger_id:
        raise PermanentError(N_("Invoice %(number)s is linked to another ledger invoice already: nothing was linked.",
                                number=platform_id))
    document = documents[0]
    try:
        bind(installation.id, connection, "invoice", platform_id, ledger_id=document.ledger_id,
             ledger_number=document.number, ledger_status=document.status.value, ledger_version=document.version,
             extra={"url": document.url, "linked_by_hand": True})
    except LinkTaken as exc:
        raise PermanentError(exc.message) from None
    _close(row, "fixed")
    return N_("Linked: %(platform_id)s and %(number)s are one invoice now.", platform_id=platform_id,
              number=document.number or document.ledger_id)


def _accept_ledger(installation: Installation, row: ReportRow, other: str) -> Message:
    """Copy the ledger's version (dates, currency, lines) onto the platform invoice, and
    remember it as what we wrote, so the platform's event for that change sends nothing back."""
    ledger, _ = ledger_for(installation)
    platform = platform_for(installation)
    documents = ledger.get_invoices([row.ledger_id])
    link = find_link(installation.id, "invoice", row.platform_id)
    current = platform.get_invoice(row.platform_id)
    if not documents or documents[0].invoice is None or current is None or link is None:
        raise PermanentError(N_("The invoice is no longer on both sides: nothing was copied."))
    theirs = with_platform_rates(installation, documents[0].invoice)
    groups = changed_groups(with_due_date(installation, current), theirs) or set(GROUPS)
    platform.apply_invoice_changes(row.platform_id, theirs, groups)
    refreshed = platform.get_invoice(row.platform_id)
    if refreshed is not None:
        party = (link.extra or {}).get("party_ledger_id")
        link.content_hash = document_digests(ledger, ledger_document(installation, ledger, refreshed, party)[1])[0]
    _close(row, "fixed")
    return N_("The ledger's version was copied to the invoice here.")


def _note_payment(installation: Installation, row: ReportRow, other: str) -> Message:
    done = note_payment(installation, row)
    _close(row, "fixed")
    return done


def _book_payment(installation: Installation, row: ReportRow, other: str) -> Message:
    done = book_payment(installation, row)
    _close(row, "fixed")
    return done


_ACT = {"note_payment": _note_payment, "book_payment": _book_payment, "sync_again": _sync_again, "link_other": _link_other, "accept_ledger": _accept_ledger, "ignore": _ignore,
        "reopen": _reopen}
