"""The Xero ledger connector (docs/xero.md).

- ``oauth``: Xero's identity server (connect, refresh, revoke, /connections);
- ``client``: the accounting API (budgets, paging, batches, idempotency);
- ``mapper``: domain <-> Xero JSON, pure;
- ``ledger``: ``XeroLedger``, the ``bridge.sync.ports.Ledger`` flows use;
- ``connection``: building a ledger for a connection, and that connection's health;
- ``hooks`` / ``poll``: webhooks into the inbox, and polling what has no webhook;
- ``web``: settings page, OAuth pages and the webhook receiver.
"""
from __future__ import annotations


def init_app(app) -> None:
    from . import hooks, poll  # noqa: F401  (register the inbox handler and the periodic poll)
    from .web import bp, hooks_bp

    app.register_blueprint(bp)
    app.register_blueprint(hooks_bp)
