"""Fixtures for the engine's scheduling and lease tests: two installations, and flows that
record the order their work ran in."""
from __future__ import annotations

import pytest

from bridge import engine
from bridge.extensions import db
from bridge.models import Installation


@pytest.fixture
def two_installations(installation):
    """A (the ``installation`` fixture) and B, another portal on the same deployment."""
    other = Installation(platform="bitrix24", account_id="member-2", domain="other.bitrix24.com")
    db.session.add(other)
    db.session.commit()
    return installation, other


@pytest.fixture
def order():
    """Flows ``fair_batch`` (49 a run) and ``fair_one`` that append what each run got, as
    (installation id, [object keys]); ``during[key](ctx)`` is called while that key runs."""
    ran: list[tuple[int, list[str]]] = []
    during: dict[str, object] = {}

    def record(contexts):
        contexts = contexts if isinstance(contexts, list) else [contexts]
        ran.append((contexts[0].installation_id, [c.object_key for c in contexts]))
        for c in contexts:
            action = during.pop(c.object_key, None)
            if action is not None:
                action(c)

    for name, size in (("fair_batch", 49), ("fair_one", 1)):
        engine.FLOWS[name] = record
        engine.BATCH_SIZES[name] = size
    yield ran, during
    for name in ("fair_batch", "fair_one"):
        engine.FLOWS.pop(name, None)
        engine.BATCH_SIZES.pop(name, None)
