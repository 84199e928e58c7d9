"""The flows: business rules written against ``bridge.ports`` and ``bridge.domain`` only.

``FLOWS`` is the one list of every flow (its queued name -> the module that runs it);
importing this package registers each of them with the job engine. The other modules here
are the flows' helpers (links, mapping, money and tax checks, platform words, preview).
"""
from . import (backfill, invoice_status, invoice_to_ledger, party_flowback, party_import, party_to_ledger,  # noqa: F401
               polling, products, sent_sweep, status_from_ledger, stock)

# The names are the work items' and Huey's: never rename one, queued work must still run.
FLOWS = {
    "invoice_to_ledger": invoice_to_ledger,
    "party_to_ledger": party_to_ledger,
    "invoice_cancel": invoice_status,
    "ledger_invoice_changed": invoice_status,
    "ledger_party_changed": party_flowback,
    "party_import": party_import,
    "product_to_ledger": products,
    "stock_from_ledger": stock,
    "status_from_ledger": status_from_ledger,
    "invoice_sent_sweep": sent_sweep,
    "invoice_backfill": backfill,
}
