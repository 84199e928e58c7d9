"""The random-history step for a user's edit in the same second as our write-back, replayed
on its own: the edit's event is skipped as our echo (the write-back's own event was lost,
the reconcile had already passed the invoice in that second), and the world at rest still
has Xero's invoice equal to Bitrix24's (invariant d) because the reconcile re-checks every
skipped echo. Fails with that re-check removed (``reconcile.py``, ``recheck_skipped``)."""
from __future__ import annotations

import pytest

from bridge.connectors.bitrix24 import store
from bridge.extensions import db
from tests.model.machine import BridgeHistory


@pytest.fixture
def history(world):
    BridgeHistory.world = world
    BridgeHistory.replay_hint = "pytest tests/model/test_same_second_echo.py"
    machine = BridgeHistory()
    machine.fresh_world()
    return machine


def without_offline_events(world) -> None:
    """A portal installed by a non-administrator: no offline-event queue, which would also
    carry the edit; only the re-check of skipped echoes does."""
    with world.app.app_context():
        installation = store.find(world.member_id)
        endpoints = dict(installation.endpoints or {})
        endpoints["setup"] = {**(endpoints.get("setup") or {}), "offline_events": False}
        installation.endpoints = endpoints
        db.session.commit()


def test_an_edit_in_the_write_back_second_reaches_xero(history):
    without_offline_events(history.w)
    history.b24_add_company(name=0, email=True)
    history.b24_add_invoice(party=0, to_person=False, lines=1, discount=False, currency=0, rate=15, sync=True)
    history.b24_events_delivered(count=None, duplicate=False, run=False)  # the sync runs in the step below
    history.b24_edit_in_the_write_back_second(which=0, quantity=3)
    history.finish()
