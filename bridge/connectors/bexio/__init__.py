"""The Bexio ledger connector (see bridge/connectors/__init__.py for the shape).

- ``auth``: OpenID Connect with auth.bexio.com; ``connection``: the stored connection,
  its tokens (vault) and health (the connect / callback / disconnect pages are in
  ``bridge/web/bexio``);
- ``client``: api.bexio.com (paging, search, budgets, errors via ``errors``);
- ``mapper``: wire <-> domain, pure; ``reference``: per-company ids;
- ``ledger``: ``BexioLedger``, the ``Ledger`` port the flows use.
"""
from __future__ import annotations

from ...descriptor import Connector

BEXIO = Connector(
    kind="bexio", role="ledger", title="Bexio", package=__name__,
    builder=".ledger:BexioLedger.build", port=".ledger:BexioLedger",
    blueprints=("bridge.web.bexio.connect:bp",),  # connect, callback, disconnect (Bexio has no webhooks)
    settings_sections=(".settings:BexioSettings",),
)
