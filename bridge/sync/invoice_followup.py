"""What happens to a new ledger invoice after it is created, per the installation's settings:
issue it, book the payment the shop already took, e-mail it to the customer.

The DG1 -> Bexio seed asks for all three; Xero keeps new invoices as drafts by default. Each
step is remembered on the link once done (``extra["steps"]``), and committed at once, so a
crash or an error part-way resumes with the next step on the following attempt and never
books a payment or sends an e-mail twice.
"""
from __future__ import annotations

from ..domain import Invoice, InvoiceStatus
from ..errors import SyncError
from ..extensions import db
from ..faults import fault_point
from ..models import Installation, Link
from ..settings import get_section
from .money_check import AMOUNTS_DIFFER
from ..ports import Ledger, LedgerDocument

STEPS = ("issue", "payment", "email")
# E-mail is sent at most once; every other step is idempotent on the ledger's side (an
# issued invoice is not issued again, a booked payment is found and not booked twice).


def wanted_steps(installation: Installation, invoice: Invoice) -> list[str]:
    settings = get_section(installation, "invoices")
    steps = []
    if settings.issue_on_create or settings.create_payment or settings.send_by_email:
        steps.append("issue")  # a payment or an e-mail needs an issued invoice
    if settings.create_payment and invoice.payments:
        steps.append("payment")
    if settings.send_by_email:
        steps.append("email")
    return steps


def pending_steps(installation: Installation, invoice: Invoice, link: Link) -> list[str]:
    if (link.extra or {}).get(AMOUNTS_DIFFER):
        return []  # the ledger booked other money than the platform shows: not issued, paid or sent
    done = set((link.extra or {}).get("steps", []))
    return [step for step in wanted_steps(installation, invoice) if step not in done]


def _mark(link: Link, step: str) -> None:
    extra = dict(link.extra or {})
    extra["steps"] = [*extra.get("steps", []), step]
    link.extra = extra
    db.session.commit()


def _unmark(link: Link, step: str) -> None:
    extra = dict(link.extra or {})
    extra["steps"] = [s for s in extra.get("steps", []) if s != step]
    link.extra = extra
    db.session.commit()


def complete_invoice(installation: Installation, ledger: Ledger, link: Link, invoice: Invoice) -> list[str]:
    """Run the steps still pending for this invoice; returns those done now."""
    done_now: list[str] = []
    for step in pending_steps(installation, invoice, link):
        document = LedgerDocument(ledger_id=link.ledger_id, number=link.ledger_number or "",
                                  status=InvoiceStatus(link.ledger_status or "draft"),
                                  version=link.ledger_version)
        if step == "issue" and document.status.is_editable:
            result = ledger.issue_invoice(document)
            if not result.ok:
                raise result.error
            link.ledger_status = (result.status or InvoiceStatus.AUTHORISED).value
            link.ledger_version = result.version or link.ledger_version
        elif step == "payment":
            for n, payment in enumerate(invoice.payments):
                key = f"bridge-{installation.id}-payment-{link.platform_id}-{n}"[:128]
                result = ledger.record_payment(document, payment, key)
                if not result.ok:
                    raise result.error
        elif step == "email":
            # At most once: an e-mail cannot be taken back, and a crash between Bexio sending
            # it and our record of it must not send it twice. So the attempt is recorded
            # first; an attempt without a recorded outcome is reported, not repeated.
            if "email:started" in (link.extra or {}).get("steps", []):
                warnings = dict(link.extra or {})
                warnings["email_unsure"] = True
                link.extra = warnings
                _mark(link, step)
                done_now.append("email (not repeated: an earlier attempt may have sent it)")
                continue
            _mark(link, "email:started")
            try:
                result = ledger.send_invoice(document)
                if not result.ok:
                    raise result.error
            except SyncError as exc:
                if exc.status is not None:  # the ledger answered "no": nothing was sent
                    _unmark(link, "email:started")
                raise
        fault_point(f"after {step}")
        _mark(link, step)
        done_now.append(step)
    return done_now
