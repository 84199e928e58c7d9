"""The ledger's online invoice link (Xero: ``/Invoices/{id}/OnlineInvoice``), fetched once,
when ``ledger_invoice_changed`` first sees the invoice approved, and kept on the link (the
invoice tab shows it) and on the platform invoice (``Platform.set_online_link``). A ledger
without one (``Ledger.online_invoice_url`` is "") costs no call and is asked only once.
"""
from __future__ import annotations

from ..domain import InvoiceStatus
from ..extensions import db

APPROVED_OR_LATER = (InvoiceStatus.AUTHORISED, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.PAID)


def keep_online_link(platform, ledger, link, document) -> str | None:
    """The link fetched now, or None when there was nothing to fetch."""
    extra = link.extra or {}
    # Only when the approval is first seen (``approved_at`` is set right after, by
    # ``remember_followed``): invoices approved before this feature, read again by the sent
    # sweep or a poll, cost no call.
    if document.status not in APPROVED_OR_LATER or "online_url" in extra or extra.get("approved_at"):
        return None
    url = ledger.online_invoice_url(document.ledger_id)
    if url:
        platform.set_online_link(link.platform_id, url)
    link.extra = {**extra, "online_url": url}
    # Kept now, as the notes before it are: left pending, the link would be flushed by the
    # next query and held across the platform calls that follow (SQLite: "database is
    # locked" for the rate limiter's own connection, seen with old Bitrix24 invoices).
    db.session.commit()
    return url or None
