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
  (the invoice is not at "paid" while the ledger's balance is nil), or the other way round
  (fix: sync again).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from ..domain import InvoiceStatus
from ..extensions import db
from ..messages import Message, N_, render
from ..models import Link
from .money_check import platform_totals, tolerance

LIVE = (InvoiceStatus.DRAFT, InvoiceStatus.SUBMITTED, InvoiceStatus.AUTHORISED, InvoiceStatus.PARTIALLY_PAID,
        InvoiceStatus.PAID)
CHUNK = 50


@dataclass
class Difference:
    kind: str  # gone_in_ledger | gone_on_platform | amounts | payments
    platform_id: str
    ledger_id: str
    ledger_number: str
    what: Message
    actions: list[str] = field(default_factory=list)  # sync_again | accept_ledger | link_other | ignore


def report(installation, platform, ledger, since: datetime | None = None) -> list[Difference]:
    """The differences among the installation's invoice links (those changed since ``since``)."""
    query = select(Link).where(Link.installation_id == installation.id, Link.kind == "invoice",
                               Link.ledger_id.is_not(None))
    if since is not None:
        query = query.where(Link.updated_at >= since)
    links = db.session.scalars(query.order_by(Link.id)).all()
    out: list[Difference] = []
    for start in range(0, len(links), CHUNK):
        chunk = links[start:start + CHUNK]
        documents = {d.ledger_id: d for d in ledger.get_invoices([l.ledger_id for l in chunk])}
        invoices = platform.get_invoices([l.platform_id for l in chunk])
        for link in chunk:
            out += _compare(link, documents.get(link.ledger_id), invoices.get(link.platform_id), platform, ledger)
    return out


def _compare(link, document, invoice, platform, ledger) -> list[Difference]:
    def row(kind: str, what: Message, *actions: str) -> Difference:
        return Difference(kind, link.platform_id, link.ledger_id, link.ledger_number or "", what, list(actions))

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
    followed = (link.extra or {}).get("followed")
    if document.status == InvoiceStatus.PAID and followed != InvoiceStatus.PAID.value:
        found.append(row("payments", N_("Paid in the ledger, not yet here."), "sync_again", "ignore"))
    elif document.status != InvoiceStatus.PAID and followed == InvoiceStatus.PAID.value:
        found.append(row("payments", N_("Paid here as the ledger said, but the ledger no longer has it paid."),
                         "sync_again", "ignore"))
    return found


def as_csv(rows: list[Difference], locale: str | None = None) -> str:
    """The report as CSV, in the reader's language: one row per difference."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["kind", "platform_id", "ledger_id", "ledger_number", "difference", "actions"])
    for r in rows:
        writer.writerow([r.kind, r.platform_id, r.ledger_id, r.ledger_number, render(r.what, locale),
                         " ".join(r.actions)])
    return buffer.getvalue()
