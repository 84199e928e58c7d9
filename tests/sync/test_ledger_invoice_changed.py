"""Ledger status flows back to the platform; platform cancellations reach the ledger safely."""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from sqlalchemy import select

from bridge.domain import InvoiceStatus
from bridge.extensions import db
from bridge.engine import WorkRequest, request_work
from bridge.models import SyncRecord
from bridge.settings import save_section
from bridge.sync.polling import poll_all
from tests.sync.fakes import sample_invoice
from tests.sync.test_invoice_to_ledger import records, sync


def synced(fake_world, run_jobs):
    installation, platform, ledger = fake_world
    platform.invoices["7"] = sample_invoice()
    sync(installation, run_jobs)
    return installation, platform, ledger, next(iter(ledger.invoices))


def test_paid_in_the_ledger_moves_the_platform_invoice_to_paid(fake_world, run_jobs):
    installation, platform, ledger, ledger_id = synced(fake_world, run_jobs)
    ledger.user_sets(InvoiceStatus.AUTHORISED)
    request_work(WorkRequest(installation.id, "ledger_invoice_changed", f"ledger_invoice:{ledger_id}"))
    db.session.commit()
    run_jobs()
    assert platform.statuses["7"] == InvoiceStatus.AUTHORISED
    ledger.user_sets(InvoiceStatus.PAID, Decimal("276.00"))
    request_work(WorkRequest(installation.id, "ledger_invoice_changed", f"ledger_invoice:{ledger_id}"))
    db.session.commit()
    run_jobs()
    assert platform.statuses["7"] == InvoiceStatus.PAID


def test_a_cancellation_bridge_has_not_read_yet_is_not_overwritten_but_sent_to_the_ledger(fake_world, run_jobs):
    installation, platform, ledger, ledger_id = synced(fake_world, run_jobs)
    ledger.user_sets(InvoiceStatus.PAID, Decimal("276.00"))
    platform.invoices["7"] = replace(platform.invoices["7"], status=InvoiceStatus.VOIDED)  # its event on its way
    request_work(WorkRequest(installation.id, "ledger_invoice_changed", f"ledger_invoice:{ledger_id}"))
    db.session.commit()
    run_jobs()
    assert "7" not in platform.statuses  # still cancelled
    followed = [r for r in records() if r.flow == "ledger_invoice_changed"][-1]
    assert followed.state == "skipped" and "the cancellation is sent" in followed.warning
    (cancel,) = [r for r in records() if r.flow == "invoice_cancel"]  # paid in the ledger: a person credits it there
    assert cancel.state == "conflict" and "has payments on it" in cancel.error_message
    ledger.user_sets(InvoiceStatus.PAID, Decimal("276.00"))  # the next poll of that version: not followed either
    poll_all()
    run_jobs()
    assert "7" not in platform.statuses


def test_the_poll_catches_a_change_whose_webhook_was_lost(fake_world, run_jobs):
    installation, platform, ledger, _ = synced(fake_world, run_jobs)
    ledger.user_sets(InvoiceStatus.PAID, Decimal("276.00"))
    assert poll_all()["requested"] == 1
    run_jobs()
    assert platform.statuses["7"] == InvoiceStatus.PAID
    assert poll_all()["requested"] == 0  # nothing new: the version is known now


def test_an_unknown_ledger_invoice_is_ignored(fake_world, run_jobs):
    installation, platform, ledger, _ = synced(fake_world, run_jobs)
    request_work(WorkRequest(installation.id, "ledger_invoice_changed", "ledger_invoice:not-ours"))
    db.session.commit()
    run_jobs()
    assert platform.statuses == {}


def test_deleting_a_synced_draft_deletes_it_in_the_ledger(fake_world, run_jobs):
    installation, platform, ledger, ledger_id = synced(fake_world, run_jobs)
    del platform.invoices["7"]
    sync(installation, run_jobs)
    assert ledger.invoices[ledger_id]["status"] == InvoiceStatus.DELETED


