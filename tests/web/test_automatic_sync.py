"""The settings page's switches decide what Bitrix24's events start; "Sync now" always works."""
from __future__ import annotations

from bridge.connectors.bitrix24.inbox import requests_for
from bridge.extensions import db
from bridge.settings import save_section


def flows(portal, key: str) -> list[str]:
    return [r.flow for r in requests_for(portal.id, "ONCRMDYNAMICITEMUPDATE", key)]


def test_events_sync_invoices_by_default(portal):
    assert flows(portal, "invoice:7") == ["invoice_to_ledger"]


def test_automatic_sync_off_leaves_invoices_to_sync_now(portal):
    save_section(portal, "general", {"enabled": True, "automatic_sync": False})
    db.session.commit()
    assert flows(portal, "invoice:7") == []
    assert flows(portal, "company:3") == ["party_to_ledger"]


def test_sync_off_starts_nothing_from_events(portal):
    save_section(portal, "general", {"enabled": False, "automatic_sync": True})
    db.session.commit()
    assert flows(portal, "invoice:7") == [] and flows(portal, "company:3") == []
