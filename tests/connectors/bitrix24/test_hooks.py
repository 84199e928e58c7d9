"""Event callbacks: the exact body of NOTES s4, authenticity, validation, dedup, coalescing."""
from __future__ import annotations

import random

import pytest
import responses
from sqlalchemy import func, select

from bridge import engine
from tests.support import tasks
from bridge.connectors.bitrix24 import store
from bridge.extensions import db
from bridge.models import InboxEvent, WorkItem

MEMBER = "a1c3e5d7f9b1a3c5e7d9f1b3a5c7e9d1"
APP_TOKEN = "51856fefc120afa4b628cc82d3935cce"
FORM = "application/x-www-form-urlencoded"


def notes_body(item_id=24, ts=1723538517, event="ONCRMDYNAMICITEMUPDATE", entity_type=31, token=APP_TOKEN,
               member=MEMBER) -> str:
    """Byte for byte the shape in specs/bitrix24/NOTES.md s4 (unencoded brackets)."""
    return (f"event={event}&event_handler_id=5&data[FIELDS][ID]={item_id}&data[FIELDS][ENTITY_TYPE_ID]={entity_type}"
            f"&ts={ts}&auth[access_token]=s1morf609228iwyjjpvfv6wsvuja4p8u&auth[expires_in]=3600&auth[scope]=crm"
            f"&auth[domain]=x.bitrix24.com&auth[server_endpoint]=https://oauth.bitrix.info/rest/&auth[status]=L"
            f"&auth[client_endpoint]=https://x.bitrix24.com/rest/&auth[member_id]={member}"
            f"&auth[application_token]={token}")


@pytest.fixture
def portal(app_ctx):
    return store.save_oauth(member_id=MEMBER, domain="x.bitrix24.com", application_token=APP_TOKEN, tokens={
        "access_token": "at-1", "refresh_token": "rt-1", "expires_in": 3600, "member_id": MEMBER,
        "client_endpoint": "https://x.bitrix24.com/rest/", "server_endpoint": "https://oauth.bitrix.info/rest/"})


def inbox_count() -> int:
    return db.session.scalar(select(func.count()).select_from(InboxEvent))


def test_the_documented_callback_is_stored_once_as_invoice_work(client, portal, placeholder_flows, run_jobs):
    runs, _ = placeholder_flows
    response = client.post("/hooks/bitrix24", data=notes_body(), content_type=FORM)
    assert response.status_code == 200
    again = client.post("/hooks/bitrix24", data=notes_body(), content_type=FORM)
    assert again.status_code == 200 and again.text == "duplicate"
    row = db.session.scalar(select(InboxEvent))
    assert (row.topic, row.object_key, row.installation_id) == ("ONCRMDYNAMICITEMUPDATE", "invoice:24", portal.id)
    assert "s1morf609228iwyjjpvfv6wsvuja4p8u" not in row.payload and APP_TOKEN not in row.payload
    run_jobs()
    assert runs == [("invoice_to_ledger", "invoice:24")]


def test_a_forged_application_token_gets_401_and_leaves_no_trace(client, portal):
    response = client.post("/hooks/bitrix24", data=notes_body(token="forged"), content_type=FORM)
    assert response.status_code == 401
    unknown = client.post("/hooks/bitrix24", data=notes_body(member="someone-else"), content_type=FORM)
    assert unknown.status_code == 401
    assert inbox_count() == 0


@pytest.mark.parametrize("drop, field", [
    ("data[FIELDS][ID]=24&", "data[FIELDS][ID]"),
    ("ts=1723538517&", "ts"),
    ("event=ONCRMDYNAMICITEMUPDATE&", "event"),
    ("data[FIELDS][ENTITY_TYPE_ID]=31&", "data[FIELDS][ENTITY_TYPE_ID]"),
])
def test_a_missing_field_gets_a_400_naming_it(client, portal, drop, field):
    body = notes_body()
    assert drop in body
    response = client.post("/hooks/bitrix24", data=body.replace(drop, ""), content_type=FORM)
    assert response.status_code == 400
    assert field in response.text
    assert inbox_count() == 0


def test_a_malformed_id_gets_a_400_naming_it(client, portal):
    response = client.post("/hooks/bitrix24", data=notes_body(item_id="24abc"), content_type=FORM)
    assert response.status_code == 400 and "malformed field data[FIELDS][ID]" in response.text


def test_other_smart_processes_are_acknowledged_and_ignored(client, portal):
    response = client.post("/hooks/bitrix24", data=notes_body(entity_type=1038), content_type=FORM)
    assert response.status_code == 200 and inbox_count() == 0


def test_contact_and_deletion_events_become_their_flows(client, portal, placeholder_flows, run_jobs):
    runs, _ = placeholder_flows
    client.post("/hooks/bitrix24", data=notes_body(event="ONCRMCONTACTUPDATE", item_id=7), content_type=FORM)
    client.post("/hooks/bitrix24", data=notes_body(event="ONCRMDYNAMICITEMDELETE", item_id=24), content_type=FORM)
    client.post("/hooks/bitrix24", data=notes_body(event="ONCRMCOMPANYDELETE", item_id=3), content_type=FORM)
    client.post("/hooks/bitrix24", data=notes_body(event="ONCRMCOMPANYADD", item_id=5), content_type=FORM)
    run_jobs()
    # A deleted invoice is read by the export flow (which hands it to cancellation); a
    # deleted company keeps its ledger contact, so it asks for nothing; nor does a new one
    # (in no ledger yet: it goes there with its first invoice, read then).
    assert sorted(runs) == [("invoice_to_ledger", "invoice:24"), ("party_to_ledger", "party:C:7")]
    assert db.session.scalar(select(WorkItem).where(WorkItem.object_key == "company:3")) is None
    assert db.session.scalar(select(WorkItem).where(WorkItem.object_key.like("party:CO:%"))) is None


