"""The invoice export flow against in-memory adapters: identity, no duplicates, clear errors."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from bridge import faults
from bridge.domain import InvoiceStatus
from bridge.extensions import db
from bridge.engine import WorkRequest, request_work
from bridge.models import Link, SyncRecord, WorkItem
from tests.sync.fakes import sample_invoice


def sync(installation, run_jobs, platform_id="7"):
    request_work(WorkRequest(installation.id, "invoice_to_ledger", f"invoice:{platform_id}"))
    db.session.commit()
    run_jobs()


def records(platform_id="7"):
    return db.session.scalars(select(SyncRecord).where(SyncRecord.object_id == platform_id)
                              .order_by(SyncRecord.id)).all()


def test_a_new_invoice_becomes_one_ledger_invoice_with_its_customer(fake_world, run_jobs):
    installation, platform, ledger = fake_world
    platform.invoices["7"] = sample_invoice()
    sync(installation, run_jobs)
    assert len(ledger.invoices) == 1 and len(ledger.parties) == 1
    (ledger_id, stored), = ledger.invoices.items()
    assert stored["doc"]["Lines"][0]["t"] == "OUTPUT2"
    assert stored["doc"]["InvoiceNumber"] == ""  # default numbering: the ledger numbers it
    link = db.session.scalar(select(Link).where(Link.kind == "invoice"))
    assert (link.platform_id, link.ledger_id) == ("7", ledger_id)
    assert records()[-1].state == "succeeded"
    assert platform.references["7"] == f"INV-{ledger_id}"


def test_an_unchanged_invoice_is_not_written_again(fake_world, run_jobs):
    installation, platform, ledger = fake_world
    platform.invoices["7"] = sample_invoice()
    sync(installation, run_jobs)
    sync(installation, run_jobs)
    assert [w for w in ledger.writes if w.startswith("invoice")] == ["invoice:I2"]
    assert records()[-1].state == "skipped" and "No change" in records()[-1].warning


def test_an_edit_updates_the_same_ledger_invoice(fake_world, run_jobs):
    installation, platform, ledger = fake_world
    platform.invoices["7"] = sample_invoice()
    sync(installation, run_jobs)
    platform.invoices["7"] = sample_invoice(qty="5")
    sync(installation, run_jobs)
    assert len(ledger.invoices) == 1
    assert next(iter(ledger.invoices.values()))["doc"]["Lines"][0]["q"] == Decimal("5")


def test_sync_switched_off_sends_nothing_and_says_so(fake_world, run_jobs):
    installation, platform, ledger = fake_world
    platform.invoices["7"] = sample_invoice(sync=False)
    sync(installation, run_jobs)
    assert ledger.invoices == {}
    assert records()[-1].state == "skipped"
    platform.invoices["7"] = sample_invoice(sync=True)  # switched on later: synced then
    sync(installation, run_jobs)
    assert len(ledger.invoices) == 1


def test_an_invoice_without_lines_waits_for_them_and_writes_nothing(fake_world, run_jobs):
    """A new Bitrix24 invoice is saved with its customer before its product rows (the README
    tour does so): Xero refuses an invoice without lines, so nothing is sent, no customer
    is made, nothing fails; the lines' save sends it."""
    from dataclasses import replace

    installation, platform, ledger = fake_world
    platform.invoices["7"] = replace(sample_invoice(), lines=[])
    sync(installation, run_jobs)
    assert ledger.writes == [] and records()[-1].state == "skipped"
    assert "no lines" in records()[-1].warning
    platform.invoices["7"] = sample_invoice()
    sync(installation, run_jobs)
    assert len(ledger.invoices) == 1 and records()[-1].state == "succeeded"


def test_an_unmapped_tax_rate_fails_naming_the_rate_and_the_setting(fake_world, run_jobs):
    installation, platform, ledger = fake_world
    platform.invoices["7"] = sample_invoice(rate="8.1")
    sync(installation, run_jobs)
    record = records()[-1]
    assert record.state == "failed"
    assert "8.1 %" in record.error_message and "Tax mapping" in record.error_fix
    assert ledger.invoices == {}
    assert db.session.scalar(select(WorkItem.state)) == "idle"  # not retried until someone fixes it