def test_an_approved_invoice_is_flagged_not_voided_unless_allowed(fake_world, run_jobs):
    installation, platform, ledger, ledger_id = synced(fake_world, run_jobs)
    ledger.user_sets(InvoiceStatus.AUTHORISED)
    del platform.invoices["7"]
    sync(installation, run_jobs)
    assert ledger.invoices[ledger_id]["status"] == InvoiceStatus.AUTHORISED
    assert records()[-1].state == "conflict" and "Settings" in records()[-1].error_fix
    save_section(installation, "invoices", {"void_authorised_on_cancel": True})
    db.session.commit()
    sync(installation, run_jobs)
    assert ledger.invoices[ledger_id]["status"] == InvoiceStatus.VOIDED


def test_a_paid_invoice_is_never_touched(fake_world, run_jobs):
    installation, platform, ledger, ledger_id = synced(fake_world, run_jobs)
    ledger.user_sets(InvoiceStatus.PAID, Decimal("276.00"))
    save_section(installation, "invoices", {"void_authorised_on_cancel": True})
    del platform.invoices["7"]
    sync(installation, run_jobs)
    assert ledger.invoices[ledger_id]["status"] == InvoiceStatus.PAID
    assert db.session.scalars(select(SyncRecord.state).order_by(SyncRecord.id.desc())).first() == "conflict"


# -- "sent": what moves the platform invoice to its sent stage (setting ``sent_when``) -------

def _changed(installation, ledger_id, run_jobs):
    request_work(WorkRequest(installation.id, "ledger_invoice_changed", f"ledger_invoice:{ledger_id}"))
    db.session.commit()
    run_jobs()


def test_approved_but_not_sent_leaves_the_stage_until_the_ledger_marks_it_sent(fake_world, run_jobs):
    installation, platform, ledger, ledger_id = synced(fake_world, run_jobs)
    ledger.user_sets(InvoiceStatus.AUTHORISED, sent=False)
    _changed(installation, ledger_id, run_jobs)
    assert "7" not in platform.statuses  # the seed: "sent" once it has been sent to the client
    ledger.user_marks_sent()
    _changed(installation, ledger_id, run_jobs)
    assert platform.statuses["7"] == InvoiceStatus.AUTHORISED


def test_with_the_approval_setting_approving_moves_it_to_sent(fake_world, run_jobs):
    installation, platform, ledger, ledger_id = synced(fake_world, run_jobs)
    save_section(installation, "invoices", {"sent_when": "approved"})
    db.session.commit()
    ledger.user_sets(InvoiceStatus.AUTHORISED, sent=False)
    _changed(installation, ledger_id, run_jobs)
    assert platform.statuses["7"] == InvoiceStatus.AUTHORISED


def test_a_part_paid_invoice_marked_sent_without_a_new_version_moves_by_the_daily_sweep(fake_world, run_jobs):
    from bridge.sync.invoice_sent_sweep import sweep_request

    installation, platform, ledger, ledger_id = synced(fake_world, run_jobs)
    ledger.user_sets(InvoiceStatus.PARTIALLY_PAID, Decimal("100.00"), sent=False)
    _changed(installation, ledger_id, run_jobs)
    assert "7" not in platform.statuses
    ledger.user_marks_sent(bump_version=False)  # Xero keeps UpdatedDateUTC (NOTES 2), no webhook
    request_work(sweep_request(installation.id))
    db.session.commit()
    run_jobs()
    assert platform.statuses["7"] == InvoiceStatus.PARTIALLY_PAID
    request_work(sweep_request(installation.id, manual=True))  # known as sent now: not read again
    db.session.commit()
    run_jobs()
    sweeps = [r for r in records_of("invoice_sent_sweep") if r.object_kind == "sent"]
    assert sweeps[-1].received == {"read": 0, "followed": 0}


def records_of(flow):
    return db.session.scalars(select(SyncRecord).where(SyncRecord.flow == flow).order_by(SyncRecord.id)).all()