def test_a_company_or_contact_added_or_deleted_is_acknowledged_and_not_stored(client, portal):
    """They ask for no work, and an import of 10,000 contacts fires 20,000 of them: each one
    stored and translated held up other installations' invoices in the queue."""
    for event in ("ONCRMCONTACTADD", "ONCRMCOMPANYADD", "ONCRMCONTACTDELETE", "ONCRMCOMPANYDELETE"):
        response = client.post("/hooks/bitrix24", data=notes_body(event=event, item_id=5), content_type=FORM)
        assert (response.status_code, response.text) == (200, "ignored")
    assert inbox_count() == 0
    forged = client.post("/hooks/bitrix24", data=notes_body(event="ONCRMCONTACTADD", token="wrong"), content_type=FORM)
    assert forged.status_code == 401  # still refused when forged
    client.post("/hooks/bitrix24", data=notes_body(event="ONCRMCONTACTUPDATE", item_id=5), content_type=FORM)
    assert inbox_count() == 1  # a change is stored as before


def test_thousand_updates_on_fifty_invoices_make_at_most_a_hundred_runs(client, portal, placeholder_flows, run_jobs):
    runs, hooks = placeholder_flows
    events = [(n % 50 + 1, 1723538517 + n) for n in range(1000)]
    random.Random(4).shuffle(events)
    first, rest = events[:600], events[600:]
    for item_id, ts in first:
        assert client.post("/hooks/bitrix24", data=notes_body(item_id, ts), content_type=FORM).status_code == 200

    def more_arrive_while_syncing(ctx):  # the rest of the burst lands while the worker is busy
        while rest:
            item_id, ts = rest.pop()
            client.post("/hooks/bitrix24", data=notes_body(item_id, ts), content_type=FORM)
            engine.handle_inbox_event(db.session.scalar(select(InboxEvent.id).order_by(InboxEvent.id.desc())))
    hooks["invoice:1"] = more_arrive_while_syncing
    with tasks.counting_task_runs() as counts:
        run_jobs()
    assert inbox_count() == 1000
    assert 50 <= counts["run_work"] <= 100
    assert counts["run_work"] == len(runs)
    assert len({key for _, key in runs}) == 50


def test_an_uninstall_event_only_asks_for_a_check_with_bitrix24(client, portal):
    """The event changes nothing by itself (tests/connectors/bitrix24/test_uninstall.py has
    the check); a wrong application_token does not even ask for it."""
    body = (f"event=ONAPPUNINSTALL&data[CLEAN]=1&data[LANGUAGE_ID]=en&ts=1723538600&auth[domain]=x.bitrix24.com"
            f"&auth[server_endpoint]=https://oauth.bitrix.info/rest/&auth[client_endpoint]=https://x.bitrix24.com/rest/"
            f"&auth[member_id]={MEMBER}&auth[application_token]={APP_TOKEN}")
    assert client.post("/hooks/bitrix24", data=body.replace(APP_TOKEN, "forged"), content_type=FORM).status_code == 401
    assert db.session.scalar(select(func.count()).select_from(WorkItem)) == 0
    assert client.post("/hooks/bitrix24", data=body, content_type=FORM).status_code == 200
    db.session.expire_all()
    installation = store.find(MEMBER)
    assert store.verify(MEMBER, APP_TOKEN) is installation and installation.uninstall_clean
    assert db.session.scalar(select(WorkItem.flow)) == "confirm_uninstall"


@responses.activate
def test_install_event_before_the_install_page_is_verified_with_the_oauth_server(client, app_ctx):
    responses.post("https://oauth.bitrix.info/oauth/token/", json={
        "access_token": "at-2", "refresh_token": "rt-2", "expires_in": 3600, "member_id": MEMBER,
        "client_endpoint": "https://x.bitrix24.com/rest/", "server_endpoint": "https://oauth.bitrix.info/rest/"})
    body = (f"event=ONAPPINSTALL&data[VERSION]=1&data[LANGUAGE_ID]=en&ts=1723538500&auth[access_token]=at-1"
            f"&auth[refresh_token]=rt-1&auth[scope]=crm placement&auth[domain]=x.bitrix24.com"
            f"&auth[server_endpoint]=https://oauth.bitrix.info/rest/&auth[member_id]={MEMBER}"
            f"&auth[application_token]={APP_TOKEN}")
    assert client.post("/hooks/bitrix24", data=body, content_type=FORM).status_code == 200
    assert store.verify(MEMBER, APP_TOKEN) is not None
    # Tokens of another portal do not install anything.
    responses.replace(responses.POST, "https://oauth.bitrix.info/oauth/token/", json={
        "access_token": "x", "refresh_token": "y", "member_id": "other", "client_endpoint": "https://y/rest/"})
    assert client.post("/hooks/bitrix24", data=body.replace(MEMBER, "victim-member"),
                       content_type=FORM).status_code == 401
    assert store.find("victim-member") is None
