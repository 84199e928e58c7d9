"""A ledger contact's change flows back only for contacts bridge has linked; our own
write coming back is recognised and nothing is written (issue 16, findings 1 and 4)."""
from __future__ import annotations

from sqlalchemy import select

from bridge.domain import Party, PartyKind
from bridge.extensions import db
from bridge.engine import WorkRequest, request_work
from bridge.models import SyncRecord
from bridge.sync.ledger_party_changed import FLOW, changed_since_sync, group_digests


def contact_changed(installation, run_jobs, ledger_id: str) -> None:
    request_work(WorkRequest(installation.id, FLOW, f"ledger_party:{ledger_id}"))
    db.session.commit()
    run_jobs()


def imported(installation, platform, ledger, run_jobs):
    ledger.parties["X-1"] = {"key": "xero:1", "name": "Acme Ltd", "email": "ap@acme.test",
                             "roles": frozenset({"customer"})}
    request_work(WorkRequest(installation.id, "party_import", "import:parties"))
    db.session.commit()
    run_jobs()
    (key,) = platform.parties
    return key


def test_an_unlinked_contact_is_never_imported_by_its_change(fake_world, run_jobs):
    installation, platform, ledger = fake_world
    ledger.parties["X-9"] = {"key": "xero:9", "name": "Somebody Ltd", "roles": frozenset({"customer"})}
    contact_changed(installation, run_jobs, "X-9")
    assert platform.parties == {} and platform.save_calls == 0
    assert db.session.scalars(select(SyncRecord)).all() == []


def test_a_linked_contact_edited_in_the_ledger_flows_back_and_its_echo_writes_nothing(fake_world, run_jobs):
    installation, platform, ledger = fake_world
    key = imported(installation, platform, ledger, run_jobs)
    contact_changed(installation, run_jobs, "X-1")  # the import's own contact, unchanged
    assert platform.save_calls == 1
    ledger.parties["X-1"]["email"] = "billing@acme.test"
    contact_changed(installation, run_jobs, "X-1")
    assert platform.save_calls == 2 and platform.parties[key][0].email == "billing@acme.test"
    contact_changed(installation, run_jobs, "X-1")  # delivered again
    assert platform.save_calls == 2
    states = [r.state for r in db.session.scalars(select(SyncRecord).where(SyncRecord.flow == FLOW))]
    assert states == ["skipped", "succeeded", "skipped"]


def test_group_digests_tell_a_user_edit_from_our_own_write():
    party = Party(key="b24:m:CO:1", kind=PartyKind.COMPANY, name="Acme Ltd", email="ap@acme.test", phone="555 0101")
    remembered = {"groups": group_digests(party)}
    same = Party(key="b24:m:CO:1", kind=PartyKind.COMPANY, name=" acme  LTD", email="AP@acme.test", phone="555-0101")
    assert changed_since_sync(remembered, same) == frozenset()
    renamed = Party(key="b24:m:CO:1", kind=PartyKind.COMPANY, name="Acme Group", email="ap@acme.test", phone="5550101")
    assert changed_since_sync(remembered, renamed) == {"name"}
    assert changed_since_sync({}, renamed) is None  # a link from before: not known
