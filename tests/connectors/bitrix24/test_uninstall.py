"""An uninstall takes effect only once Bitrix24 confirms it (bridge/connectors/bitrix24/uninstall.py).

The application_token that signs ONAPPUNINSTALL is shown to every user who opens the app, so
these tests play the forger: the event with a valid token changes nothing until the portal's
OAuth server or REST API says the app is gone.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
import requests
import responses
from sqlalchemy import func, select

from bridge import engine
from bridge.connectors.bitrix24 import store
from bridge.connectors.bitrix24.uninstall import FLOW, Inconclusive, Outcome, confirm_uninstall
from bridge.dashboard.models import SentAlert
from bridge.extensions import db
from bridge.installations import UNINSTALL_OBJECT, uninstall
from bridge.models import Credential, Installation, LedgerConnection, Link, SyncRecord, WorkItem, utcnow
from bridge.vault import vault_for_app

MEMBER = "a1c3e5d7f9b1a3c5e7d9f1b3a5c7e9d1"
APP_TOKEN = "51856fefc120afa4b628cc82d3935cce"
FORM = "application/x-www-form-urlencoded"
TOKEN_URL = "https://oauth.bitrix.info/oauth/token/"
APP_INFO = "https://x.bitrix24.com/rest/app.info"
FRESH = {"access_token": "at-2", "refresh_token": "rt-2", "expires_in": 3600, "member_id": MEMBER,
         "client_endpoint": "https://x.bitrix24.com/rest/", "server_endpoint": "https://oauth.bitrix.info/rest/"}
NOT_INSTALLED = {"error": "invalid_client", "error_description": "Application not installed"}
REVOKED = {"error": "invalid_token", "error_description": "The access token provided is invalid."}


def uninstall_body(clean: int = 1, token: str = APP_TOKEN) -> str:
    """ONAPPUNINSTALL as NOTES s2 has it: no tokens, CLEAN, and the application_token."""
    return (f"event=ONAPPUNINSTALL&data[CLEAN]={clean}&data[LANGUAGE_ID]=en&ts=1723538600&auth[domain]=x.bitrix24.com"
            f"&auth[server_endpoint]=https://oauth.bitrix.info/rest/&auth[client_endpoint]=https://x.bitrix24.com/rest/"
            f"&auth[member_id]={MEMBER}&auth[application_token]={token}")


def oauth_answers(status: int = 200, body=None) -> None:
    """The token endpoint's answer, whether the refresh is sent as GET or as POST."""
    for method in (responses.GET, responses.POST):
        responses.add(method, TOKEN_URL, status=status, json=FRESH if body is None else body)


@pytest.fixture
def portal(app_ctx):
    """An installed portal with a Xero connection and a synced invoice."""
    installation = store.save_oauth(member_id=MEMBER, domain="x.bitrix24.com", application_token=APP_TOKEN, tokens={
        "access_token": "at-1", "refresh_token": "rt-1", "expires_in": 3600, "member_id": MEMBER,
        "client_endpoint": "https://x.bitrix24.com/rest/", "server_endpoint": "https://oauth.bitrix.info/rest/"})
    vault = vault_for_app(app_ctx)
    db.session.add(LedgerConnection(installation_id=installation.id, ledger="xero", organisation_id="org-1",
                                    credential_id=vault.create("xero", {"access_token": "x" * 10})))
    db.session.add(Link(installation_id=installation.id, kind="invoice", platform_id="1", ledger="xero",
                        ledger_org="org-1", ledger_id="inv-1"))
    db.session.commit()
    return installation


def intact(installation_id: int) -> bool:
    """Installed and syncing: active, the callback token accepted, both credentials kept, the
    Xero connection active."""
    db.session.expire_all()
    installation = db.session.get(Installation, installation_id)
    connection = installation.ledger_connections[0]
    return (installation.state == "active" and store.verify(MEMBER, APP_TOKEN) is not None
            and db.session.get(Credential, installation.credential_id) is not None
            and connection.active and db.session.get(Credential, connection.credential_id) is not None
            and db.session.scalar(select(func.count()).select_from(Link)) == 1)


def token_calls() -> int:
    return sum(1 for call in responses.calls if call.request.url.startswith(TOKEN_URL))


def check_item() -> WorkItem:
    return db.session.scalar(select(WorkItem).where(WorkItem.flow == FLOW, WorkItem.object_key == UNINSTALL_OBJECT))


# ---------------------------------------------------------------------------------------
# confirmed
# ---------------------------------------------------------------------------------------