def test_a_crash_between_ledger_create_and_link_write_makes_no_second_invoice(fake_world, run_jobs):
    installation, platform, ledger = fake_world
    platform.invoices["7"] = sample_invoice()
    faults.arm("before link write", times=1)
    try:
        sync(installation, run_jobs)
    finally:
        faults.disarm()
    assert len(ledger.invoices) == 1 and db.session.scalar(select(Link).where(Link.kind == "invoice")) is None
    item = db.session.scalar(select(WorkItem))
    item.state = "queued"
    db.session.commit()
    from bridge.engine import run_work
    run_work(item.id)
    run_jobs()
    assert len(ledger.invoices) == 1
    assert db.session.scalar(select(Link.ledger_id).where(Link.kind == "invoice")) in ledger.invoices
    # The first attempt looked nothing up; the retry, whose intent has no outcome, looks from it on.
    assert [lookup.since is not None for lookup in ledger.lookups] == [True]


def test_a_lost_response_is_retried_with_a_new_key_and_binds_the_invoice_it_made(fake_world, run_jobs):
    installation, platform, ledger = fake_world
    platform.invoices["7"] = sample_invoice()
    ledger.lose_next_response = True
    sync(installation, run_jobs)
    assert records()[-1].state == "retrying"
    item = db.session.scalar(select(WorkItem))
    item.state = "queued"
    db.session.commit()
    from bridge.engine import run_work
    run_work(item.id)
    run_jobs()
    assert len(ledger.invoices) == 1
    assert len(set(ledger.idempotency_keys)) == 2  # the retry did not reuse the failed key


def test_an_edit_after_the_ledger_approved_it_is_a_conflict_with_both_versions(fake_world, run_jobs):
    installation, platform, ledger = fake_world
    platform.invoices["7"] = sample_invoice()
    sync(installation, run_jobs)
    next(iter(ledger.invoices.values()))["status"] = InvoiceStatus.AUTHORISED
    platform.invoices["7"] = sample_invoice(qty="9")
    sync(installation, run_jobs)
    record = records()[-1]
    assert record.state == "conflict"
    assert record.received["theirs"]["status"] == "authorised"
    assert record.received["ours"]["Lines"][0]["q"] == "9"
    assert next(iter(ledger.invoices.values()))["doc"]["Lines"][0]["q"] == Decimal("2")


def test_one_customer_for_many_invoices(fake_world, run_jobs):
    installation, platform, ledger = fake_world
    for n in ("7", "8", "9"):
        platform.invoices[n] = sample_invoice(n)
        sync(installation, run_jobs, n)
    assert len(ledger.parties) == 1 and len(ledger.invoices) == 3


def test_a_deleted_invoice_that_was_never_synced_needs_nothing(fake_world, run_jobs):
    installation, platform, ledger = fake_world
    sync(installation, run_jobs, "404")
    assert db.session.scalars(select(WorkItem.flow)).all() == ["invoice_to_ledger"]
    assert records("404")[-1].state == "skipped" and ledger.writes == []


def test_no_ledger_connected_tells_the_user_to_connect(app_ctx, fake_world, run_jobs):
    installation, platform, ledger = fake_world
    for connection in installation.ledger_connections:
        connection.active = False
    db.session.commit()
    platform.invoices["7"] = sample_invoice()
    sync(installation, run_jobs)
    assert "connect" in records()[-1].error_fix.lower()


def test_waiting_invoices_are_written_up_to_fifty_per_call(fake_world, run_jobs):
    """49 a call: within Xero's 50, and whole Bitrix24 batches for the reads (BATCH)."""
    installation, platform, ledger = fake_world
    for n in range(120):
        platform.invoices[str(n)] = sample_invoice(str(n))
        request_work(WorkRequest(installation.id, "invoice_to_ledger", f"invoice:{n}"))
    db.session.commit()
    run_jobs()
    assert len(ledger.invoices) == 120
    assert ledger.batches == [49, 49, 22]
    assert db.session.scalar(select(func.count()).select_from(Link).where(Link.kind == "invoice")) == 120


