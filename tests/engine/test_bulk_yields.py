"""Bulk work yields between its pages: an import of many contacts lets a user's work of the
same installation run before its next page, then goes on where it was, writing nothing twice.
Ordering and state only."""
from __future__ import annotations

from sqlalchemy import func, select

from bridge.engine import WorkRequest, request_work
from bridge.extensions import db
from bridge.models import Cursor, Link, SyncRecord
from tests.sync.conftest import fake_world  # noqa: F401 - the fixture


def test_a_users_work_runs_between_two_pages_of_an_import(fake_world, order, run_jobs):  # noqa: F811
    installation, platform, ledger = fake_world
    ran, _ = order
    for i in range(120):  # three pages of 50
        ledger.parties[f"X{i:03d}"] = {"key": f"xero:{i}", "name": f"Customer {i:03d}"}
    saved = platform.save_parties

    def save_page(items):
        keys = saved(items)
        ran.append((installation.id, [f"page {platform.save_calls}"]))
        if platform.save_calls == 1:  # a live event arrives while the first page is written
            request_work(WorkRequest(installation.id, "fair_one", "invoice:9", bulk=False))
        return keys
    platform.save_parties = save_page

    request_work(WorkRequest(installation.id, "party_import", "import:parties", {"manual": True}))
    db.session.commit()
    run_jobs()

    assert [keys for _, keys in ran] == [["page 1"], ["invoice:9"], ["page 2"], ["page 3"]]
    assert len(platform.parties) == 120  # the pages after it: each contact once
    assert db.session.scalar(select(func.count()).select_from(Link).where(Link.kind == "party")) == 120
    progress = db.session.scalar(select(Cursor.value).where(Cursor.name.like("party_import:%")))
    assert (progress["done"], progress["created"], progress["running"]) == (120, 120, False)
    records = db.session.scalars(select(SyncRecord).where(SyncRecord.flow == "party_import")
                                 .order_by(SyncRecord.id)).all()
    assert [r.state for r in records] == ["succeeded"]  # one import, running until its last page
    assert records[0].received == {"done": 120, "created": 120, "updated": 0}


def test_an_import_with_nobody_waiting_runs_its_pages_in_one_go(fake_world, order, run_jobs):  # noqa: F811
    installation, platform, ledger = fake_world
    for i in range(120):
        ledger.parties[f"X{i:03d}"] = {"key": f"xero:{i}", "name": f"Customer {i:03d}"}
    request_work(WorkRequest(installation.id, "party_import", "import:parties", {"manual": True}))
    db.session.commit()
    run_jobs()
    assert platform.save_calls == 3 and len(platform.parties) == 120
    assert db.session.scalar(select(func.count()).select_from(SyncRecord).where(SyncRecord.flow == "party_import")) == 1


def test_the_reconciles_re_read_of_a_skipped_echo_waits_behind_a_users_work(installation):
    """An echo read is bulk: nobody waits for it, so a user's work of the same installation
    goes first (``claim.pick``)."""
    from bridge.connectors.bitrix24.echoes import SKIPPED, recheck_skipped
    from bridge.models import Cursor, WorkItem

    db.session.add(Link(installation_id=installation.id, kind="invoice", platform_id="7", ledger="xero",
                        ledger_org="org-1", ledger_id="INV-7", extra={SKIPPED: 1764979200}))
    reconcile = Cursor(scope=f"installation:{installation.id}", name="reconcile", value={})
    db.session.add(reconcile)
    db.session.commit()
    assert recheck_skipped(installation.id, reconcile) == 1
    assert db.session.scalar(select(WorkItem.priority).where(WorkItem.object_key == "invoice:7")) == 1  # bulk
