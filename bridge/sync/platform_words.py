"""Where a user acts on an invoice, in the words of the platform they use, and when an
edit the ledger no longer accepts is no conflict at all.

The flows are shared by every pair, but the pages are not: Bitrix24 has an invoice tab
named after the ledger ("Xero"); DG1 has no invoice tab, its admin panel has the
"Bexio integration" menu with an Orders page. A message pointing at a page the user's
platform does not have is a dead end (issue 16, invariant j), so every such pointer comes
from the platform's port (``Platform.invoice_page`` and the words built on it), through here.

``platform`` and ``ledger`` are adapters or their classes (``bridge.ports.platform_class``).
"""
from __future__ import annotations

from ..domain import InvoiceStatus
from ..ports import Ledger, Platform
from ..messages import N_


def invoice_page(platform: Platform | type[Platform], ledger: Ledger | type[Ledger]) -> str:
    """The page that shows one invoice's sync, its conflict and its "sync" button."""
    return platform.invoice_page(ledger.display_name)


def sync_again(platform: Platform | type[Platform], ledger: Ledger | type[Ledger]) -> str:
    """How the user sends one invoice again, on their platform's page."""
    return platform.sync_again(ledger.display_name)


def decide_where(platform: Platform | type[Platform], ledger: Ledger | type[Ledger]) -> str:
    """The ``fix`` of a conflict: where the user chooses."""
    return platform.decide_where(ledger.display_name)


def settled_message(platform: Platform | type[Platform], ledger: Ledger | type[Ledger]) -> str:
    return N_("Paid in %(ledger)s and in %(platform)s: nothing left to send.", ledger=ledger.display_name,
              platform=platform.paid_words())


def settled_on_both_sides(platform: Platform | type[Platform], platform_status: InvoiceStatus,
                          ledger_status: InvoiceStatus) -> bool:
    """Paid in the ledger, and a paid order (COMPLETED, or its payments captured) on a
    platform whose paid orders are closed (``closes_when_paid``): the money is settled on
    both sides, nothing is left to send, and a difference in how the document would be
    rendered today (say, a product that has since become a Bexio article) is no edit for
    anyone to decide on. A paid Bitrix24 invoice can still be edited, and such an edit the
    ledger refuses stays a conflict."""
    return (platform.closes_when_paid and platform_status == InvoiceStatus.PAID
            and ledger_status == InvoiceStatus.PAID)
