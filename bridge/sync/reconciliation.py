"""The reconciliation report's core: where the platform and the ledger disagree about the
invoices bridge linked, per installation, read incrementally (only links changed since the
last report when ``since`` is given), each row with the fix actions a person can take and
a CSV of them.

It reads in bulk (the ledger's ``get_invoices``: 50 per Xero call; the platform's
``get_invoices``), never writes, and names no system. Differences found:

- ``gone_in_ledger``: the ledger no longer has an invoice we linked (fix: sync again);
- ``gone_on_platform``: the platform invoice is gone while its ledger twin is live
  (fix: void or credit it in the ledger, or ignore);
- ``amounts``: total or currency differ beyond the ledger's rounding (fix: sync again, or
  accept the ledger's version);
- ``payments``: the ledger has payments or credits the platform does not follow yet
  (the invoice is not at "paid" while the ledger's balance is nil), or the other way round,
  or the platform has the invoice paid while the ledger has no payment for it (fix: sync
  again);
- ``payment_not_shown`` / ``payment_not_in_ledger``: a payment known on one side only, one
  row per payment (``report_payments.py``: fix: note it here, or book it in the ledger);
- ``missing_in_ledger``: a platform invoice that should have a ledger twin and has none:
  its sync box on, not cancelled, sync switched on, dated on or after the day bridge was
  installed, last changed more than ``GRACE`` ago (a newer one may still be on its way) (fix: sync again, link to a ledger invoice, ignore);
- ``missing_on_platform``: a live ledger invoice made by us (an intent of ours created it,
  or its link back names this platform account) that no platform invoice is linked to (fix:
  link to a platform invoice, ignore).

``scan`` is the incremental form the stored run uses (``report_run.py``): the links, platform
invoices and ledger invoices changed since the last run, plus whatever the still-open rows
name, and it says which it examined, so a row among those not found again is fixed.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Callable, Iterable

from sqlalchemy import select

from ..domain import InvoiceStatus
from ..extensions import db
from ..messages import Message, N_, render
from ..models import Intent, Link, utcnow
from ..settings import get_section
from .intents import CREATED
from .money_check import platform_totals, tolerance
from .report_payments import NOT_IN_LEDGER, noted, payment_rows

LIVE = (InvoiceStatus.DRAFT, InvoiceStatus.SUBMITTED, InvoiceStatus.AUTHORISED, InvoiceStatus.PARTIALLY_PAID,
        InvoiceStatus.PAID)
CHUNK = 50
# A platform invoice changed this recently may still be on its way to the ledger: not missing yet.
GRACE = timedelta(minutes=5)
GONE = (InvoiceStatus.VOIDED, InvoiceStatus.DELETED)


@dataclass
class Difference:
    kind: str  # gone_in_ledger | gone_on_platform | amounts | payments
    platform_id: str
    ledger_id: str
    ledger_number: str
    what: Message
    actions: list[str] = field(default_factory=list)  # sync_again | accept_ledger | link_other | ignore
    issued: date | None = None  # the invoice's date, for the report's period

    @property
    def key(self) -> tuple[str, str, str]:
        return self.kind, self.platform_id, self.ledger_id


@dataclass
class Scan:
    """What one pass found, and what it looked at (so an open row it did not find again is
    known to be fixed, and one it did not look at is left as it was)."""

    differences: list[Difference] = field(default_factory=list)
    platform_ids: set[str] = field(default_factory=set)  # examined platform invoices
    ledger_ids: set[str] = field(default_factory=set)  # examined ledger invoices
    checked: int = 0


def report(installation, platform, ledger, since: datetime | None = None) -> list[Difference]:
    """The differences among the installation's invoice links (those changed since ``since``)."""
    return _linked(installation, platform, ledger, _links(installation, since), Scan()).differences


