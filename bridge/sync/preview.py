"""Dry run: the exact ledger document an invoice would become, without sending anything.

The same steps as the export flow up to the write — mapping, the customer match, the
ledger's own rendering — so what the preview shows is what a sync would send. Problems
(an unmapped tax rate, no connection) are returned as messages, not raised, because a
preview exists to show them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..domain import Invoice
from ..errors import SyncError
from ..models import Installation
from ..messages import N_
from .links import PartyClaims, find_link, jsonable
from .mapping import ledger_document
from .registry import ledger_for, platform_for


@dataclass
class Preview:
    document: dict[str, Any] | None = None
    contact: dict[str, Any] = field(default_factory=dict)
    problems: list[dict[str, str]] = field(default_factory=list)
    invoice: Invoice | None = None  # the invoice after mapping (tax codes, accounts): what the table shows


def preview_invoice(installation: Installation, platform_id: str) -> Preview:
    preview = Preview()
    try:
        invoice = platform_for(installation).get_invoice(platform_id)
        if invoice is None:
            preview.problems.append({"message": N_("The invoice no longer exists."), "fix": ""})
            return preview
        ledger, connection = ledger_for(installation)
        link = find_link(installation.id, "party", invoice.party.key)
        match = ledger.match_party(invoice.party, link.ledger_id if link else None,
                                   PartyClaims(installation.id, connection))
        preview.contact = {"name": match.name, "ledger_id": match.ledger_id, "matched_by": match.matched_by,
                           "warning": match.warning, "new": match.ledger_id is None}
        preview.invoice, document = ledger_document(installation, ledger, invoice, match.ledger_id)
        preview.document = jsonable(document)
    except SyncError as exc:
        preview.problems.append({"message": exc.message, "fix": exc.fix or ""})
    return preview
