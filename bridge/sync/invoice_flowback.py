"""Ledger-side edits of an invoice flowing back to the platform, by field group.

Groups: ``header`` (dates, currency) and ``lines`` (lines and amounts); status
is handled by the status flow and always follows the ledger. Who is master of a group:

- while the ledger invoice is a draft (DRAFT/SUBMITTED), the platform: it is still being
  written there, and edits flow platform -> ledger;
- from approval on, the setting (``invoices.header_master`` / ``lines_master``, default
  the ledger).

A ledger edit of a group the ledger masters is applied to the platform, and the link's
content hash is refreshed so the platform's resulting update event is recognised as our
own echo. A ledger edit of a group the platform masters is never applied silently and
never overwritten silently: it becomes a conflict the user sees.
"""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from ..domain import Invoice
from ..errors import ConflictError, SyncError
from ..models import Installation, Link
from ..settings import get_section
from .links import jsonable
from .mapping import document_digests, ledger_document, link_plain_digest, plain_digest, with_due_date
from .platform_words import decide_where
from ..ports import Ledger, LedgerDocument, Platform
from ..messages import N_

GROUPS = ("header", "lines")


def header_of(invoice: Invoice) -> dict:
    # No reference: on the ledger side it carries our key (identity), not the platform's text.
    return {"issue_date": invoice.issue_date, "due_date": invoice.due_date, "currency": invoice.currency}


def lines_of(invoice: Invoice) -> list[dict]:
    return [{"description": line.description.strip(), "quantity": Decimal(line.quantity).normalize(),
             "unit_price": Decimal(line.unit_price).quantize(Decimal("0.01")),
             "tax_rate": Decimal(line.tax_rate).normalize() if line.tax_rate is not None else None}
            for line in invoice.lines]


def changed_groups(platform_invoice: Invoice, ledger_invoice: Invoice) -> set[str]:
    changed = set()
    if header_of(platform_invoice) != header_of(ledger_invoice):
        changed.add("header")
    if lines_of(platform_invoice) != lines_of(ledger_invoice):
        changed.add("lines")
    return changed


def with_platform_rates(installation: Installation, invoice: Invoice) -> Invoice:
    """The ledger's invoice with each line's tax rate read back through the tax mapping.

    Some ledgers (Xero) give a line's tax code, not its rate; compared as they come, every
    taxed line would look edited, and copying them back would strip the platform's tax.
    A code the mapping does not know keeps no rate (and shows as a change)."""
    mapping = get_section(installation, "mapping")
    rates: dict[str, Decimal | None] = {}
    for rate, code in mapping.tax_rates.items():
        rates.setdefault(code, None if rate == "none" else Decimal(rate))
    if mapping.tax_none:
        rates.setdefault(mapping.tax_none, None)
    lines = [replace(line, tax_rate=rates[line.ledger_tax_code])
             if line.tax_rate is None and line.ledger_tax_code in rates else line for line in invoice.lines]
    return replace(invoice, lines=lines)


def master_of(group: str, installation: Installation, document: LedgerDocument) -> str:
    if document.status.is_editable:
        return "platform"
    settings = get_section(installation, "invoices")
    return settings.header_master if group == "header" else settings.lines_master


def flow_back(installation: Installation, platform: Platform, ledger: Ledger, link: Link,
              document: LedgerDocument) -> set[str]:
    """Apply what the ledger masters; raise a conflict for what it changed against the
    platform's mastery. Returns the groups applied."""
    if document.invoice is None:
        return set()
    current = platform.get_invoice(link.platform_id)
    if current is None:
        return set()
    if has_unsent_edit(installation, ledger, link, current):
        # The platform was edited since our last write: a difference is that edit, not the
        # ledger's. The export flow sends it or, if the ledger no longer accepts it, shows
        # the conflict; copying the ledger's version here would silently undo the user's edit.
        return set()
    theirs = with_platform_rates(installation, document.invoice)
    changed = changed_groups(with_due_date(installation, current), theirs)
    ours = {g for g in changed if master_of(g, installation, document) == "ledger"}
    against = changed - ours
    if ours:
        platform.apply_invoice_changes(link.platform_id, theirs, ours)
        refreshed = platform.get_invoice(link.platform_id)
        if refreshed is not None:  # the platform's update event will now read as "no change"
            party = (link.extra or {}).get("party_ledger_id")
            shaped, rendered = ledger_document(installation, ledger, refreshed, party)
            link.content_hash = document_digests(ledger, rendered)[0]
            link.extra = {**(link.extra or {}), "plain_hash": plain_digest(ledger, shaped, party)}
    if against:
        raise ConflictError(
            N_("The invoice was edited in %(ledger)s (%(parts)s), but %(platform)s is the master of that part while it "
               "is a draft: the edit was not copied back.", ledger=ledger.kind.title(),
               parts=", ".join(sorted(against)), platform=installation.platform.title()),
            ours=jsonable({g: (header_of(current) if g == "header" else lines_of(current)) for g in against}),
            theirs=jsonable({g: (header_of(theirs) if g == "header" else lines_of(theirs)) for g in against}),
            choices=[N_("Make the same edit on the platform"), N_("Sync now to overwrite the ledger's edit")],
            fix=decide_where(platform, ledger))
    return ours


def has_unsent_edit(installation: Installation, ledger: Ledger, link: Link, current: Invoice) -> bool:
    if not link.content_hash:
        return False
    party = (link.extra or {}).get("party_ledger_id")
    try:
        shaped, rendered = ledger_document(installation, ledger,
                                           replace(current, lines=[replace(l) for l in current.lines]), party)
    except SyncError:  # e.g. a rate no longer mapped: the export will say so
        return False
    # A document setting changed since (``mapping.plain_digest``) is no edit of the invoice.
    return link.content_hash not in document_digests(ledger, rendered) and \
        link_plain_digest(link) != plain_digest(ledger, shaped, party)
