"""One descriptor per connector is the single answer to "what does system X provide?": every
part it names exists, and an app built by the factory has installed exactly those parts
(adapter builder, inbox handler, pages and receivers, CLI group, settings sections, flows,
periodic jobs, demo seeder)."""
from __future__ import annotations

import click
import pytest
from flask import Blueprint
from pydantic import BaseModel

from bridge.connectors import CONNECTORS, connector
from bridge.descriptor import Connector
from bridge.engine import BATCHED_INBOX_SOURCES, FLOWS, INBOX_HANDLERS, huey
from bridge.errors import PermanentError
from bridge.extensions import db
from bridge.models import Installation
from bridge.settings import SECTIONS
from bridge.sync import registry

BY_KIND = pytest.mark.parametrize("descriptor", CONNECTORS, ids=[c.kind for c in CONNECTORS])


def test_the_four_systems_are_declared_once_each_with_their_role():
    assert {c.kind: c.role for c in CONNECTORS} == {"xero": "ledger", "bexio": "ledger",
                                                   "bitrix24": "platform", "dg1": "platform"}
    assert len({c.kind for c in CONNECTORS}) == len(CONNECTORS)
    assert connector("bexio").title == "Bexio"


@BY_KIND
def test_every_part_a_descriptor_names_exists_and_is_what_its_field_says(descriptor: Connector):
    for ref in descriptor.references():
        assert descriptor.load(ref) is not None, ref
    assert callable(descriptor.load(descriptor.builder))
    assert all(isinstance(descriptor.load(ref), Blueprint) for ref in descriptor.blueprints)
    assert all(issubclass(descriptor.load(ref), BaseModel) for ref in descriptor.settings_sections)
    for ref in (descriptor.inbox_handler, descriptor.demo_seeder, *descriptor.flows):
        assert ref is None or callable(descriptor.load(ref)), ref
    assert descriptor.cli is None or isinstance(descriptor.load(descriptor.cli), click.Group)


@BY_KIND
def test_the_app_installs_what_each_descriptor_declares(app, descriptor: Connector):
    builders = registry.PLATFORMS if descriptor.role == "platform" else registry.LEDGERS
    assert builders[descriptor.kind] is descriptor
    if descriptor.inbox_handler is not None:  # the inbox source is the connector's kind
        assert INBOX_HANDLERS[descriptor.kind] is descriptor.load(descriptor.inbox_handler)
        assert (descriptor.kind in BATCHED_INBOX_SOURCES) == descriptor.inbox_batched
    for ref in descriptor.blueprints:
        assert app.blueprints[descriptor.load(ref).name] is descriptor.load(ref)
    if descriptor.cli is not None:
        assert app.cli.commands[descriptor.load(descriptor.cli).name] is descriptor.load(descriptor.cli)
    for ref in descriptor.settings_sections:
        assert descriptor.load(ref) in SECTIONS.values()
    for ref in descriptor.flows:
        assert descriptor.load(ref) in FLOWS.values()
    periodic = {task.name for task in huey._registry.periodic_tasks}
    for ref in descriptor.periodic_jobs:
        assert descriptor.load(ref).name in periodic


def test_the_demo_seeds_what_the_descriptors_name_in_their_order(app, monkeypatch):
    from bridge import demo_data
    from bridge.connectors.dg1 import demo as dg1_demo

    monkeypatch.setattr(dg1_demo, "seed_demo_tenants", lambda: iter(["DG1 seeded"]))
    with app.app_context():  # not demo mode: the Bitrix24 portal is not installed
        assert list(demo_data.seed()) == ["DG1 seeded"]


def test_a_system_without_a_connector_is_refused_in_words(app):
    with app.app_context():
        installation = Installation(platform="nosuch", account_id="a-1")
        db.session.add(installation)
        db.session.commit()
        with pytest.raises(PermanentError, match="No connector for the platform 'nosuch'"):
            registry.platform_for(installation)
