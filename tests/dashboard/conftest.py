"""Fixtures of the dashboard, alerts and operator console tests."""
from __future__ import annotations

import pytest

from bridge.connectors.bitrix24 import store
from tests.conftest import require
from tests.connectors.xero.test_end_to_end import _connect_in_browser, _org
from tests.support import xero_spec

ACME = "acme.bitrix24.com"


@pytest.fixture
def portal(live):
    """Installed through the install page, Xero connected through the consent page."""
    require(xero_spec.spec_dir() is not None, "Xero specs not found (XERO_SPEC_DIR)")
    live.control("bitrix24/settings", json={"allow_insecure_handlers": True})
    installed = live.control(f"bitrix24/portals/{ACME}/install", json={"mode": "page"})
    with live.app.app_context():
        installation_id = store.find(installed["auth"]["member_id"]).id
    _connect_in_browser(live, installation_id, "Bridge Demo (NZ)")
    live.installed = installed
    live.installation_id = installation_id
    live.tenant = _org(live, "Bridge Demo (NZ)")
    return live


