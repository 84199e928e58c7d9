"""The Bexio ledger connector (see bridge/connectors/__init__.py for the shape).

- ``auth``: OpenID Connect with auth.bexio.com; ``connection``: the stored connection,
  its tokens (vault) and health (the connect / callback / disconnect pages are in
  ``bridge/web/bexio``);
- ``client``: api.bexio.com (paging, search, budgets, errors via ``errors``);
- ``mapper``: wire <-> domain, pure; ``reference``: per-company ids;
- ``ledger``: ``BexioLedger``, the ``Ledger`` port the flows use.
"""
from __future__ import annotations


def init_app(app) -> None:
    from ...sync.registry import register_ledger
    from . import settings  # noqa: F401  (the "bexio" settings section)
    from .ledger import BexioLedger

    register_ledger("bexio", lambda app, installation, connection: BexioLedger.build(installation, connection))
