"""Connecting a Bexio company through the real OAuth pages, over real HTTP."""
from __future__ import annotations

import requests

from bridge.errors import NeedsReconnect
from bridge.extensions import db
from bridge.models import Credential, LedgerConnection
from bridge.vault import vault_for_app
from tests.connectors.bexio.live_support import approve_page, connect, ledger, make_installation, submit


def test_connecting_through_the_approve_page_stores_the_company_and_its_tokens_in_the_vault(live):
    connected = connect(live, login="seeland:101")
    assert "Seeland Velo GmbH" in connected.page.text
    with live.app.app_context():
        connection = db.session.get(LedgerConnection, connected.connection_id)
        assert (connection.ledger, connection.organisation_id, connection.health) == ("bexio", "seeland", "ok")
        tokens = vault_for_app(live.app).read(connection.credential_id).data
        assert tokens["refresh_token"] and tokens["access_token"]
        assert tokens["access_token"] not in connected.page.text and tokens["refresh_token"] not in connected.page.text
        # The connection works: the company's own users, not the other company's.
        assert [u for u, _ in ledger(live, connected).users()] == [101, 102]


def test_a_connect_link_without_a_valid_signature_is_refused(live):
    installation_id = make_installation(live)
    response = requests.get(f"{live.app_url}/oauth/bexio/connect?installation={installation_id}&sig=forged",
                            timeout=10, allow_redirects=False)
    assert response.status_code == 403 and "not valid" in response.text


def test_an_answer_from_bexio_for_another_browser_is_refused(live):
    installation_id = make_installation(live)
    browser, page = approve_page(live, installation_id)
    answer = submit(live, browser, page, "seeland:101")
    assert answer.status_code == 200
    # Replaying the same callback URL (same state, used code) from another browser:
    stranger = requests.get(answer.url, timeout=10)
    assert stranger.status_code == 400 and "does not belong" in stranger.text


def test_denying_consent_stores_nothing(live):
    installation_id = make_installation(live)
    browser, page = approve_page(live, installation_id)
    answer = submit(live, browser, page, "seeland:101", action="deny")
    assert answer.status_code == 400 and "not approved" in answer.text
    with live.app.app_context():
        assert db.session.query(LedgerConnection).count() == 0


def test_tokens_are_refreshed_when_bexio_says_they_expired_and_the_rotated_one_is_kept(live):
    connected = connect(live)
    with live.app.app_context():
        connection = db.session.get(LedgerConnection, connected.connection_id)
        before = vault_for_app(live.app).read(connection.credential_id)
        live.control("clock", json={"advance": 3700})  # the access token is dead in Bexio
        assert ledger(live, connected).currencies()[0] == "CHF"
        after = vault_for_app(live.app).read(connection.credential_id)
        assert after.version == before.version + 1
        assert after.data["refresh_token"] != before.data["refresh_token"]


def test_an_offline_session_that_idled_out_asks_for_reconnect(live):
    connected = connect(live)
    live.control("clock", json={"advance": 366 * 24 * 3600})  # NOTES §1: one year idle
    with live.app.app_context():
        try:
            ledger(live, connected).currencies()
        except NeedsReconnect as exc:
            assert "Reconnect" in exc.fix
        else:
            raise AssertionError("an idle offline session must need a reconnect")
        db.session.expire_all()
        connection = db.session.get(LedgerConnection, connected.connection_id)
        assert connection.health == "needs_reconnect"


def test_disconnect_ends_the_session_at_bexio_and_forgets_the_tokens(live):
    from bridge.web.bexio.connect import disconnect_token

    connected = connect(live)
    with live.app.app_context():
        token = disconnect_token(connected.installation_id)
        refresh = vault_for_app(live.app).read(
            db.session.get(LedgerConnection, connected.connection_id).credential_id).data["refresh_token"]
    page = requests.post(f"{live.app_url}/oauth/bexio/disconnect", timeout=10,
                         data={"installation": connected.installation_id, "token": token})
    assert page.status_code == 200 and "disconnected" in page.text
    with live.app.app_context():
        connection = db.session.get(LedgerConnection, connected.connection_id)
        assert not connection.active and connection.credential_id is None
        assert db.session.query(Credential).count() == 0
    refused = requests.post(f"{live.sandbox_url}/auth.bexio.com/realms/bexio/protocol/openid-connect/token",
                            data={"grant_type": "refresh_token", "refresh_token": refresh,
                                  "client_id": "bridge-demo", "client_secret": "bridge-demo-secret"}, timeout=10)
    assert refused.json()["error"] == "invalid_grant"
