"""The flows: business rules written against ``bridge.sync.ports`` and ``bridge.domain`` only.

Importing this package registers every flow with the job engine.
"""
from . import backfill, invoice_export, invoice_status, party_import, polling, products, status_sync, stock  # noqa: F401
from . import sent_sweep  # noqa: F401
