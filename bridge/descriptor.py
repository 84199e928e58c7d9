"""What one external system provides, declared in one place (Redash's query runners are the
model): each connector package's ``__init__.py`` holds one ``Connector``, and
``bridge.connectors.CONNECTORS`` lists them all. "What does Bexio provide?" is answered by
reading ``bridge/connectors/bexio/__init__.py``, nowhere else.

The parts are named by reference ("``.ledger:BexioLedger.build``": a module relative to the
connector's package, then an attribute path; or an absolute module such as
``bridge.web.bexio.connect:bp``), not imported, for two reasons: declaring a connector imports
none of its code (the list is read by the factory, the web layer and the sync registry, which
must not pull in every client at import time or form an import circle), and the pages of a
connector live in ``bridge/web/<kind>/``, which a connector must not import. A test resolves
every reference of every descriptor, so a moved module fails there, not in production. A part
may also be given as the object itself (the tests' in-memory fakes do).

This module sits at the bottom of the layers with ``ports.py``: it imports nothing of bridge,
so the sync layer reads descriptors without importing a connector.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal

Ref = Any  # a "module:attribute.path" string, or the object itself
Role = Literal["platform", "ledger"]


@dataclass(frozen=True)
class Connector:
    """One external system's parts. ``builder`` makes the port adapter the flows use:
    ``builder(installation)`` -> ``Platform`` for a platform, ``builder(installation,
    connection)`` -> ``Ledger`` for a ledger.

    ``inbox_handler`` translates the system's stored callbacks (inbox source ``kind``) into
    work; ``inbox_batched`` when it reads only our own database, so a batch of its events is
    translated per commit. ``blueprints``: the system's callback receivers and its pages.
    ``port``: the adapter's class (the ``bridge.ports`` subclass that declares the kind's
    facts: ``daily_status_ledgers``, ``tells_sent_to_contact``, ``notify_admin``...);
    installing the connector loads it, so ``bridge.ports.ledger_class(kind)`` and
    ``platform_class(kind)`` answer before any adapter is built.
    ``cli``: a click group added to ``flask``. ``settings_sections``: the settings models it
    adds. ``periodic_jobs`` and ``flows``: the jobs and flows of its own (most flows are
    shared and live in ``bridge/sync``). ``demo_seeder``: yields the lines ``flask demo-seed``
    prints after filling the sandbox with sample data.
    """

    kind: str
    role: Role
    title: str
    package: str
    builder: Ref
    port: Ref | None = None
    inbox_handler: Ref | None = None
    inbox_batched: bool = False
    blueprints: tuple[Ref, ...] = ()
    cli: Ref | None = None
    settings_sections: tuple[Ref, ...] = ()
    periodic_jobs: tuple[Ref, ...] = ()
    flows: tuple[Ref, ...] = ()
    demo_seeder: Ref | None = None

    def load(self, ref: Ref) -> Any:
        """The object ``ref`` names (importing its module), or ``ref`` itself if it is one."""
        if not isinstance(ref, str):
            return ref
        module_name, _, path = ref.partition(":")
        target: Any = importlib.import_module(module_name, self.package)
        for name in filter(None, path.split(".")):
            target = getattr(target, name)
        return target

    def build(self, *args: Any) -> Any:
        """The port adapter for ``args`` (an installation, and a ledger's connection)."""
        return self.load(self.builder)(*args)

    def references(self) -> list[Ref]:
        """Every part this descriptor names, for the test that resolves them all."""
        singles = [self.builder, self.port, self.inbox_handler, self.cli, self.demo_seeder]
        return [r for r in singles if r is not None] + [*self.blueprints, *self.settings_sections,
                                                        *self.periodic_jobs, *self.flows]
