"""Which adapter serves which system: flows ask for adapters, connectors' descriptors say
how to build them.

A flow never imports a connector. It asks ``platform_for(installation)`` and
``ledger_for(installation)``, which build the adapters the installation is configured with
(its platform kind, its active ledger connection) with the builder its connector's
descriptor names (``bridge/connectors/<kind>/__init__.py``; installed here at start-up by
``bridge.connectors.init_connectors``). Pairing Bitrix24 with Bexio, or DG1 with Xero, is
therefore a matter of which ledger the installation connected.
"""
from __future__ import annotations

from ..descriptor import Connector
from ..errors import PermanentError
from ..installations import active_connection
from ..models import Installation, LedgerConnection
from ..ports import Ledger, Platform
from ..messages import N_

# kind -> descriptor, by role; ``kind in LEDGERS`` says bridge can build that ledger's adapter.
PLATFORMS: dict[str, Connector] = {}
LEDGERS: dict[str, Connector] = {}


def install(connector: Connector) -> None:
    """Make ``connector``'s adapters available to the flows (its kind replaces any before)."""
    (PLATFORMS if connector.role == "platform" else LEDGERS)[connector.kind] = connector


def platform_for(installation: Installation) -> Platform:
    connector = PLATFORMS.get(installation.platform)
    if connector is None:
        raise PermanentError(N_("No connector for the platform %(platform)s.", platform=repr(installation.platform)))
    return connector.build(installation)


def ledger_for(installation: Installation) -> tuple[Ledger, LedgerConnection]:
    connection = active_connection(installation)
    if connection is None:
        raise PermanentError(N_("No accounting system is connected yet."), code="not_connected",
                             fix=N_("Open Settings and connect Xero or Bexio."))
    if connection.health == "needs_reconnect":
        raise PermanentError(N_("The connection to %(ledger)s must be renewed.", ledger=connection.ledger.title()),
                             code="needs_reconnect", fix=N_("Open Settings and reconnect."))
    connector = LEDGERS.get(connection.ledger)
    if connector is None:
        raise PermanentError(N_("No connector for the ledger %(ledger)s.", ledger=repr(connection.ledger)))
    return connector.build(installation, connection), connection
