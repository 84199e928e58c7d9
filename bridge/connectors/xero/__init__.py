"""The Xero ledger connector (docs/xero.md).

- ``oauth``: Xero's identity server (connect, refresh, revoke, /connections);
- ``client``: the accounting API (budgets, paging, batches, idempotency);
- ``mapper``: domain <-> Xero JSON, pure;
- ``ledger``: ``XeroLedger``, the ``bridge.ports.Ledger`` flows use;
- ``connection``: building a ledger for a connection, and that connection's health;
- ``hooks``: webhooks into the inbox (polling, for what has no webhook, is the sync
  layer's: bridge/sync/polling.py);
- ``web``: settings page, OAuth pages and the webhook receiver.
"""
from __future__ import annotations


def init_app(app) -> None:
    from ...sync.registry import register_ledger
    from . import hooks  # noqa: F401  (register the inbox handler)
    from .connection import build

    register_ledger("xero", lambda app, installation, connection: build(installation, connection))
    from .web import bp, hooks_bp

    app.register_blueprint(bp)
    app.register_blueprint(hooks_bp)
