"""Which adapter serves which system: connectors register builders, flows ask for adapters.

A flow never imports a connector. It asks ``platform_for(installation)`` and
``ledger_for(installation)``, which build the adapters the installation is configured with
(its platform kind, its active ledger connection). Pairing Bitrix24 with Bexio, or DG1 with
Xero, is therefore a matter of which ledger the installation connected.
"""
from __future__ import annotations

from typing import Callable

from flask import current_app

from ..errors import PermanentError
from ..installations import active_connection
from ..models import Installation, LedgerConnection
from ..ports import Ledger, Platform

PlatformBuilder = Callable[[object, Installation], Platform]
LedgerBuilder = Callable[[object, Installation, LedgerConnection], Ledger]

PLATFORMS: dict[str, PlatformBuilder] = {}
LEDGERS: dict[str, LedgerBuilder] = {}


def register_platform(kind: str, builder: PlatformBuilder) -> None:
    PLATFORMS[kind] = builder


def register_ledger(kind: str, builder: LedgerBuilder) -> None:
    LEDGERS[kind] = builder


def platform_for(installation: Installation) -> Platform:
    builder = PLATFORMS.get(installation.platform)
    if builder is None:
        raise PermanentError(f"No connector for the platform {installation.platform!r}.")
    return builder(current_app._get_current_object(), installation)


def ledger_for(installation: Installation) -> tuple[Ledger, LedgerConnection]:
    connection = active_connection(installation)
    if connection is None:
        raise PermanentError("No accounting system is connected yet.", code="not_connected",
                             fix="Open Settings and connect Xero or Bexio.")
    if connection.health == "needs_reconnect":
        raise PermanentError(f"The connection to {connection.ledger.title()} must be renewed.",
                             code="needs_reconnect", fix="Open Settings and reconnect.")
    builder = LEDGERS.get(connection.ledger)
    if builder is None:
        raise PermanentError(f"No connector for the ledger {connection.ledger!r}.")
    return builder(current_app._get_current_object(), installation, connection), connection
