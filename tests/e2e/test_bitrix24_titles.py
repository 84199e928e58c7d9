"""The app's places in the portal name the ledger once one is connected, over real HTTP
against the sandbox portal and Xero (docs/bitrix24.md, "The sync field")."""
from __future__ import annotations

from bridge.connectors.bitrix24 import store
from tests.connectors.xero.test_end_to_end import _connect_in_browser
from tests.e2e.conftest import ACME


def _titles(live, installation_id: int) -> dict[str, str]:
    from bridge.extensions import db
    from bridge.models import Installation

    with live.app.app_context():
        client = store.client_for(db.session.get(Installation, installation_id))
        return {b["placement"]: b["title"] for b in client.call("placement.get", {}).result}


def test_the_tab_and_menu_read_accounting_until_xero_is_connected_then_xero(live):
    """Installed before any ledger: "Accounting". Connecting Xero in Settings renames the
    invoice tab and the left-menu entry, without a repair; the sync box keeps its title."""
    live.control("bitrix24/settings", json={"allow_insecure_handlers": True})
    auth = live.control(f"bitrix24/portals/{ACME}/install", json={"mode": "page"})["auth"]
    with live.app.app_context():
        installation = store.find(auth["member_id"])
        installation_id, label = installation.id, (installation.endpoints or {})["setup"]["sync_label"]
    before = _titles(live, installation_id)
    assert before["CRM_SMART_INVOICE_DETAIL_TAB"] == "Accounting" and before["LEFT_MENU"] == "Accounting sync"

    _connect_in_browser(live, installation_id, "Bridge Demo (NZ)")

    after = _titles(live, installation_id)
    assert after["CRM_SMART_INVOICE_DETAIL_TAB"] == "Xero" and after["LEFT_MENU"] == "Xero sync"
    assert after["CRM_ANALYTICS_MENU"] == "Xero transactions"
    assert sorted(after) == sorted(before)  # renamed, not bound twice
    with live.app.app_context():
        assert store.find(auth["member_id"]).endpoints["setup"]["sync_label"] == label == "Sync with accounting"
