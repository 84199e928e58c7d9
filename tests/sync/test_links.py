"""The binder under concurrency: two batches binding the same customer at once."""
from __future__ import annotations

from sqlalchemy import func, select

from bridge.extensions import db
from bridge.models import LedgerConnection, Link
from bridge.sync.links import bind, find_link, remembered_links


def _bind_elsewhere(installation_id: int, platform_id: str, ledger_id: str) -> None:
    """Another worker's transaction, committed on its own connection."""
    with db.engine.begin() as other:
        other.execute(Link.__table__.insert().values(
            installation_id=installation_id, kind="party", platform_id=platform_id, ledger="fakeledger",
            ledger_org="org-1", ledger_id=ledger_id, extra={}))


def test_a_link_another_worker_made_meanwhile_is_taken_over_not_a_failed_batch(fake_world):
    installation, _, _ = fake_world
    connection = db.session.scalar(select(LedgerConnection))
    with remembered_links(installation.id, "party", ["CO:7"]):
        assert find_link(installation.id, "party", "CO:7") is None  # this batch read: no link yet
        _bind_elsewhere(installation.id, "CO:7", "contact-7")  # the other batch binds it first
        link = bind(installation.id, connection, "party", "CO:7", ledger_id="contact-7", content_hash="abc")
        db.session.commit()
    assert link.ledger_id == "contact-7" and link.content_hash == "abc"
    assert db.session.scalar(select(func.count()).select_from(Link).where(Link.platform_id == "CO:7")) == 1


def test_a_batch_reads_each_link_once_and_sees_what_it_binds(fake_world):
    installation, _, _ = fake_world
    connection = db.session.scalar(select(LedgerConnection))
    statements: list[str] = []
    from sqlalchemy import event

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT") and "FROM links" in statement:
            statements.append(statement)

    with remembered_links(installation.id, "invoice", ["1", "2", "3"]):
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            for _ in range(3):
                assert find_link(installation.id, "invoice", "2") is None
            made = bind(installation.id, connection, "invoice", "2", ledger_id="inv-2")
            assert find_link(installation.id, "invoice", "2") is made
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 1  # bind's read-back of the row it inserted; the lookups cost none
    db.session.rollback()
    assert find_link(installation.id, "invoice", "2") is None  # outside the block: the database
