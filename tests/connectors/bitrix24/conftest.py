"""Fixtures of the Bitrix24 connector tests: placeholder flows and an installed sandbox portal."""
from __future__ import annotations

import pytest

from bridge import engine

ACME = "acme.bitrix24.com"
GLOBEX = "globex.bitrix24.de"
FLOWS = ("invoice_to_ledger", "party_to_ledger")


@pytest.fixture
def placeholder_flows(monkeypatch):
    """Stand-ins for the sync flows that record their runs (the real ones are restored after)."""
    runs: list[tuple[str, str]] = []
    hooks: dict[str, object] = {}

    def make(name):
        def run(ctx: engine.WorkContext) -> None:
            runs.append((name, ctx.object_key))
            action = hooks.get(ctx.object_key)
            if callable(action):
                action(ctx)
        return run

    for name in FLOWS:
        monkeypatch.setitem(engine.FLOWS, name, make(name))
        monkeypatch.setitem(engine.BATCH_SIZES, name, 1)
    return runs, hooks


@pytest.fixture
def installed(live):
    """The app installed on acme through its real install page (the sandbox posts it)."""
    # Real portals refuse http/localhost handlers; the live app runs on http://localhost.
    live.control("bitrix24/settings", json={"allow_insecure_handlers": True})
    reply = live.control(f"bitrix24/portals/{ACME}/install", json={"mode": "page"})
    assert reply["page_status"] == 200
    live.control("bitrix24/events/wait", json={"timeout": 5})
    return reply