def scan(installation, platform, ledger, since: datetime | None = None, *, recheck_platform: Iterable[str] = (),
         recheck_ledger: Iterable[str] = (), progress: Callable[[Scan], None] | None = None) -> Scan:
    """Every kind of difference, reading only what changed since ``since`` (None: all), plus the
    platform and ledger invoices named in ``recheck_*`` (the open rows). ``progress`` is called
    after each chunk of up to 50 (the run stores its counts there, for the page)."""
    out = Scan()
    report_progress = progress or (lambda _scan: None)
    recheck_platform, recheck_ledger = set(recheck_platform), set(recheck_ledger)
    links = {link.id: link for link in _links(installation, since)}
    if recheck_platform or recheck_ledger:
        for link in _links(installation, None):
            if link.platform_id in recheck_platform or link.ledger_id in recheck_ledger:
                links[link.id] = link
    _linked(installation, platform, ledger, sorted(links.values(), key=lambda l: l.id), out, report_progress)
    linked_platform, linked_ledger = _linked_ids(installation)
    if get_section(installation, "general").enabled:
        changed = [pid for pid, _ in platform.changed_invoices(since)]
        candidates = [pid for pid in dict.fromkeys([*changed, *sorted(recheck_platform)]) if pid not in linked_platform]
        _unlinked_platform(platform, candidates, out, report_progress, installation.created_at.date())
    documents = [d for d in ledger.changed_invoices(since) if d.ledger_id not in linked_ledger]
    again = [lid for lid in sorted(recheck_ledger) if lid not in linked_ledger
             and lid not in {d.ledger_id for d in documents}]
    if again:
        documents += ledger.get_invoices(again)
        out.ledger_ids.update(again)  # one not returned is gone: its row is fixed
    _unlinked_ledger(installation, documents, out, report_progress)
    return out


def _links(installation, since: datetime | None) -> list[Link]:
    query = select(Link).where(Link.installation_id == installation.id, Link.kind == "invoice",
                               Link.ledger_id.is_not(None))
    if since is not None:
        query = query.where(Link.updated_at >= since)
    return list(db.session.scalars(query.order_by(Link.id)).all())


def _linked_ids(installation) -> tuple[set[str], set[str]]:
    rows = db.session.execute(select(Link.platform_id, Link.ledger_id).where(
        Link.installation_id == installation.id, Link.kind == "invoice", Link.ledger_id.is_not(None))).all()
    return {r.platform_id for r in rows}, {r.ledger_id for r in rows}


def _linked(installation, platform, ledger, links: list[Link], out: Scan,
            progress: Callable[[Scan], None] = lambda _scan: None) -> Scan:
    for start in range(0, len(links), CHUNK):
        chunk = links[start:start + CHUNK]
        documents = {d.ledger_id: d for d in ledger.get_invoices([l.ledger_id for l in chunk])}
        invoices = platform.get_invoices([l.platform_id for l in chunk])
        shown = noted(installation.id, [l.platform_id for l in chunk]) if platform.takes_invoice_notes else set()
        for link in chunk:
            out.differences += _compare(link, documents.get(link.ledger_id), invoices.get(link.platform_id),
                                        platform, ledger, shown, installation.created_at.date())
            out.platform_ids.add(link.platform_id)
            out.ledger_ids.add(link.ledger_id)
        out.checked += len(chunk)
        progress(out)
    return out


def _unlinked_platform(platform, platform_ids: list[str], out: Scan, progress: Callable[[Scan], None],
                       installed_on: date) -> None:
    """Platform invoices with no ledger twin that should have one. One dated before bridge
    was installed is the backfill's to send, if the user wants it ("Sync existing invoices"):
    not missing."""
    cutoff = utcnow() - GRACE
    for start in range(0, len(platform_ids), CHUNK):
        chunk = platform_ids[start:start + CHUNK]
        invoices = platform.get_invoices(chunk)
        for platform_id in chunk:
            out.platform_ids.add(platform_id)
            invoice = invoices.get(platform_id)
            if invoice is None or not invoice.sync_enabled or invoice.status in GONE or not invoice.lines \
                    or invoice.issue_date < installed_on:
                continue
            if invoice.updated_at is not None and invoice.updated_at > cutoff:
                continue  # just changed: its sync may be on its way
            out.differences.append(Difference(
                "missing_in_ledger", platform_id, "", "", N_("Not in the ledger, though it should be."),
                ["sync_again", "link_other", "ignore"], invoice.issue_date))
        out.checked += len(chunk)
        progress(out)


