"""Importing ledger customers: batched, resumable, and never twice."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from bridge import faults
from bridge.extensions import db
from bridge.engine import WorkRequest, request_work, run_work
from bridge.models import Cursor, Link, WorkItem

FIRST_CHANGE = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


def start_import(installation, run_jobs):
    request_work(WorkRequest(installation.id, "party_import", "import:parties"))
    db.session.commit()
    run_jobs()


def fill(ledger, n):
    """``n`` customers, changed a second apart (as a ledger lists them: oldest change first)."""
    for i in range(n):
        ledger.parties[f"X{i:03d}"] = {"key": f"xero:{i}", "name": f"Customer {i}",
                                       "updated": FIRST_CHANGE + timedelta(seconds=i)}


def test_import_creates_each_customer_once_in_batches_of_50(fake_world, run_jobs):
    installation, platform, ledger = fake_world
    fill(ledger, 120)
    start_import(installation, run_jobs)
    assert len(platform.parties) == 120 and platform.save_calls == 3
    assert platform.find_calls == 1  # a first import asks once what the platform carries already
    progress = db.session.scalar(select(Cursor.value).where(Cursor.name.like("party_import:%")))
    assert (progress["done"], progress["created"], progress["running"]) == (120, 120, False)
    start_import(installation, run_jobs)
    assert len(platform.parties) == 120 and platform.save_calls == 3  # nothing new to write


def test_an_import_that_crashed_resumes_without_duplicates(fake_world, run_jobs):
    installation, platform, ledger = fake_world
    fill(ledger, 120)
    faults.arm("party import before link write", times=1)
    try:
        start_import(installation, run_jobs)
    finally:
        faults.disarm()
    assert len(platform.parties) == 50  # the first batch reached the platform, its links did not
    item = db.session.scalar(select(WorkItem))
    item.state = "queued"
    db.session.commit()
    run_work(item.id)
    run_jobs()
    assert platform.find_calls == 2  # linked none yet when it resumed: it lists again, finding the 50 it wrote
    assert len(platform.parties) == 120
    assert db.session.scalar(select(func.count()).select_from(Link).where(Link.kind == "party")) == 120


def test_a_contact_our_export_made_and_has_not_linked_yet_is_not_imported(fake_world, run_jobs):
    """Export and import run side by side: a contact the export just created (its number is
    a platform key of ours) but whose link is not written yet must not come back as a second
    customer on the platform; the export binds it."""
    installation, platform, ledger = fake_world
    ledger.parties["X-ours"] = {"key": "xero:ours", "name": "Customer 03 Ltd", "number": "fake:C:12"}
    ledger.parties["X-theirs"] = {"key": "xero:theirs", "name": "Made in Xero Ltd", "number": "CUST-7"}
    start_import(installation, run_jobs)
    assert [party.name for party, _ in platform.parties.values()] == ["Made in Xero Ltd"]
    assert db.session.scalars(select(Link.ledger_id).where(Link.kind == "party")).all() == ["X-theirs"]


# -- what is imported, and when (issue 16, finding 4) -------------------------------------

def names(platform) -> list[str]:
    return sorted(party.name for party, _ in platform.parties.values())


def test_only_customers_are_imported_unless_the_setting_includes_suppliers(fake_world, run_jobs):
    from bridge.settings import save_section

    installation, platform, ledger = fake_world
    ledger.parties["X-c"] = {"key": "xero:c", "name": "Buyer Ltd", "roles": frozenset({"customer"})}
    ledger.parties["X-s"] = {"key": "xero:s", "name": "Paper Supplies Ltd", "roles": frozenset({"supplier"})}
    ledger.parties["X-n"] = {"key": "xero:n", "name": "Not Invoiced Yet Ltd", "roles": frozenset()}
    start_import(installation, run_jobs)
    assert names(platform) == ["Buyer Ltd"]
    save_section(installation, "party_import", {"include_suppliers": True})
    db.session.commit()
    start_import(installation, run_jobs)  # the scope changed: a full pass again
    assert names(platform) == ["Buyer Ltd", "Paper Supplies Ltd"]


def test_a_contact_that_became_a_customer_is_found_through_its_invoice(fake_world, run_jobs):
    """Xero sets IsCustomer with the first sales invoice and leaves the contact's
    UpdatedDateUTC alone: after the first pass, the contacts of the invoices changed since
    the last run are read too, not only the contacts changed since the cursor."""
    from datetime import datetime, timezone

    installation, platform, ledger = fake_world
    old = datetime(2026, 1, 1, tzinfo=timezone.utc)
    ledger.parties["X-1"] = {"key": "xero:1", "name": "Early Customer", "roles": frozenset({"customer"}),
                             "updated": old}
    ledger.parties["X-2"] = {"key": "xero:2", "name": "Later Customer", "roles": frozenset(), "updated": old}
    start_import(installation, run_jobs)
    assert names(platform) == ["Early Customer"]
    ledger.parties["X-2"]["roles"] = frozenset({"customer"})  # invoiced; its updated stays `old`
    ledger.invoiced = ["X-2"]
    start_import(installation, run_jobs)
    assert names(platform) == ["Early Customer", "Later Customer"]
    assert ledger.invoiced_since is not None  # since the previous run, never every invoice


def test_the_daily_import_runs_only_where_a_user_switched_it_on(fake_world, run_jobs):
    from bridge.settings import save_section
    from bridge.sync.party_import import request_daily_imports

    installation, platform, ledger = fake_world
    ledger.parties["X-1"] = {"key": "xero:1", "name": "Customer", "roles": frozenset({"customer"})}
    assert request_daily_imports("day-1") == 0  # off by default
    run_jobs()
    assert platform.parties == {}
    save_section(installation, "party_import", {"daily": True})
    db.session.commit()
    assert request_daily_imports("day-2") == 1
    assert request_daily_imports("day-2") == 0  # once a day
    run_jobs()
    assert names(platform) == ["Customer"]


def _hand_over_after_the_first_page(monkeypatch, platform, installation, also=None):
    """A user's work arrives while the first page is written, so the import hands over to it
    there (``engine.hand_over``) and goes on in its next run. ``also`` runs at that moment."""
    from bridge import engine
    monkeypatch.setitem(engine.FLOWS, "users_work", lambda ctx: None)
    saved = platform.save_parties

    def save_page(items):
        keys = saved(items)
        if platform.save_calls == 1:
            request_work(WorkRequest(installation.id, "users_work", "invoice:9", bulk=False))
            if also:
                also()
        return keys
    monkeypatch.setattr(platform, "save_parties", save_page)


def _import_cursor() -> dict:
    db.session.expire_all()
    return db.session.scalar(select(Cursor.value).where(Cursor.name.like("party_import:%")))


def test_the_count_of_contacts_read_never_goes_back_when_an_import_goes_on_after_handing_over(
        fake_world, run_jobs, monkeypatch):
    """The settings page's "read" count: after a hand-over the pass reads its first pages
    again, and the count shown stays where it was instead of starting again from 0."""
    installation, platform, ledger = fake_world
    fill(ledger, 120)
    _hand_over_after_the_first_page(monkeypatch, platform, installation)
    from bridge.sync import party_import
    shown: list[int] = []  # the count as the page shows it: when each run starts, and per contact read
    listing, connect = ledger.changed_parties, party_import.ledger_for

    def run_starts(inst):
        shown.append((_import_cursor() or {}).get("done", 0))
        return connect(inst)

    def watched(since):
        for party in listing(since):
            shown.append(_import_cursor()["done"])
            yield party
    monkeypatch.setattr(party_import, "ledger_for", run_starts)
    monkeypatch.setattr(ledger, "changed_parties", watched)
    start_import(installation, run_jobs)

    assert platform.save_calls == 3 and len(platform.parties) == 120
    assert 50 in shown and shown == sorted(shown), shown  # handed over at 50, and never back
    progress = _import_cursor()
    assert (progress["done"], progress["created"], progress["running"]) == (120, 120, False)


def test_a_failure_after_a_hand_over_ends_the_imports_record_instead_of_leaving_it_running(
        fake_world, run_jobs, monkeypatch):
    from bridge.errors import NeedsReconnect
    from bridge.messages import N_
    from bridge.models import SyncRecord
    from bridge.sync import party_import
    installation, platform, ledger = fake_world
    fill(ledger, 120)
    _hand_over_after_the_first_page(monkeypatch, platform, installation)
    real_ledger_for = party_import.ledger_for
    runs = []

    def ledger_for(inst):
        runs.append(1)
        if len(runs) == 2:  # the run that goes on after the hand-over: the connection is gone
            raise NeedsReconnect(N_("The Xero connection was ended."))
        return real_ledger_for(inst)
    monkeypatch.setattr(party_import, "ledger_for", ledger_for)
    start_import(installation, run_jobs)

    records = db.session.scalars(select(SyncRecord).where(SyncRecord.flow == "party_import")).all()
    assert [r.state for r in records] == ["failed"]  # one import, ended; none left "running"


def test_an_import_whose_settings_changed_after_a_hand_over_starts_again_and_ends_the_old_record(
        fake_world, run_jobs, monkeypatch):
    from bridge.models import Installation, SyncRecord
    from bridge.settings import get_section, save_section
    installation, platform, ledger = fake_world
    fill(ledger, 120)

    def include_suppliers():  # the user changes the import's settings meanwhile
        current = db.session.get(Installation, installation.id)  # the run's own session
        data = get_section(current, "party_import").model_dump(mode="json")
        save_section(current, "party_import", {**data, "include_suppliers": True})
    _hand_over_after_the_first_page(monkeypatch, platform, installation, also=include_suppliers)
    start_import(installation, run_jobs)

    records = db.session.scalars(select(SyncRecord).where(SyncRecord.flow == "party_import")
                                 .order_by(SyncRecord.id)).all()
    assert [r.state for r in records] == ["skipped", "succeeded"]
    assert len(platform.parties) == 120  # the new pass wrote nothing twice


def test_a_first_import_that_handed_over_goes_on_with_its_listing_instead_of_asking_per_batch(
        fake_world, run_jobs, monkeypatch):
    """The first listing of what the platform carries is what a first import needs; after a
    hand-over its own links exist, and asking again per batch cost a 2,000-contact import 20
    more Bitrix24 requests."""
    installation, platform, ledger = fake_world
    fill(ledger, 160)
    _hand_over_after_the_first_page(monkeypatch, platform, installation)
    start_import(installation, run_jobs)

    assert len(platform.parties) == 160 and platform.save_calls == 4
    assert platform.find_calls == 1  # the listing at the start, none for the three batches after
    assert "carried" not in _import_cursor()  # a finished pass keeps no listing


def test_an_import_that_handed_over_still_finds_what_the_platform_carried_at_its_start(
        fake_world, run_jobs, monkeypatch):
    """A record the platform carried from the ledger before the import (a second bridge, an
    earlier install) is updated, not created again, in a batch after the hand-over."""
    installation, platform, ledger = fake_world
    fill(ledger, 120)
    platform.parties["fake:C:earlier"] = (None, (ledger.kind, "X110"))
    _hand_over_after_the_first_page(monkeypatch, platform, installation)
    start_import(installation, run_jobs)

    assert len(platform.parties) == 120  # X110 is the record that was there, not a 121st
    assert db.session.scalar(select(Link.platform_id).where(
        Link.kind == "party", Link.ledger_id == "X110")) == "fake:C:earlier"


def test_an_import_that_handed_over_lists_again_from_its_last_contact_not_from_the_first_page(
        fake_world, run_jobs, monkeypatch):
    """After a hand-over the pass goes on from the last contact it wrote (a second before
    it: If-Modified-Since is to the second), not from the ledger's first page again: a
    10,000-contact import that yielded often read 86-138 Xero pages where 10 hold them all."""
    installation, platform, ledger = fake_world
    fill(ledger, 120)
    _hand_over_after_the_first_page(monkeypatch, platform, installation)
    start_import(installation, run_jobs)

    last_written = ledger.parties["X049"]["updated"]
    assert ledger.listed_since == [None, last_written - timedelta(seconds=1)]
    assert len(platform.parties) == 120 and platform.save_calls == 3
    progress = _import_cursor()
    assert (progress["done"], progress["created"], progress["running"]) == (120, 120, False)


def test_contacts_changed_in_the_same_instant_as_the_mark_are_neither_skipped_nor_written_twice(
        fake_world, run_jobs, monkeypatch):
    """Twenty contacts share one change time across the hand-over (a bulk load in Xero): the
    ten written before it are passed over, the ten after it are written, each once."""
    installation, platform, ledger = fake_world
    fill(ledger, 120)
    same_instant = ledger.parties["X040"]["updated"]
    for i in range(40, 60):
        ledger.parties[f"X{i:03d}"]["updated"] = same_instant
    _hand_over_after_the_first_page(monkeypatch, platform, installation)
    start_import(installation, run_jobs)

    assert len(platform.parties) == 120 and platform.save_calls == 3  # 50, 50, 20: none twice
    assert db.session.scalar(select(func.count()).select_from(Link).where(Link.kind == "party")) == 120
    assert _import_cursor()["done"] == 120


def test_a_contact_changed_while_the_import_waits_its_turn_is_imported_with_its_change(
        fake_world, run_jobs, monkeypatch):
    """A contact written before the hand-over and changed in the ledger before the import goes
    on moves to the listing's end: the pass reads it there and writes the change."""
    installation, platform, ledger = fake_world
    fill(ledger, 120)

    def renamed_in_the_ledger():
        ledger.parties["X010"].update(name="Customer 10 Renamed",
                                      updated=FIRST_CHANGE + timedelta(seconds=500))
    _hand_over_after_the_first_page(monkeypatch, platform, installation, also=renamed_in_the_ledger)
    start_import(installation, run_jobs)

    assert "Customer 10 Renamed" in names(platform)
    assert len(platform.parties) == 120


