"""Flow ``invoice_sent_sweep``: once a day, re-read the linked invoices that are approved
but not yet sent to the customer, so that "sent" reaches the platform even when the ledger
neither told us nor moved the invoice's version.

Xero does not bump UpdatedDateUTC when a part-paid invoice is marked sent (SentToContact,
https://developer.xero.com/documentation/api/invoices), so the If-Modified-Since poll never sees
it, and a webhook may not come either. The sweep is bounded: only invoices approved within
``WINDOW`` and not known as sent, read by ID 50 a call (``IDs=``). K such invoices cost
ceil(K / 50) calls a day (120 -> 3), against Xero's 5,000 per organisation (docs/PERFORMANCE.md).
Each invoice whose state moved is followed exactly as a webhook would have it
(``ledger_invoice_changed.follow_one``), in this run, without a second read, and committed at
once: a failure halfway retries the sweep, which then reads only those not followed yet.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from huey import crontab
from sqlalchemy import select

from ..domain import InvoiceStatus
from ..extensions import db
from ..engine import WorkContext, WorkRequest, flow, period_key, periodic
from ..models import Installation, Link, utcnow
from ..settings import get_section
from ..ports import ledger_class, platform_class
from ..messages import N_
from .daily import DAY, daily_installations, request_daily, skip_reason
from .ledger_invoice_changed import follow_one
from .polling import is_known
from .registry import ledger_for, platform_for

FLOW = "invoice_sent_sweep"
ALL = "sent:all"
WINDOW = timedelta(days=30)  # an invoice not sent within a month of approval is left to the webhooks
APPROVED = (InvoiceStatus.AUTHORISED.value, InvoiceStatus.PARTIALLY_PAID.value)


def sweeps_sent(platform_kind: str, ledger_kind: str) -> bool:
    """A ledger that says whether an invoice was sent to the customer, with a platform that
    shows it (as their ports declare)."""
    return platform_class(platform_kind).follows_sent and ledger_class(ledger_kind).tells_sent_to_contact


def sweep_request(installation_id: int, *, manual: bool = False) -> WorkRequest:
    return WorkRequest(installation_id, FLOW, ALL, {"manual": True} if manual else {})


def candidates(installation: Installation, connection, now: datetime) -> list[Link]:
    """Linked invoices approved within WINDOW that the ledger has not marked sent."""
    rows = db.session.scalars(select(Link).where(
        Link.installation_id == installation.id, Link.kind == "invoice", Link.ledger == connection.ledger,
        Link.ledger_org == connection.organisation_id, Link.ledger_id.is_not(None),
        Link.ledger_status.in_(APPROVED), Link.updated_at >= now - WINDOW)).all()
    chosen = []
    for link in rows:
        extra = link.extra or {}
        approved_at = datetime.fromisoformat(extra["approved_at"]) if extra.get("approved_at") else link.updated_at
        if approved_at.tzinfo is None:
            approved_at = approved_at.replace(tzinfo=now.tzinfo)
        if extra.get("sent_to_contact") is not True and approved_at >= now - WINDOW:
            chosen.append(link)
    return chosen


def sweep(installation: Installation, ledger, connection, platform, new_record) -> dict[str, int]:
    """Read the candidates (one call per 50) and follow those whose state moved.
    ``new_record(link)`` opens the sync record of one followed invoice."""
    links = candidates(installation, connection, utcnow())
    db.session.commit()  # nothing held open while the ledger answers
    if not links:
        return {"read": 0, "followed": 0}
    documents = {d.ledger_id: d for d in ledger.get_invoices([link.ledger_id for link in links])}
    follow_status = get_section(installation, "daily").sync_status
    sent_when = get_section(installation, "invoices").sent_when
    followed = 0
    for link in links:
        document = documents.get(link.ledger_id)
        if document is None or is_known(document, link):
            continue
        follow_one(installation, platform, ledger, link, new_record(link), document, follow_status, sent_when)
        db.session.commit()
        followed += 1
    return {"read": len(links), "followed": followed}


@flow(FLOW)
def sweep_sent(ctx: WorkContext) -> None:
    installation = db.session.get(Installation, ctx.installation_id)
    record = ctx.record(object_kind="sent", object_id="all", direction="to_platform")
    skipped = skip_reason(installation, ctx.options, "sync_status", N_("Status sync"))
    if skipped is None and get_section(installation, "invoices").sent_when != "sent":
        skipped = N_("Invoices move to “sent” on approval (Settings): nothing to look for.")
    if skipped:
        record.state, record.warning = "skipped", skipped
    else:
        ledger, connection = ledger_for(installation)
        platform = platform_for(installation)
        record.received = sweep(installation, ledger, connection, platform, lambda link: ctx.record(
            object_kind="invoice", object_id=link.platform_id, direction="to_platform"))
        record.state = "succeeded"
    record.finished_at = utcnow()
    db.session.commit()


def request_daily_sweep(day: str | None = None) -> int:
    return request_daily("sent_sweep", day or period_key(DAY), daily_installations("sync_status", sweeps_sent),
                         sweep_request)


# Once per day per installation, hourly from 05:20 UTC so that a crash halfway resumes the same day.
@periodic(crontab(hour="5-23", minute="20"), DAY, name="sent_sweep", per_item=True)
def daily_sent_sweep(day: str) -> int:
    return request_daily_sweep(day)
