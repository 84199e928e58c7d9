from sqlalchemy import func, select

from bridge import jobs
from bridge.extensions import db
from bridge.installations import token_hash, token_matches, uninstall
from bridge.models import (Credential, InboxEvent, Installation, LedgerConnection, Link, SyncRecord,
                           WorkItem)
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
    jobs.record_inbound("test", "e1", installation_id=installation.id, topic="t", object_key="invoice:1",
                        payload="{}")
    jobs.request_work(jobs.WorkRequest(installation.id, "f", "invoice:1"))
    db.session.add(SyncRecord(installation_id=installation.id, flow="f", object_kind="invoice", object_id="1",
                              direction="to_ledger"))
    db.session.commit()


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_uninstall_with_clean_deletes_everything_the_installation_owned(app, installation):
    other = Installation(platform="bitrix24", account_id="member-2")
    db.session.add(other)
    db.session.commit()
    _populate(app, installation)
    uninstall(installation, clean=True)
    assert [count(m) for m in (Credential, LedgerConnection, Link, InboxEvent, WorkItem, SyncRecord)] == [0] * 6
    assert db.session.scalars(select(Installation.account_id)).all() == ["member-2"]


def test_uninstall_without_clean_drops_tokens_but_keeps_links(app, installation):
    _populate(app, installation)
    uninstall(installation, clean=False)
    assert count(Credential) == 0 and count(Link) == 1
    assert db.session.get(Installation, installation.id).state == "uninstalled"


def test_application_token_is_checked_without_storing_it(installation):
    installation.app_token_hash = token_hash("app-token-123")
    assert token_matches(installation, "app-token-123")
    assert not token_matches(installation, "app-token-124")
    assert not token_matches(installation, "")
    assert not token_matches(None, "app-token-123")
