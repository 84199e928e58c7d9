from datetime import timedelta

from sqlalchemy import func, select

from bridge import engine
from bridge.extensions import db
from bridge.installations import purge_due, request_uninstall, token_hash, token_matches, uninstall
from bridge.models import (Credential, InboxEvent, Installation, LedgerConnection, Link, PeriodicRun,
                           SyncRecord, WorkItem, utcnow)
from bridge.vault import vault_for_app


def _populate(app, installation):
    vault = vault_for_app(app)
    installation.credential_id = vault.create("bitrix24", {"access_token": "a" * 10, "refresh_token": "r" * 10})
    connection = LedgerConnection(installation_id=installation.id, ledger="xero", organisation_id="org-1",
                                  credential_id=vault.create("xero", {"access_token": "x" * 10}))
    db.session.add(connection)
    db.session.add(Link(installation_id=installation.id, kind="invoice", platform_id="1", ledger="xero",
                        ledger_org="org-1", ledger_id="inv-1"))
    db.session.commit()
    engine.record_inbound("test", "e1", installation_id=installation.id, topic="t", object_key="invoice:1",
                          payload="{}")
    engine.request_work(engine.WorkRequest(installation.id, "f", "invoice:1"))
    db.session.add(SyncRecord(installation_id=installation.id, flow="f", object_kind="invoice", object_id="1",
                              direction="to_ledger"))
    db.session.commit()


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_confirmed_uninstall_cuts_the_connections_at_once_and_keeps_the_data_for_the_grace_period(app, installation):
    other = Installation(platform="bitrix24", account_id="member-2")
    db.session.add(other)
    db.session.commit()
    _populate(app, installation)
    uninstall(installation, clean=True)
    db.session.expire_all()
    row = db.session.get(Installation, installation.id)
    connection = row.ledger_connections[0]
    assert row.state == "uninstalled" and row.app_token_hash is None and count(Credential) == 0
    assert not connection.active and connection.credential_id is None and connection.health == "needs_reconnect"
    assert [count(m) for m in (Link, InboxEvent, WorkItem, SyncRecord)] == [1, 1, 1, 1]
    assert row.purge_after - row.uninstalled_at == timedelta(days=30)
    # The daily maintenance purges nothing before the grace period ends, everything after.
    assert purge_due(row.purge_after - timedelta(seconds=1)) == 0 and count(Link) == 1
    assert purge_due(row.purge_after) == 1
    assert [count(m) for m in (LedgerConnection, Link, InboxEvent, WorkItem, SyncRecord)] == [0] * 5
    assert db.session.scalars(select(Installation.account_id)).all() == ["member-2"]


def test_the_daily_maintenance_job_purges_once_the_grace_period_is_over(app, installation):
    from bridge.installations import purge_uninstalled

    _populate(app, installation)
    uninstall(installation, clean=True)
    assert purge_uninstalled.call_local() == {"installations": 0} and count(Link) == 1
    installation.purge_after = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert count(Installation) == 1
    db.session.execute(PeriodicRun.__table__.delete())  # the next day's run
    db.session.commit()
    assert purge_uninstalled.call_local() == {"installations": 1} and count(Installation) == count(Link) == 0


def test_the_grace_period_is_a_setting(app, installation):
    app.config["UNINSTALL_GRACE_DAYS"] = 7
    uninstall(installation, clean=True)
    assert installation.purge_after - installation.uninstalled_at == timedelta(days=7)


def test_an_uninstall_without_clean_drops_tokens_but_keeps_links_for_good(app, installation):
    _populate(app, installation)
    uninstall(installation, clean=False)
    assert count(Credential) == 0 and count(Link) == 1
    assert db.session.get(Installation, installation.id).state == "uninstalled"
    assert purge_due(utcnow() + timedelta(days=3650)) == 0 and count(Link) == 1


def test_a_reinstall_within_the_grace_period_restores_the_installation_and_its_data(app, installation):
    from bridge.connectors.bitrix24 import store

    _populate(app, installation)
    uninstall(installation, clean=True)
    again = store.save_oauth(member_id="member-1", domain="acme.bitrix24.com", application_token="new-app-token",
                             tokens={"access_token": "a2", "refresh_token": "r2", "expires_in": 3600,
                                     "member_id": "member-1", "client_endpoint": "https://acme.bitrix24.com/rest/"})
    assert again.id == installation.id and count(Installation) == 1  # the same row, not a second one
    assert again.state == "active" and again.purge_after is None and again.uninstalled_at is None
    assert store.verify("member-1", "new-app-token") is again
    assert purge_due(utcnow() + timedelta(days=3650)) == 0 and count(Link) == 1


def test_uninstall_events_ask_for_one_check_whatever_their_number(app, installation):
    assert request_uninstall(installation, clean=False, flow="confirm_uninstall")
    assert not request_uninstall(installation, clean=True, flow="confirm_uninstall")
    item = db.session.scalar(select(WorkItem))
    assert count(WorkItem) == 1 and item.state == "queued" and installation.uninstall_clean
    assert installation.state == "active"


def test_application_token_is_checked_without_storing_it(installation):
    installation.app_token_hash = token_hash("app-token-123")
    assert token_matches(installation, "app-token-123")
    assert not token_matches(installation, "app-token-124")
    assert not token_matches(installation, "")
    assert not token_matches(None, "app-token-123")