def test_one_refused_invoice_in_a_batch_fails_alone_with_the_ledgers_words(fake_world, run_jobs):
    installation, platform, ledger = fake_world
    for n in ("1", "2", "3"):
        platform.invoices[n] = sample_invoice(n)
        request_work(WorkRequest(installation.id, "invoice_to_ledger", f"invoice:{n}"))
    ledger.refuse["fake:invoice:2"] = "Invoice # must be unique."
    db.session.commit()
    run_jobs()
    assert ledger.batches == [3] and len(ledger.invoices) == 2
    failed = records("2")[-1]
    assert failed.state == "failed" and failed.ledger_messages == ["Invoice # must be unique."]
    assert records("1")[-1].state == records("3")[-1].state == "succeeded"


def test_a_ledger_invoice_with_our_number_that_we_did_not_create_is_never_taken_over(fake_world, run_jobs):
    installation, platform, ledger = fake_world
    from bridge.settings import save_section
    from bridge.domain import InvoiceStatus as Status
    save_section(installation, "invoices", {"numbering": "platform"})
    db.session.commit()
    ledger.invoices["X9"] = {"doc": {"Reference": "typed in by hand", "InvoiceNumber": "B24-7", "Lines": []},
                             "status": Status.DRAFT, "number": "B24-7", "invoice": None}
    original = dict(ledger.invoices["X9"])
    ledger.find_invoice = lambda invoice, lookup=None: ledger._document("X9")  # found by its number
    platform.invoices["7"] = sample_invoice()
    sync(installation, run_jobs)
    record = records()[-1]
    assert record.state == "conflict" and "did not create" in record.error_message
    assert ledger.invoices["X9"] == original and [w for w in ledger.writes if w.startswith("invoice")] == []


# -- link conflicts: a person imported as part of a company, invoiced alone (issue 16) ----

import pytest  # noqa: E402
from dataclasses import replace  # noqa: E402

from bridge.domain import Party, PartyKind, Person  # noqa: E402
from bridge.models import LedgerConnection  # noqa: E402
from bridge.sync import registry  # noqa: E402
from bridge.sync.links import bind, bind_person  # noqa: E402
from bridge.ports import PartyMatch  # noqa: E402
from tests.sync.fakes import FakeLedger, fake_connector  # noqa: E402

BRUCE = Party(key="fake:CT:5", kind=PartyKind.PERSON, name="Bruce Wayne", first_name="Bruce", last_name="Wayne",
              email="bruce@wayne.example")


class EmailLedger(FakeLedger):
    """The fake with Xero's e-mail rule: a customer without a contact of its own takes the
    contact with its e-mail, unless the flow's claims give that contact to someone else.
    ``meanwhile`` runs after the match (another worker acting at that moment)."""

    meanwhile = None

    def match_party(self, party, linked_ledger_id, claims=None):
        found = super().match_party(party, linked_ledger_id)
        if found.ledger_id is None and party.email:
            for ledger_id, stored in self.parties.items():
                if stored.get("email") == party.email and not (claims and claims.taken(party.key, ledger_id)):
                    found = PartyMatch(ledger_id, party.name, "email")
                    break
        if self.meanwhile:
            self.meanwhile, meanwhile = None, self.meanwhile
            meanwhile()
        return found

    def save_party(self, party, match, idempotency_key):
        result = super().save_party(party, match, idempotency_key)
        self.parties[result.ledger_id]["email"] = party.email
        return result


class BulkEmailLedger(EmailLedger):
    """The same rules through a ledger with batch forms of its own (match_parties, save_parties)."""

    def match_parties(self, items, claims=None):
        if claims is not None:
            claims.load(list(self.parties))
        return [self.match_party(party, linked, claims) for party, linked in items]

    def save_parties(self, items):
        return [self.save_party(*item) for item in items]

    def find_invoices(self, invoices, lookups=None):
        return [self.find_invoice(i, (lookups or {}).get(i.key)) if lookups else self.find_invoice(i)
                for i in invoices]


def person_of_an_imported_company(fake_world, ledger_class):
    """Xero's "Wayne Enterprises" imported as company CO:9 with its primary person Bruce
    (CT:5, the same e-mail), as the import links them; Bruce invoiced alone."""
    installation, platform, _ = fake_world
    ledger = ledger_class()
    registry.install(fake_connector("fakeledger", "ledger", ledger))
    ledger.parties["C-wayne"] = {"key": None, "name": "Wayne Enterprises", "email": BRUCE.email}
    connection = db.session.scalar(select(LedgerConnection))
    bind(installation.id, connection, "party", "fake:CO:9", ledger_id="C-wayne", ledger_number="Wayne Enterprises")
    bind_person(installation.id, connection, BRUCE.key, "C-wayne", Person("Bruce", "Wayne", BRUCE.email))
    db.session.commit()
    platform.invoices["7"] = replace(sample_invoice(), party=BRUCE)
    return installation, platform, ledger


