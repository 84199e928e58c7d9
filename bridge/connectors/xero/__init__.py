"""The Xero ledger connector (docs/xero.md).

- ``oauth``: Xero's identity server (connect, refresh, revoke, /connections);
- ``client``: the accounting API (budgets, paging, batches, idempotency);
- ``mapper``: domain <-> Xero JSON, pure;
- ``ledger``: ``XeroLedger``, the ``bridge.ports.Ledger`` flows use;
- ``connection``: building a ledger for a connection, and that connection's health;
- ``hooks``: webhooks into the inbox (polling, for what has no webhook, is the sync
  layer's: bridge/sync/polling.py);
- ``hooks`` also holds the webhook receiver; the settings and OAuth pages are in
  ``bridge/web/xero``.
"""
from __future__ import annotations

from ...descriptor import Connector

XERO = Connector(
    kind="xero", role="ledger", title="Xero", package=__name__,
    builder=".connection:build", port=".ledger:XeroLedger",
    inbox_handler=".hooks:work_for_event", inbox_batched=True,  # reads and marks our database only
    blueprints=(".hooks:bp", "bridge.web.xero.connect:bp"),  # the webhook receiver; settings and OAuth pages
)
