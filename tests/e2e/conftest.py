"""Fixtures shared by the end-to-end modules: the sandbox Bitrix24 portal connected to a
Xero organisation (``portal``) and the sandbox DG1 shop connected to a Bexio company
(``shop``). They live here so a test module asks for them by name instead of importing
them from another test module."""
from __future__ import annotations

import pytest

from bridge.connectors.bitrix24 import store
from bridge.connectors.dg1.demo import seed_demo_tenant
from bridge.connectors.dg1.tenants import find_tenant
from bridge.extensions import db
from bridge.settings import save_section
from tests.conftest import require
from tests.connectors.bexio.live_support import approve_page, ledger as bexio_ledger, submit
from tests.connectors.xero.test_end_to_end import _connect_in_browser, _org
from tests.support import xero_spec

ACME = "acme.bitrix24.com"


class Connected:
    def __init__(self, installation_id, connection_id):
        self.installation_id, self.connection_id = installation_id, connection_id


@pytest.fixture
def portal(live):
    """The app installed in the sandbox portal through its install page, Xero connected
    through the consent page, taxes and the sales account mapped."""
    require(xero_spec.spec_dir() is not None, "Xero specs not found (XERO_SPEC_DIR)")
    # A real portal refuses http/localhost handlers; the test app runs on http://localhost.
    live.control("bitrix24/settings", json={"allow_insecure_handlers": True})
    live.installed = live.control(f"bitrix24/portals/{ACME}/install", json={"mode": "page"})
    auth = live.installed["auth"]
    with live.app.app_context():
        installation_id = store.find(auth["member_id"]).id
    _connect_in_browser(live, installation_id, "Bridge Demo (NZ)")
    with live.app.app_context():
        installation = store.find(auth["member_id"])
        save_section(installation, "mapping", {"tax_rates": {"15": "OUTPUT2"}, "default_sales_account": "200"})
        db.session.commit()
    live.tenant = _org(live, "Bridge Demo (NZ)")
    live.member_id = auth["member_id"]
    return live


@pytest.fixture
def shop(live):
    """The sandbox DG1 tenant ``demo`` installed, connected to the Bexio company
    ``seeland`` through the real consent page, with its taxes mapped."""
    live.app.config["DG1_CLOCK"] = live.sandbox.clock.time
    with live.app.app_context():
        list(seed_demo_tenant())
        installation_id = find_tenant("demo").id
    browser, page = approve_page(live, installation_id)
    assert submit(live, browser, page, "seeland:101").status_code == 200
    with live.app.app_context():
        installation = find_tenant("demo")
        connection = installation.ledger_connections[0]
        taxes = bexio_ledger(live, Connected(installation.id, connection.id)).tax_codes()
        by_rate = {str(t.rate.normalize()): t.code for t in taxes}
        save_section(installation, "mapping", {"tax_rates": by_rate, "shipping_tax": by_rate["8.1"],
                                               "payment_fee_tax": by_rate["8.1"]})
        save_section(installation, "invoices", {"create_payment": True, "send_by_email": True})
        save_section(installation, "bexio", {"language": "de", "currency": "CHF",
                                             "email_message": "Ihre Rechnung: [Network Link]"})
        db.session.commit()
    yield live
    live.sandbox.systems["dg1"].reset()