@responses.activate
def test_nothing_changes_before_the_check_and_an_uninstall_the_oauth_server_confirms_cuts_everything(
        client, portal, run_jobs):
    oauth_answers(401, NOT_INSTALLED)
    responses.post(APP_INFO, status=401, json=REVOKED)  # the access token of before: revoked too
    response = client.post("/hooks/bitrix24", data=uninstall_body(clean=1), content_type=FORM)
    assert response.status_code == 200
    assert intact(portal.id) and token_calls() == 0  # nothing is asked in the request, nothing deleted
    run_jobs()
    db.session.expire_all()
    installation = db.session.get(Installation, portal.id)
    connection = installation.ledger_connections[0]
    assert installation.state == "uninstalled" and installation.credential_id is None
    assert store.verify(MEMBER, APP_TOKEN) is None  # its next events are refused
    assert not connection.active and connection.credential_id is None
    assert db.session.scalar(select(func.count()).select_from(Credential)) == 0
    # CLEAN=1: the data waits for the grace period; the sync log says what happened.
    assert db.session.scalar(select(func.count()).select_from(Link)) == 1
    assert installation.purge_after - installation.uninstalled_at == timedelta(days=30)
    record = db.session.scalar(select(SyncRecord).where(SyncRecord.flow == FLOW))
    assert record.state == "succeeded" and "confirmed" in record.warning


@responses.activate
def test_an_uninstall_the_portal_confirms_by_refusing_a_fresh_token_is_confirmed(client, portal, run_jobs):
    oauth_answers()
    responses.post(APP_INFO, status=401, json=REVOKED)
    client.post("/hooks/bitrix24", data=uninstall_body(clean=0), content_type=FORM)
    run_jobs()
    db.session.expire_all()
    installation = db.session.get(Installation, portal.id)
    assert installation.state == "uninstalled" and installation.purge_after is None
    assert not installation.ledger_connections[0].active
    # The app.info call carried the freshly refreshed token, not the one of before.
    assert '"auth": "at-2"' in responses.calls[-1].request.body.decode()


# ---------------------------------------------------------------------------------------
# not an uninstall: the forged event
# ---------------------------------------------------------------------------------------


@responses.activate
def test_a_forged_uninstall_with_the_app_token_and_clean_deletes_nothing_and_sync_keeps_working(
        client, portal, run_jobs, placeholder_flows):
    """The attack of issue 15: the application_token from any app page, CLEAN=1."""
    oauth_answers()
    responses.post(APP_INFO, json={"result": {"ID": 7, "INSTALLED": True}})
    assert client.post("/hooks/bitrix24", data=uninstall_body(clean=1), content_type=FORM).status_code == 200
    run_jobs()
    assert intact(portal.id)
    installation = db.session.get(Installation, portal.id)
    assert installation.purge_after is None and installation.uninstall_requested_at is None
    # Recorded for the operator console's sync log, and alerted.
    record = db.session.scalar(select(SyncRecord).where(SyncRecord.flow == FLOW))
    assert (record.state, record.error_code) == ("skipped", "uninstall_refused")
    assert "not Bitrix24's" in record.warning and "Nothing was removed" in record.warning
    assert db.session.scalar(select(SentAlert.cause).where(SentAlert.installation_id == portal.id)) == \
        "uninstall_refused"
    # Sync goes on: the next invoice event is taken and its work runs.
    runs, _ = placeholder_flows
    event = (f"event=ONCRMDYNAMICITEMUPDATE&data[FIELDS][ID]=24&data[FIELDS][ENTITY_TYPE_ID]=31&ts=1723538700"
             f"&auth[member_id]={MEMBER}&auth[application_token]={APP_TOKEN}")
    assert client.post("/hooks/bitrix24", data=event, content_type=FORM).text == "stored"
    run_jobs()
    assert runs == [("invoice_to_ledger", "invoice:24")]


@responses.activate
def test_a_flood_of_forged_uninstalls_costs_one_check_per_window(client, portal, run_jobs):
    oauth_answers()
    responses.post(APP_INFO, json={"result": {"ID": 7}})
    for _ in range(30):
        assert client.post("/hooks/bitrix24", data=uninstall_body(), content_type=FORM).status_code == 200
    run_jobs()
    assert token_calls() == 1 and intact(portal.id)
    # More within the window: one check waits for the window's end, none runs now.
    for _ in range(30):
        client.post("/hooks/bitrix24", data=uninstall_body(), content_type=FORM)
    run_jobs()
    item = check_item()
    assert token_calls() == 1 and item.state == "waiting"
    checked = db.session.get(Installation, portal.id).uninstall_checked_at
    assert item.next_attempt_at == checked + timedelta(seconds=900)
    assert db.session.scalar(select(func.count()).select_from(SyncRecord).where(SyncRecord.flow == FLOW)) == 1


def test_a_run_before_the_window_ends_waits_without_asking(app_ctx, portal, monkeypatch):
    """The check itself keeps the window too (a re-run of a check that was busy)."""
    portal.uninstall_requested_at = portal.uninstall_checked_at = utcnow()
    db.session.commit()
    asked = []
    monkeypatch.setattr("bridge.connectors.bitrix24.uninstall.confirm_uninstall", lambda i: asked.append(i))
    db.session.add(WorkItem(installation_id=portal.id, flow=FLOW, object_key=UNINSTALL_OBJECT, state="queued"))
    db.session.commit()
    engine.execute_work(check_item().id)
    assert asked == [] and check_item().state == "waiting" and check_item().attempts == 0


