"""Where a user acts on an invoice, in the words of the platform they use, and when an
edit the ledger no longer accepts is no conflict at all.

The flows are shared by every pair, but the pages are not: Bitrix24 has an invoice tab
named after the ledger ("Xero"); DG1 has no invoice tab, its admin panel has the
"Bexio integration" menu with an Orders page. A message pointing at a page the user's
platform does not have is a dead end (issue 16, invariant j), so every such pointer comes
from here.
"""
from __future__ import annotations

from ..domain import InvoiceStatus

LEDGER_NAMES = {"xero": "Xero", "bexio": "Bexio"}
PLATFORM_NAMES = {"bitrix24": "Bitrix24", "dg1": "DG1"}
# The DG1 admin's pages are those of its "Bexio integration" menu whatever the ledger
# (templates/dg1/orders.html), so are their buttons.
DG1_SYNC_BUTTON = "Sync order to Bexio"


def _ledger(ledger_kind: str) -> str:
    return LEDGER_NAMES.get(ledger_kind, ledger_kind.title())


def invoice_page(platform_kind: str, ledger_kind: str) -> str:
    """The page that shows one invoice's sync, its conflict and its "sync" button."""
    if platform_kind == "dg1":
        return "the Orders page (Bexio integration > Orders in the DG1 admin)"
    return f"the invoice's {_ledger(ledger_kind)} tab in Bitrix24"


def sync_again(platform_kind: str, ledger_kind: str) -> str:
    """How the user sends one invoice again, on their platform's page."""
    if platform_kind == "dg1":
        return f"press \"{DG1_SYNC_BUTTON}\" on {invoice_page(platform_kind, ledger_kind)}"
    return f"press Retry on {invoice_page(platform_kind, ledger_kind)}"


def decide_where(platform_kind: str, ledger_kind: str) -> str:
    """The ``fix`` of a conflict: where the user chooses."""
    if platform_kind == "dg1":
        return (f"Do one of these by hand in {_ledger(ledger_kind)} or DG1, then "
                f"{sync_again(platform_kind, ledger_kind)}.")
    return f"Decide on {invoice_page(platform_kind, ledger_kind)}."


def settled_message(platform_kind: str, ledger_kind: str) -> str:
    platform = "DG1 (the order is paid or completed)" if platform_kind == "dg1" else PLATFORM_NAMES.get(platform_kind)
    return f"Paid in {_ledger(ledger_kind)} and in {platform}: nothing left to send."


# Platforms whose paid orders are closed: nobody edits a DG1 order once it is paid (its
# status only moves on, to SHIPPED or COMPLETED). A paid Bitrix24 invoice can still be
# edited, and such an edit the ledger refuses stays a conflict.
CLOSED_WHEN_PAID = {"dg1"}


def settled_on_both_sides(platform_kind: str, platform_status: InvoiceStatus, ledger_status: InvoiceStatus) -> bool:
    """Paid in the ledger, and a paid order (COMPLETED, or its payments captured) on the
    platform: the money is settled on both sides, nothing is left to send, and a
    difference in how the document would be rendered today (say, a product that has
    since become a Bexio article) is no edit for anyone to decide on."""
    return (platform_kind in CLOSED_WHEN_PAID and platform_status == InvoiceStatus.PAID
            and ledger_status == InvoiceStatus.PAID)
