from sqlalchemy import select

from bridge.extensions import db
from bridge.engine import WorkRequest, request_work
from bridge.models import Cursor
from bridge.sync.preview import preview_invoice
from tests.sync.fakes import sample_invoice


def test_preview_shows_the_exact_document_and_sends_nothing(fake_world):
    installation, platform, ledger = fake_world
    platform.invoices["7"] = sample_invoice()
    preview = preview_invoice(installation, "7")
    assert preview.document["Lines"][0]["t"] == "OUTPUT2" and preview.document["Lines"][0]["p"] == "120.00"
    assert preview.contact["new"] is True and preview.problems == []
    assert ledger.writes == []


def test_preview_lists_what_would_fail(fake_world):
    installation, platform, ledger = fake_world
    platform.invoices["7"] = sample_invoice(rate="7.7")
    preview = preview_invoice(installation, "7")
    assert preview.document is None
    assert "7.7 %" in preview.problems[0]["message"] and "Tax mapping" in preview.problems[0]["fix"]


def test_backfill_syncs_every_existing_invoice_once(fake_world, run_jobs):
    installation, platform, ledger = fake_world
    for n in range(60):
        platform.invoices[str(n)] = sample_invoice(str(n))
    request_work(WorkRequest(installation.id, "invoice_backfill", "backfill:invoices",
                             {"since": "2026-01-01T00:00:00+00:00"}))
    db.session.commit()
    run_jobs()
    assert len(ledger.invoices) == 60 and ledger.batches == [49, 11]
    progress = db.session.scalar(select(Cursor.value).where(Cursor.name == "invoice_backfill"))
    assert progress["found"] == 60 and progress["running"] is False


def test_a_backfill_queues_a_task_per_batch_not_per_invoice(fake_world, run_jobs):
    """200 invoices in the portal: the backfill asks for a page's invoices together, so the
    queue gets a task for each batch's worth (two a page of 50), not 200 that would find their
    invoice taken by a batch already; each invoice still reaches the ledger once."""
    from tests.support.tasks import counting_task_runs

    installation, platform, ledger = fake_world
    for n in range(200):
        platform.invoices[str(n)] = sample_invoice(str(n))
    request_work(WorkRequest(installation.id, "invoice_backfill", "backfill:invoices",
                             {"since": "2026-01-01T00:00:00+00:00"}))
    db.session.commit()
    with counting_task_runs() as counts:
        run_jobs()
    assert len(ledger.invoices) == 200 and sum(ledger.batches) == 200
    assert counts["run_work"] <= 1 + 2 * 4  # the backfill's own, then two per page of 50
