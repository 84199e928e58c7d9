"""The DG1 shop connector (DG1 publishes no API: the contract is docs/dg1.md).

- ``client.py``: the REST client (``DG1Client``);
- ``mapper.py``: orders/products JSON <-> ``bridge.domain``;
- ``hooks.py``: the webhook receiver and the inbox handler;
- ``session.py`` / ``signing.py``: the admin pages' launch and session (the pages are in
  ``bridge/web/dg1``);
- ``tenants.py`` / ``cli.py``: registering a tenant and its secrets;
- ``platform.py``: ``DG1Platform``, the ``Platform`` adapter the flows use.
"""
from __future__ import annotations

from ...descriptor import Connector


def build_platform(installation):
    """The DG1 adapter for a tenant: it names the ledger the tenant connected on its pages."""
    from ...installations import active_connection
    from .platform import DG1Platform

    return DG1Platform.build(installation, active_connection(installation))


DG1 = Connector(
    kind="dg1", role="platform", title="DG1", package=__name__,
    builder=build_platform, port=".platform:DG1Platform",
    inbox_handler=".hooks:to_work",  # reads the order from DG1: one event per commit
    blueprints=(".hooks:bp", "bridge.web.dg1:bp"),  # the webhook receiver; the admin pages DG1 frames
    cli=".cli:dg1_cli",
    demo_seeder=".demo:seed_demo_tenants",
)
