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


def init_app(app) -> None:
    from ...demo_data import SEEDERS
    from ...installations import active_connection
    from ...sync.registry import register_platform
    from .platform import DG1Platform
    from . import hooks
    from .cli import dg1_cli
    from .demo import seed_demo_tenants

    register_platform("dg1", lambda app, installation: DG1Platform.build(
        installation, active_connection(installation)))
    app.register_blueprint(hooks.bp)
    app.cli.add_command(dg1_cli)
    if seed_demo_tenants not in SEEDERS:
        SEEDERS.append(seed_demo_tenants)
