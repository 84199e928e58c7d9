"""The invoice export flow against in-memory adapters: identity, no duplicates, clear errors."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from bridge import faults
from bridge.domain import InvoiceStatus
from bridge.extensions import db
from bridge.jobs import WorkRequest, request_work
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
    from bridge.jobs import run_work
    run_work(item.id)
    run_jobs()
    assert len(ledger.invoices) == 1
    assert db.session.scalar(select(Link.ledger_id).where(Link.kind == "invoice")) in ledger.invoices
    # The first attempt had nothing to look for; the retry looks from its intent record on.
    assert [lookup.since is not None for lookup in ledger.lookups] == [False, True]


def test_a_lost_response_is_retried_with_a_new_key_and_binds_the_invoice_it_made(fake_world, run_jobs):
    installation, platform, ledger = fake_world
    platform.invoices["7"] = sample_invoice()
    ledger.lose_next_response = True
    sync(installation, run_jobs)
    assert records()[-1].state == "retrying"
    item = db.session.scalar(select(WorkItem))
    item.state = "queued"
    db.session.commit()
    from bridge.jobs import run_work
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