def test_the_next_import_lists_from_the_newest_contact_listed_not_from_an_invoiced_one(
        fake_world, run_jobs):
    """The contacts of invoices are read by id after the listing; one changed later than a
    contact changed meanwhile must not move the cursor past that contact, which neither read
    saw (the next import would never list it)."""
    installation, platform, ledger = fake_world
    fill(ledger, 3)
    start_import(installation, run_jobs)  # the first, full pass
    listed_to = ledger.parties["X002"]["updated"]
    ledger.parties["X-invoiced"] = {"key": "xero:inv", "name": "Invoiced Ltd",
                                    "updated": listed_to - timedelta(days=1)}
    ledger.invoiced = ["X-invoiced"]
    reads = ledger.invoiced_parties

    def meanwhile(since, *, suppliers=False):
        # after this pass listed the changed contacts: one is changed, then the invoiced one
        ledger.parties["X001"].update(name="Customer 1 Changed", updated=listed_to + timedelta(seconds=5))
        ledger.parties["X-invoiced"]["updated"] = listed_to + timedelta(seconds=9)
        return reads(since, suppliers=suppliers)
    ledger.invoiced_parties = meanwhile
    start_import(installation, run_jobs)
    ledger.invoiced_parties = reads
    ledger.invoiced = []
    start_import(installation, run_jobs)

    assert "Customer 1 Changed" in names(platform)