# ---------------------------------------------------------------------------------------
# inconclusive
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [
    {"status": 503, "body": {"error": "temporarily_unavailable"}},
    {"body": requests.ConnectionError("timed out")},
    # A refresh token spent by a refresh elsewhere: proves nothing about the app.
    {"status": 400, "body": {"error": "invalid_grant", "error_description": "Invalid grant"}},
], ids=["5xx", "timeout", "spent refresh token"])
@responses.activate
def test_an_inconclusive_check_changes_nothing_and_is_retried_with_backoff(client, portal, run_jobs, answer):
    for method in (responses.GET, responses.POST):
        if isinstance(answer["body"], Exception):
            responses.add(method, TOKEN_URL, body=answer["body"])
        else:
            responses.add(method, TOKEN_URL, status=answer["status"], json=answer["body"])
    client.post("/hooks/bitrix24", data=uninstall_body(clean=1), content_type=FORM)
    before = utcnow()
    run_jobs()
    db.session.expire_all()
    installation = db.session.get(Installation, portal.id)
    connection = installation.ledger_connections[0]
    assert installation.state == "active" and connection.active and connection.credential_id is not None
    assert installation.credential_id is not None and installation.purge_after is None
    assert installation.uninstall_requested_at is not None  # still to be confirmed
    item = check_item()
    assert item.state == "waiting" and item.attempts == 1 and item.next_attempt_at > before
    record = db.session.scalar(select(SyncRecord).where(SyncRecord.flow == FLOW))
    assert record.state == "retrying" and "Nothing was removed" in record.error_message
    # The retry asks again; this time the OAuth server says the app is gone.
    responses.reset()
    oauth_answers(401, NOT_INSTALLED)
    item.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    if answer["body"] == {"error": "invalid_grant", "error_description": "Invalid grant"}:
        # The vault marked the spent token: no refresh can tell anything until a re-install.
        with pytest.raises(Inconclusive):
            confirm_uninstall(installation)
        return
    engine.execute_work(item.id)
    db.session.expire_all()
    assert db.session.get(Installation, portal.id).state == "uninstalled"


@responses.activate
def test_invalid_client_while_the_portal_accepts_the_token_of_before_is_bridges_own_credentials(
        client, portal, run_jobs):
    """invalid_client also means a wrong client secret in bridge's configuration: a forged
    uninstall must not be confirmed by that."""
    oauth_answers(401, NOT_INSTALLED)
    responses.post(APP_INFO, json={"result": {"ID": 7}})
    client.post("/hooks/bitrix24", data=uninstall_body(clean=1), content_type=FORM)
    run_jobs()
    db.session.expire_all()
    installation = db.session.get(Installation, portal.id)
    assert installation.state == "active" and installation.ledger_connections[0].active
    assert db.session.get(Credential, installation.credential_id) is not None
    record = db.session.scalar(select(SyncRecord).where(SyncRecord.flow == FLOW))
    assert record.state == "retrying" and "BITRIX24_CLIENT_SECRET" in record.error_fix
    assert '"auth": "at-1"' in responses.calls[-1].request.body.decode()


@responses.activate
def test_a_check_renews_the_tokens_once_even_when_they_had_expired(app_ctx, portal):
    db.session.execute(Credential.__table__.update().values(expires_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    oauth_answers()
    responses.post(APP_INFO, json={"result": {"ID": 7}})
    assert confirm_uninstall(portal) is Outcome.REFUSED and token_calls() == 1


@responses.activate
def test_a_portal_that_answers_with_a_server_error_is_inconclusive(app_ctx, portal):
    oauth_answers()
    responses.post(APP_INFO, status=500, json={"error": "INTERNAL_SERVER_ERROR"})
    with pytest.raises(Inconclusive):
        confirm_uninstall(portal)
    responses.replace(responses.POST, APP_INFO, json={"result": {"ID": 7}})
    assert confirm_uninstall(portal) is Outcome.REFUSED


# ---------------------------------------------------------------------------------------
# what the operator console shows
# ---------------------------------------------------------------------------------------


@responses.activate
def test_the_operator_console_shows_a_refused_uninstall_and_when_a_confirmed_ones_data_goes(
        app, client, runner, portal, run_jobs):
    password = "correct horse battery"
    assert runner.invoke(args=["operator", "create", "ops@partner.example", "--password", password]).exit_code == 0
    client.post("/operator/login", data={"email": "ops@partner.example", "password": password})
    oauth_answers()
    responses.post(APP_INFO, json={"result": {"ID": 7}})
    client.post("/hooks/bitrix24", data=uninstall_body(), content_type=FORM)
    run_jobs()
    page = client.get(f"/operator/installations/{portal.id}").text
    assert "confirm uninstall" in page and "the event was not Bitrix24&#39;s" in page
    db.session.expire_all()
    uninstall(db.session.get(Installation, portal.id), clean=True)  # as a confirmed check does
    page = client.get(f"/operator/installations/{portal.id}").text
    assert "its data is deleted" in page and "unless the app is installed again" in page
