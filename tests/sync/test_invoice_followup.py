"""After create: issue, book the shop's payment, e-mail it; each step once, resumable."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from bridge.domain import Payment
from bridge.extensions import db
from bridge.engine import run_work
from bridge.models import WorkItem
from bridge.settings import save_section
from tests.sync.fakes import sample_invoice
from tests.sync.test_invoice_to_ledger import records, sync


def paid_order():
    invoice = sample_invoice()
    invoice.payments = [Payment(amount=Decimal("276.00"), paid_on=date(2026, 11, 2), currency="NZD")]
    return invoice


def test_issue_pay_and_email_after_create_when_enabled(fake_world, run_jobs):
    installation, platform, ledger = fake_world
    save_section(installation, "invoices", {"create_payment": True, "send_by_email": True})
    db.session.commit()
    platform.invoices["7"] = paid_order()
    sync(installation, run_jobs)
    assert [w.split(":")[0] for w in ledger.writes] == ["party", "invoice", "issue", "payment", "email"]
    assert records()[-1].state == "succeeded"


def test_drafts_stay_drafts_by_default(fake_world, run_jobs):
    installation, platform, ledger = fake_world
    platform.invoices["7"] = paid_order()
    sync(installation, run_jobs)
    assert [w.split(":")[0] for w in ledger.writes] == ["party", "invoice"]


def test_a_failed_payment_resumes_without_issuing_or_creating_again(fake_world, run_jobs):
    installation, platform, ledger = fake_world
    save_section(installation, "invoices", {"create_payment": True, "send_by_email": True})
    db.session.commit()
    platform.invoices["7"] = paid_order()
    ledger.fail_payments = 1
    sync(installation, run_jobs)
    assert records()[-1].state == "retrying"
    item = db.session.scalar(select(WorkItem))
    item.state = "queued"
    db.session.commit()
    run_work(item.id)
    run_jobs()
    kinds = [w.split(":")[0] for w in ledger.writes]
    assert kinds == ["party", "invoice", "issue", "payment", "email"]
