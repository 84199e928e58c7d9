"""End to end: the real install page, placements, events, the user field, against the sandbox portal."""
from __future__ import annotations

import requests
from sqlalchemy import select

from bridge.connectors.bitrix24 import store
from bridge.web.bitrix24.app import run_installer
from bridge.extensions import db
from bridge.models import Installation
from bridge.vault import vault_for_app

from .conftest import ACME


def portal_state(live, domain=ACME):
    return live.control(f"bitrix24/portals/{domain}/state", method="GET")


def bindings(state):
    placements = sorted((p["placement"], p["handler"]) for p in state["placements"])
    handlers = sorted((h["event"], h["handler"], h["offline"]) for h in state["handlers"])
    fields = sorted(u["fieldName"] for u in state["userfields"])
    return placements, handlers, fields


def test_install_binds_placements_events_and_the_sync_field(live, installed):
    state = portal_state(live)
    assert state["installation"]["installed"] is True
    placements, handlers, fields = bindings(state)
    assert ("CRM_SMART_INVOICE_DETAIL_TAB", f"{live.app_url}/bitrix24/placement/invoice") in placements
    assert ("LEFT_MENU", f"{live.app_url}/bitrix24/app") in placements
    assert ("CRM_ANALYTICS_MENU", f"{live.app_url}/bitrix24/dashboard") in placements  # the Xero transactions
    online = {event for event, handler, offline in handlers if not offline}
    assert online == {"ONCRMDYNAMICITEMADD", "ONCRMDYNAMICITEMUPDATE", "ONCRMDYNAMICITEMDELETE",
                      "ONCRMCONTACTADD", "ONCRMCONTACTUPDATE", "ONCRMCONTACTDELETE",
                      "ONCRMCOMPANYADD", "ONCRMCOMPANYUPDATE", "ONCRMCOMPANYDELETE",
                      "ONAPPINSTALL", "ONAPPUNINSTALL"}
    assert all(handler == f"{live.app_url}/hooks/bitrix24" for _, handler, offline in handlers if not offline)
    assert any(offline for *_, offline in handlers)  # the backup queue, an admin installed
    assert fields == ["UF_CRM_SMART_INVOICE_XERO_SYNC"]
    uf = state["userfields"][0]
    assert uf["userTypeId"] == "boolean" and str(uf["settings"]["DEFAULT_VALUE"]) == "1"

    with live.app.app_context():
        installation = store.find(installed["auth"]["member_id"])
        assert installation.domain == ACME and installation.state == "active"
        assert installation.endpoints["setup"]["sync_key"] == "ufCrmSmartInvoiceXeroSync"
        tokens = vault_for_app(live.app).read(installation.credential_id).data
        assert tokens["application_token"] == installed["application_token"]
        assert tokens["refresh_token"] and tokens["server_endpoint"].endswith("/oauth.bitrix.info/rest/")
        # Only a hash of the application_token is stored in clear columns.
        assert installation.app_token_hash != installed["application_token"]


def test_installing_again_or_repairing_changes_nothing(live, installed):
    before = bindings(portal_state(live))
    again = live.control(f"bitrix24/portals/{ACME}/install", json={"mode": "page"})
    assert again["page_status"] == 200
    assert bindings(portal_state(live)) == before
    with live.app.app_context():
        installation = store.find(installed["auth"]["member_id"])
        result = run_installer(installation)
        assert result.changed == 0
        assert db.session.scalar(select(db.func.count()).select_from(Installation)) == 1
    assert bindings(portal_state(live)) == before


def test_install_page_refuses_tokens_the_portal_did_not_issue(live, installed):
    form = dict(installed["form"], REFRESH_ID="forged-refresh-token", member_id=installed["auth"]["member_id"])
    response = requests.post(f"{live.app_url}/bitrix24/install", params=installed["query"], data=form, timeout=10)
    assert response.status_code == 401
    assert "did not confirm" in response.text


def test_install_page_refuses_an_unknown_oauth_server(live, installed):
    form = dict(installed["form"], SERVER_ENDPOINT="https://evil.example.com/rest/")
    response = requests.post(f"{live.app_url}/bitrix24/install", params=installed["query"], data=form, timeout=10)
    assert response.status_code == 403
    assert "OAuth server" in response.text and "BITRIX24_OAUTH_HOSTS" in response.text


def test_the_demo_seeder_installs_the_app_headlessly(live):
    from bridge.connectors.bitrix24.demo import seed

    with live.app.app_context():
        lines = list(seed())
        assert any("app installed" in line for line in lines), lines
        assert "already installed" in list(seed())[0]
    state = portal_state(live)
    assert state["installation"]["installed"] and state["placements"]
    # the README tour's material: companies with their people (e-mails) and invoices in
    # several stages and currencies in the portal; Xero customers and suppliers to import
    assert "Harbour Cafe Ltd" in [c["TITLE"] for c in state["companies"]] and len(state["companies"]) >= 4
    cafe = next(c["ID"] for c in state["companies"] if c["TITLE"] == "Harbour Cafe Ltd")
    people = [c for c in state["contacts"] if str(c.get("COMPANY_ID")) == str(cafe)]
    assert len(people) == 2 and all(c.get("EMAIL") for c in people)
    assert len({i["stageId"] for i in state["invoices"]}) >= 4 and len({i["currencyId"] for i in state["invoices"]}) >= 3
    nz = next(o["tenantId"] for o in live.control("xero/orgs", method="GET") if o["name"] == "Bridge Demo (NZ)")
    xero = live.control(f"xero/orgs/{nz}/state", method="GET")
    assert sum(1 for c in xero["contacts"] if c.get("IsCustomer")) >= 10 and xero["bankTransactions"]
    assert sum(1 for c in xero["contacts"] if c.get("IsSupplier")) >= 3


def test_install_page_refuses_a_domain_that_is_not_the_portals_address(live, installed):
    """Valid tokens of acme with DOMAIN claiming another portal: the name shown for the
    installation (operator console, alerts) must be the portal's own."""
    pair = live.control(f"bitrix24/portals/{ACME}/tokens", json={"user_id": 1})
    form = dict(installed["form"], AUTH_ID=pair["access_token"], REFRESH_ID=pair["refresh_token"],
                DOMAIN="globex.bitrix24.de")
    query = dict(installed["query"], DOMAIN="globex.bitrix24.de")
    response = requests.post(f"{live.app_url}/bitrix24/install", params=query, data=form, timeout=10)
    assert response.status_code == 401 and "DOMAIN is not the portal" in response.text
    with live.app.app_context():
        assert store.find(installed["auth"]["member_id"]).domain == ACME
