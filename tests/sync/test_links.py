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


# -- who owns a ledger object: conflicts in plain words, races retried ---------------------

import pytest  # noqa: E402

from bridge.errors import ConflictError, RetryableError  # noqa: E402
from bridge.models import Installation  # noqa: E402
from bridge.sync.links import (LinkRace, LinkTaken, PartyClaims, bind_person, claim_party,  # noqa: E402
                               find_link_by_ledger_id, find_links_by_ledger_ids)


def _second_installation_on_the_same_org() -> tuple[Installation, LedgerConnection]:
    other = Installation(platform="fakeplatform", account_id="acct-2")
    db.session.add(other)
    db.session.flush()
    connection = LedgerConnection(installation_id=other.id, ledger="fakeledger", organisation_id="org-1")
    db.session.add(connection)
    db.session.commit()
    return other, connection


def test_two_installations_sharing_one_ledger_organisation_each_link_the_same_contact(fake_world):
    installation, _, _ = fake_world
    connection = db.session.scalar(select(LedgerConnection).where(LedgerConnection.installation_id == installation.id))
    other, other_connection = _second_installation_on_the_same_org()
    bind(installation.id, connection, "party", "b24:a:CO:1", ledger_id="contact-1")
    db.session.commit()
    bind(other.id, other_connection, "party", "b24:b:CO:9", ledger_id="contact-1")
    db.session.commit()
    assert find_link_by_ledger_id(connection, "party", "contact-1").platform_id == "b24:a:CO:1"
    assert find_link_by_ledger_id(other_connection, "party", "contact-1").platform_id == "b24:b:CO:9"
    # Each installation's matching sees only its own owner of the contact.
    assert PartyClaims(installation.id, connection).owner("contact-1") == "b24:a:CO:1"
    assert PartyClaims(other.id, other_connection).owner("contact-1") == "b24:b:CO:9"
    # The import's lookup of a whole batch sees the same.
    found = find_links_by_ledger_ids(connection, "party", ["contact-1", "contact-2"])
    assert found["contact-1"].platform_id == "b24:a:CO:1" and found["contact-2"] is None
    assert find_links_by_ledger_ids(other_connection, "party", ["contact-1"])["contact-1"].platform_id == "b24:b:CO:9"


def test_a_contact_held_by_another_customer_is_a_conflict_in_words_and_nothing_changes(fake_world):
    installation, _, _ = fake_world
    connection = db.session.scalar(select(LedgerConnection))
    bind(installation.id, connection, "party", "b24:a:CO:1", ledger_id="contact-1", ledger_number="Wayne Enterprises")
    db.session.commit()
    with pytest.raises(LinkTaken) as raised:
        bind(installation.id, connection, "party", "b24:a:CT:5", ledger_id="contact-1", ledger_number="Bruce Wayne")
    assert isinstance(raised.value, ConflictError)
    assert "already belongs to another record" in raised.value.message and "b24:a:CO:1" in raised.value.message
    db.session.commit()  # the session is still usable: nothing was flushed that fails
    assert find_link_by_ledger_id(connection, "party", "contact-1").ledger_number == "Wayne Enterprises"
    assert not (find_link(installation.id, "party", "b24:a:CT:5") or Link()).ledger_id


@pytest.mark.parametrize("write", [
    lambda inst, conn: claim_party(inst, conn, "b24:a:CT:5", "contact-1"),
    lambda inst, conn: bind(inst, conn, "party", "b24:a:CT:5", ledger_id="contact-1")], ids=["claim", "bind"])
def test_a_racing_link_insert_is_a_retry_not_an_integrity_error(fake_world, write):
    """Another worker binds the same ledger contact to another customer after this one's
    check and before its commit: the unique constraint answers, and the run is retried."""
    installation, _, _ = fake_world
    connection = db.session.scalar(select(LedgerConnection))
    bind(installation.id, connection, "party", "b24:a:CT:5", ledger_id="contact-archived")
    db.session.commit()
    from sqlalchemy import event

    done: list[bool] = []

    def other_worker_commits_first(session, flush_context, instances):
        if not done:  # after this worker's check, before its write
            done.append(True)
            _bind_elsewhere(installation.id, "b24:a:CO:1", "contact-1")

    event.listen(db.session, "before_flush", other_worker_commits_first)
    try:
        with pytest.raises(LinkRace) as raised:
            write(installation.id, connection)
    finally:
        event.remove(db.session, "before_flush", other_worker_commits_first)
    assert isinstance(raised.value, RetryableError)
    assert "same moment" in raised.value.message and "INSERT" not in raised.value.message
    assert find_link_by_ledger_id(connection, "party", "contact-1").platform_id == "b24:a:CO:1"


def test_a_person_of_a_company_never_gets_the_company_contact(fake_world):
    installation, _, _ = fake_world
    connection = db.session.scalar(select(LedgerConnection))
    from bridge.domain import Person

    bind_person(installation.id, connection, "b24:a:CT:5", "contact-1", Person(first_name="Bruce", last_name="Wayne",
                                                                               email="Bruce@Wayne.test"))
    db.session.commit()
    link = find_link(installation.id, "party_person", "b24:a:CT:5")
    assert link.ledger_id == "contact-1#person:bruce@wayne.test"
    claims = PartyClaims(installation.id, connection)
    assert claims.taken("b24:a:CT:5", "contact-1")  # his company's contact is not his
    assert not claims.taken("b24:a:CT:5", "contact-2") and not claims.taken("b24:a:CO:1", "contact-1")