PATHS = pytest.mark.parametrize("ledger_class", [EmailLedger, BulkEmailLedger], ids=["single", "bulk"])


@PATHS
def test_a_person_of_a_company_invoiced_alone_gets_a_contact_of_its_own_and_renames_nobody(fake_world, run_jobs,
                                                                                          ledger_class):
    installation, platform, ledger = person_of_an_imported_company(fake_world, ledger_class)
    sync(installation, run_jobs)
    assert records()[-1].state == "succeeded", records()[-1].error_message
    assert ledger.parties["C-wayne"] == {"key": None, "name": "Wayne Enterprises", "email": BRUCE.email}
    (own,) = [i for i, p in ledger.parties.items() if p["key"] == BRUCE.key]
    assert ledger.parties[own]["name"] == "Bruce Wayne" and own != "C-wayne"
    assert next(iter(ledger.invoices.values()))["doc"]["Contact"] == own
    links = {(link.kind, link.platform_id): link.ledger_id for link in db.session.scalars(select(Link))}
    assert links[("party", BRUCE.key)] == own and links[("party", "fake:CO:9")] == "C-wayne"
    assert links[("party_person", BRUCE.key)].startswith("C-wayne#person:")  # still a person of the company


@PATHS
def test_a_contact_another_worker_links_meanwhile_is_a_retry_then_a_contact_of_its_own(fake_world, run_jobs,
                                                                                      ledger_class):
    """Between the match and the write, another worker links the matched contact to another
    customer: nothing is written to it, the record says so in words, and the retry makes
    the customer's own contact."""
    installation, platform, ledger = fake_world
    ledger = ledger_class()
    registry.install(fake_connector("fakeledger", "ledger", ledger))
    ledger.parties["C-shared"] = {"key": None, "name": "Shared Inbox", "email": BRUCE.email}

    def other_worker():
        with db.engine.begin() as other:
            other.execute(Link.__table__.insert().values(
                installation_id=installation.id, kind="party", platform_id="fake:CO:9", ledger="fakeledger",
                ledger_org="org-1", ledger_id="C-shared", extra={}))

    ledger.meanwhile = other_worker
    platform.invoices["7"] = replace(sample_invoice(), party=BRUCE)
    sync(installation, run_jobs)
    record = records()[-1]
    assert record.state == "retrying" and "tried again" in record.error_message
    assert not [word for word in ("IntegrityError", "UNIQUE", "INSERT", "SQL") if word in record.error_message]
    assert ledger.parties["C-shared"]["name"] == "Shared Inbox" and ledger.invoices == {}
    item = db.session.scalar(select(WorkItem))
    item.state = "queued"
    db.session.commit()
    from bridge.engine import run_work
    run_work(item.id)
    run_jobs()
    assert records()[-1].state == "succeeded"
    assert ledger.parties["C-shared"]["name"] == "Shared Inbox"
    (own,) = [i for i, p in ledger.parties.items() if p["key"] == BRUCE.key]
    assert next(iter(ledger.invoices.values()))["doc"]["Contact"] == own


def test_an_unexpected_error_shows_plain_words_and_an_error_id_never_its_sql(fake_world, run_jobs, caplog):
    from sqlalchemy.exc import IntegrityError

    installation, platform, ledger = fake_world
    platform.invoices["7"] = sample_invoice()

    def broken(writes):
        raise IntegrityError("INSERT INTO links (ledger_id) VALUES (?)", ("contact-1",),
                             Exception("UNIQUE constraint failed: links.ledger_id"))

    ledger.save_invoices = broken
    sync(installation, run_jobs)
    record = records()[-1]
    shown = f"{record.error_message} {record.error_fix}"
    assert record.state == "retrying" and "error id" in shown
    assert not [word for word in ("IntegrityError", "UNIQUE", "INSERT", "SQL", "Traceback") if word in shown]
    error_id = shown.split("error id ")[1].split(")")[0]
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged and "UNIQUE constraint failed" in logged[0].getMessage() and logged[0].exc_info


