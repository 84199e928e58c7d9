"""The callback hot path (``engine.store_callback``): verified and stored in one autocommitted
statement, committed before the answer, enqueued after the commit, deduplicated, and a
refused callback leaves nothing behind."""
from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, func, select, text

from bridge import engine
from bridge.engine import intake as inbox
from bridge.connectors.bitrix24 import store
from bridge.extensions import db, huey
from bridge.models import InboxEvent
from tests.connectors.bitrix24.test_hooks import APP_TOKEN, FORM, MEMBER, notes_body


@pytest.fixture
def portal(app_ctx):
    installation = store.save_oauth(member_id=MEMBER, domain="x.bitrix24.com", application_token=APP_TOKEN, tokens={
        "access_token": "at-1", "refresh_token": "rt-1", "expires_in": 3600, "member_id": MEMBER,
        "client_endpoint": "https://x.bitrix24.com/rest/", "server_endpoint": "https://oauth.bitrix.info/rest/"})
    db.session.commit()
    return installation


def rows_seen_by_another_connection(app) -> int:
    """What any other process sees: the row is committed, not only written."""
    other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with other.connect() as connection:
            return connection.execute(select(func.count()).select_from(InboxEvent.__table__)).scalar_one()
    finally:
        other.dispose()


def test_an_answered_callback_is_committed_and_its_job_queued(app, client, portal):
    response = client.post("/hooks/bitrix24", data=notes_body(item_id=7), content_type=FORM)
    assert (response.status_code, response.text) == (200, "stored")
    assert rows_seen_by_another_connection(app) == 1
    assert huey.pending_count() == 1
    row = db.session.scalar(select(InboxEvent))
    assert (row.installation_id, row.object_key, row.state) == (portal.id, "invoice:7", "pending")
    assert APP_TOKEN not in row.payload


def test_the_same_callback_twice_is_one_row_and_one_job(app, client, portal):
    assert client.post("/hooks/bitrix24", data=notes_body(item_id=8), content_type=FORM).text == "stored"
    again = client.post("/hooks/bitrix24", data=notes_body(item_id=8), content_type=FORM)
    assert (again.status_code, again.text) == (200, "duplicate")
    assert rows_seen_by_another_connection(app) == 1
    assert huey.pending_count() == 1


def test_a_wrong_token_or_an_uninstalled_portal_stores_and_queues_nothing(app, client, portal):
    assert client.post("/hooks/bitrix24", data=notes_body(token="forged"), content_type=FORM).status_code == 401
    portal.state = "uninstalled"
    db.session.commit()
    assert client.post("/hooks/bitrix24", data=notes_body(), content_type=FORM).status_code == 401
    assert rows_seen_by_another_connection(app) == 0
    assert huey.pending_count() == 0


def test_a_failed_enqueue_still_answers_and_the_sweeper_queues_the_row(app, client, portal, monkeypatch):
    def queue_down(event_id):
        raise ConnectionError("queue unreachable")
    monkeypatch.setattr(inbox, "process_inbox", queue_down)
    response = client.post("/hooks/bitrix24", data=notes_body(item_id=9), content_type=FORM)
    assert response.status_code == 200  # the row is committed: the answer must not make Bitrix24 give up on it
    monkeypatch.undo()
    row = db.session.scalar(select(InboxEvent))
    row.received_at = row.received_at.replace(year=row.received_at.year - 1)  # older than the sweeper's grace
    db.session.commit()
    assert engine.sweep_once()["inbox"] == 1
    assert huey.pending_count() == 1


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
                    reason="a server that drops connections: PostgreSQL only (CI's second pass)")
def test_a_connection_the_server_dropped_is_replaced_without_losing_the_callback(app, client, portal):
    # Production's ingest pool (tests use a NullPool, which never reuses a connection).
    pooled = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], isolation_level="AUTOCOMMIT", pool_size=1)
    app.extensions[inbox._INGEST_ENGINE] = pooled
    assert client.post("/hooks/bitrix24", data=notes_body(item_id=10), content_type=FORM).text == "stored"
    # As a PostgreSQL restart does: every connection of the ingest pool is cut.
    db.session.execute(text("select pg_terminate_backend(pid) from pg_stat_activity "
                            "where datname = current_database() and pid <> pg_backend_pid()"))
    db.session.commit()
    response = client.post("/hooks/bitrix24", data=notes_body(item_id=11), content_type=FORM)
    assert (response.status_code, response.text) == (200, "stored")
    assert rows_seen_by_another_connection(app) == 2
    pooled.dispose()
