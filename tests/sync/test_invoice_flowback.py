"""Ledger-side invoice edits: applied where the ledger is master, a conflict where it is not."""
from __future__ import annotations

from datetime import date

from bridge.domain import InvoiceStatus
from bridge.extensions import db
from bridge.engine import WorkRequest, request_work
from tests.sync.fakes import sample_invoice
from tests.sync.test_invoice_to_ledger import records, sync


def ledger_changed(installation, ledger_id, run_jobs):
    request_work(WorkRequest(installation.id, "ledger_invoice_changed", f"ledger_invoice:{ledger_id}"))
    db.session.commit()
    run_jobs()


def setup(fake_world, run_jobs):
    installation, platform, ledger = fake_world
    platform.invoices["7"] = sample_invoice()
    sync(installation, run_jobs)
    return installation, platform, ledger, next(iter(ledger.invoices))


def test_our_own_write_coming_back_does_nothing(fake_world, run_jobs):
    installation, platform, ledger, ledger_id = setup(fake_world, run_jobs)
    ledger_changed(installation, ledger_id, run_jobs)
    assert platform.applied == [] and "own change" in records()[-1].warning


def test_an_edit_of_an_approved_invoice_in_the_ledger_flows_back_and_is_not_echoed(fake_world, run_jobs):
    installation, platform, ledger, ledger_id = setup(fake_world, run_jobs)
    ledger.user_sets(InvoiceStatus.AUTHORISED)
    ledger.user_edits(due_date=date(2026, 12, 31))
    ledger_changed(installation, ledger_id, run_jobs)
    assert platform.applied == [["header"]]
    assert platform.invoices["7"].due_date == date(2026, 12, 31)
    assert platform.statuses["7"] == InvoiceStatus.AUTHORISED
    writes_before = list(ledger.writes)
    sync(installation, run_jobs)  # the platform's update event for what we just applied
    assert ledger.writes == writes_before and records()[-1].state == "skipped"


def test_a_ledger_edit_of_a_draft_is_a_conflict_not_a_silent_overwrite(fake_world, run_jobs):
    installation, platform, ledger, ledger_id = setup(fake_world, run_jobs)
    ledger.user_edits(due_date=date(2027, 1, 31))
    ledger_changed(installation, ledger_id, run_jobs)
    record = records()[-1]
    assert record.state == "conflict" and "header" in record.error_message
    assert record.received["theirs"]["header"]["due_date"] == "2027-01-31"
    assert platform.applied == []


def test_a_ledger_that_gives_tax_codes_not_rates_has_not_edited_the_lines(installation):
    from dataclasses import replace

    from bridge.settings import save_section
    from bridge.sync.invoice_flowback import changed_groups, with_platform_rates

    save_section(installation, "mapping", {"tax_rates": {"15": "OUTPUT2"}})
    ours = sample_invoice()
    theirs = replace(ours, lines=[replace(line, tax_rate=None, ledger_tax_code="OUTPUT2") for line in ours.lines])
    assert changed_groups(ours, with_platform_rates(installation, theirs)) == set()
    unknown = replace(ours, lines=[replace(line, tax_rate=None, ledger_tax_code="EXEMPT") for line in ours.lines])
    assert changed_groups(ours, with_platform_rates(installation, unknown)) == {"lines"}


def test_an_unsent_platform_edit_is_never_undone_by_the_ledgers_version(fake_world, run_jobs):
    installation, platform, ledger, ledger_id = setup(fake_world, run_jobs)
    ledger.user_sets(InvoiceStatus.AUTHORISED)
    ledger.user_edits(due_date=date(2026, 12, 31))
    platform.invoices["7"] = sample_invoice(qty="9")  # edited before the ledger's webhook arrives
    ledger_changed(installation, ledger_id, run_jobs)
    assert platform.applied == [] and platform.invoices["7"].lines[0].quantity == 9
    sync(installation, run_jobs)  # the edit's own event: the ledger no longer accepts it
    assert records()[-1].state == "conflict"
