"""Every external system bridge speaks to, one package each, and the single answer to "what
does system X provide?": the ``Connector`` descriptor in that package's ``__init__.py``
(kind, role, adapter builder, inbox handler, blueprints, CLI group, settings sections,
periodic jobs, flows, demo seeder; see ``bridge/descriptor.py``).

The same shape inside each package (see DESIGN):

- ``client.py``: HTTP, auth, batching, paging; no business rules;
- ``mapper.py``: pure functions wire <-> ``bridge.domain``; no I/O;
- ``hooks.py``: verify and parse inbound callbacks into inbox events, and the inbox handler
  that turns them into work;
- ``platform.py`` / ``ledger.py``: the port adapter the flows use.

The pages a system's users see live in ``bridge/web/<kind>/``, never here.
"""
from __future__ import annotations

from ..descriptor import Connector
from .bexio import BEXIO
from .bitrix24 import BITRIX24
from .dg1 import DG1
from .xero import XERO

CONNECTORS: tuple[Connector, ...] = (XERO, BITRIX24, BEXIO, DG1)


def connector(kind: str) -> Connector:
    """The descriptor of ``kind`` (KeyError for a system bridge has no connector for)."""
    return {c.kind: c for c in CONNECTORS}[kind]


def init_connectors(app) -> None:
    """Install every connector's parts, once per app: its adapter builder (``platform_for`` /
    ``ledger_for``) and port class (``bridge.ports.platform_class`` / ``ledger_class``), inbox
    handler, CLI group, settings sections, flows and periodic jobs.
    Their blueprints are registered with the pages (``bridge.web.register_blueprints``)."""
    from ..engine import inbox_handler
    from ..sync import registry

    for descriptor in CONNECTORS:
        registry.install(descriptor)
        if descriptor.port is not None:
            descriptor.load(descriptor.port)  # declares the kind's facts (bridge.ports.ledger_class)
        if descriptor.inbox_handler is not None:
            inbox_handler(descriptor.kind, batched=descriptor.inbox_batched)(descriptor.load(descriptor.inbox_handler))
        for ref in (*descriptor.settings_sections, *descriptor.flows, *descriptor.periodic_jobs):
            descriptor.load(ref)  # declared with their decorators: loading registers them
        if descriptor.cli is not None:
            group = descriptor.load(descriptor.cli)
            if group.name not in app.cli.commands:
                app.cli.add_command(group)
