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


def init_app(app) -> None:
    from ...sync.registry import register_ledger
    from . import hooks  # noqa: F401  (register the inbox handler)
    from .connection import build

    register_ledger("xero", lambda app, installation, connection: build(installation, connection))
    from .hooks import bp

    app.register_blueprint(bp)