def _unlinked_ledger(installation, documents: list, out: Scan, progress: Callable[[Scan], None]) -> None:
    """Live ledger invoices made by us that no platform invoice is linked to."""
    ours = set(db.session.scalars(select(Intent.ledger_id).where(
        Intent.installation_id == installation.id, Intent.kind == "invoice", Intent.outcome == CREATED,
        Intent.ledger_id.is_not(None))).all())
    domain = (installation.domain or "").lower()
    for document in documents:
        out.ledger_ids.add(document.ledger_id)
        made_by_us = document.ledger_id in ours or bool(domain and domain in (document.external_url or "").lower())
        if made_by_us and document.status in LIVE:
            issued = document.invoice.issue_date if document.invoice is not None else None
            out.differences.append(Difference(
                "missing_on_platform", "", document.ledger_id, document.number or "",
                N_("Made by bridge in the ledger, but no invoice here is linked to it."), ["link_other", "ignore"],
                issued))
    out.checked += len(documents)
    progress(out)


def _compare(link, document, invoice, platform, ledger, shown: set[str] = frozenset(),
             installed_on: date | None = None) -> list[Difference]:
    def row(kind: str, what: Message, *actions: str, ledger_id: str = "") -> Difference:
        issued = invoice.issue_date if invoice is not None else (
            document.invoice.issue_date if document is not None and document.invoice is not None else None)
        return Difference(kind, link.platform_id, ledger_id or link.ledger_id, link.ledger_number or "", what,
                          list(actions), issued)

    if document is None:
        return [row("gone_in_ledger", N_("The ledger no longer has this invoice."), "sync_again", "ignore")]
    if invoice is None:
        if document.status in LIVE:
            return [row("gone_on_platform", N_("The invoice is gone here, but is still live in the ledger."),
                        "ignore")]
        return []
    found = []
    ours = platform_totals(invoice, platform)
    if ours.currency and document.currency and ours.currency != document.currency.upper():
        found.append(row("amounts", N_("Currency: %(ours)s here, %(theirs)s in the ledger.", ours=ours.currency,
                                       theirs=document.currency), "sync_again", "accept_ledger"))
    elif abs(ours.total - document.total) > tolerance(ledger, invoice):
        found.append(row("amounts", N_("Total: %(ours)s here, %(theirs)s in the ledger.", ours=f"{ours.total:.2f}",
                                       theirs=f"{document.total:.2f}"), "sync_again", "accept_ledger"))
    each = payment_rows(link, document, invoice, platform, ledger, shown, tolerance(ledger, invoice), installed_on)
    followed = (link.extra or {}).get("followed")
    paid_here = invoice.status == InvoiceStatus.PAID
    if document.status == InvoiceStatus.PAID and followed != InvoiceStatus.PAID.value and not paid_here:
        found.append(row("payments", N_("Paid in the ledger, not yet here."), "sync_again", "ignore"))
    elif document.status != InvoiceStatus.PAID and followed == InvoiceStatus.PAID.value:
        found.append(row("payments", N_("Paid here as the ledger said, but the ledger no longer has it paid."),
                         "sync_again", "ignore"))
    elif paid_here and document.status in (InvoiceStatus.AUTHORISED, InvoiceStatus.SUBMITTED, InvoiceStatus.DRAFT) \
            and not any(kind == NOT_IN_LEDGER for kind, *_ in each):  # its payments' rows say it, with amounts
        found.append(row("payments", N_("Paid here, but the ledger has no payment for it."), "sync_again", "ignore"))
    # One row per payment known on one side only (report_payments).
    return found + [row(kind, what, *actions, ledger_id=ledger_id) for kind, ledger_id, what, actions in each]


def as_csv(rows: list[Difference], locale: str | None = None) -> str:
    """The report as CSV, in the reader's language: one row per difference."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["kind", "platform_id", "ledger_id", "ledger_number", "difference", "actions"])
    for r in rows:
        writer.writerow([r.kind, r.platform_id, r.ledger_id, r.ledger_number, render(r.what, locale),
                         " ".join(r.actions)])
    return buffer.getvalue()
