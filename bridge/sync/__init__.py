"""The flows: business rules written against ``bridge.ports`` and ``bridge.domain`` only.

``FLOWS`` is the one list of every flow (its queued name -> the module that runs it);
importing this package registers each of them with the job engine. The other modules here
are the flows' helpers (links, mapping, money and tax checks, platform words, preview).
"""
from . import (invoice_backfill, invoice_cancel, invoice_refund, invoice_sent_sweep, invoice_to_ledger,  # noqa: F401
               ledger_invoice_changed, ledger_party_changed, party_import, party_to_ledger, polling,
               product_to_ledger, report_run, status_from_ledger, stock_from_ledger)

# The names are the work items' and Huey's: never rename one, queued work must still run.
FLOWS = {
    "invoice_to_ledger": invoice_to_ledger,
    "party_to_ledger": party_to_ledger,
    "invoice_cancel": invoice_cancel,
    "ledger_invoice_changed": ledger_invoice_changed,
    "ledger_party_changed": ledger_party_changed,
    "party_import": party_import,
    "product_to_ledger": product_to_ledger,
    "stock_from_ledger": stock_from_ledger,
    "status_from_ledger": status_from_ledger,
    "invoice_sent_sweep": invoice_sent_sweep,
    "invoice_backfill": invoice_backfill,
    "invoice_refund": invoice_refund,
    "reconciliation_report": report_run,
}