@PATHS
def test_two_installations_sharing_one_ledger_organisation_each_link_the_same_contact(fake_world, run_jobs,
                                                                                     ledger_class):
    """Two portals booking into one organisation: the first linked the contact (an import),
    the second's customer with the same e-mail takes the same contact. Each installation
    has its own link to it; neither is a conflict or an error."""
    from bridge.models import Installation
    from bridge.settings import save_section

    installation, platform, _ = fake_world
    ledger = ledger_class()
    registry.install(fake_connector("fakeledger", "ledger", ledger))
    ledger.parties["C-wayne"] = {"key": None, "name": "Wayne Enterprises", "email": BRUCE.email}
    bind(installation.id, db.session.scalar(select(LedgerConnection)), "party", "fake:CO:9", ledger_id="C-wayne")
    other = Installation(platform="fakeplatform", account_id="acct-2")
    db.session.add(other)
    db.session.flush()
    db.session.add(LedgerConnection(installation_id=other.id, ledger="fakeledger", organisation_id="org-1"))
    save_section(other, "mapping", {"tax_rates": {"15.0": "OUTPUT2"}})
    db.session.commit()
    wayne = Party(key="fake2:CO:4", kind=PartyKind.COMPANY, name="Wayne Enterprises", email=BRUCE.email)
    platform.invoices["8"] = replace(sample_invoice("8"), party=wayne)
    sync(other, run_jobs, "8")
    assert records("8")[-1].state == "succeeded", records("8")[-1].error_message
    links = {(link.installation_id, link.platform_id): link.ledger_id
             for link in db.session.scalars(select(Link).where(Link.kind == "party"))}
    assert links == {(installation.id, "fake:CO:9"): "C-wayne", (other.id, "fake2:CO:4"): "C-wayne"}
    assert next(iter(ledger.invoices.values()))["doc"]["Contact"] == "C-wayne"


def test_a_racing_customer_link_retries_its_invoices_and_the_batchs_others_go_on(fake_world, run_jobs,
                                                                                 monkeypatch):
    """Another worker writes a customer's link at the moment this batch binds it: the binds
    of that round are rolled back, so each of its invoices is tried again (nothing half
    linked), and the batch's invoice of a customer already in the ledger is written."""
    from bridge.sync import party_to_ledger
    from bridge.sync.links import LinkRace

    installation, platform, ledger = fake_world
    platform.invoices["9"] = sample_invoice("9")  # Globex: in the ledger after this first run
    sync(installation, run_jobs, "9")
    ada = Party(key="fake:CO:4", kind=PartyKind.COMPANY, name="Ada Ltd", email="ap@ada.example")
    racing = Party(key="fake:CO:5", kind=PartyKind.COMPANY, name="Racing Ltd", email="ap@racing.example")
    platform.invoices["7"] = replace(sample_invoice("7"), party=ada)
    platform.invoices["8"] = replace(sample_invoice("8"), party=racing)
    platform.invoices["9"] = sample_invoice("9", qty="5")
    real_bind = party_to_ledger.bind_party

    def bind_meets_another_worker(installation, connection, party, plan, ledger_id, version=None):
        if party.key == racing.key:
            db.session.rollback()  # as ``links.bind`` leaves it after the unique violation
            raise LinkRace("Another sync linked the same record at the same moment.", retry_after=1)
        return real_bind(installation, connection, party, plan, ledger_id, version)

    monkeypatch.setattr(party_to_ledger, "bind_party", bind_meets_another_worker)
    for platform_id in ("7", "8", "9"):
        request_work(WorkRequest(installation.id, "invoice_to_ledger", f"invoice:{platform_id}"))
    db.session.commit()
    run_jobs()
    assert records("9")[-1].state == "succeeded"
    assert next(iter(ledger.invoices.values()))["doc"]["Lines"][0]["q"] == Decimal("5")
    assert [records(pid)[-1].state for pid in ("7", "8")] == ["retrying", "retrying"]
    assert len(ledger.invoices) == 1  # neither new invoice was sent
    party_links = {link.platform_id: link.ledger_id for link in db.session.scalars(
        select(Link).where(Link.kind == "party"))}
    assert party_links.get(ada.key) is None and party_links.get(racing.key) is None  # nothing half linked
