"""Flow ``invoice_backfill`` (object ``backfill:invoices``): existing platform invoices from a
chosen date, synced within the ledger's budgets.

It only enumerates and requests ``invoice_to_ledger`` work for each invoice; the export
flow batches them 50 per ledger call, and the shared budgets pace the calls (a spent day
budget pauses the organisation until it resets). Progress (how many found) is kept in a
cursor after every page, so the settings page can show it; a crashed backfill lists again.
"""
from __future__ import annotations

from datetime import datetime

from ..extensions import db
from ..engine import WorkContext, WorkRequest, flow, request_work_many
from ..models import Installation, utcnow
from .polling import cursor
from .registry import platform_for

PAGE = 50


@flow("invoice_backfill", bulk=True)
def backfill_invoices(ctx: WorkContext) -> None:
    installation = db.session.get(Installation, ctx.installation_id)
    position = cursor(f"installation:{installation.id}", "invoice_backfill")
    start = ctx.options.get("since") or position.value.get("since")
    since = datetime.fromisoformat(start) if start else None
    # A backfill that stopped (a crash, a restart) lists again from its start date: the
    # platform lists in id order, not by date, so there is no date to go on from. Listing
    # is cheap (one request per 50), and an invoice requested twice is one item of work; an
    # invoice synced already costs no ledger call. The count shown never goes back.
    before = position.value.get("found", 0) if position.value.get("running") else 0
    progress = {"since": start, "found": before, "running": True, "started_at": utcnow().isoformat()}
    record = ctx.record(object_kind="backfill", object_id="invoices", direction="to_ledger")
    position.value = dict(progress)
    db.session.commit()
    listed, page = 0, []
    for listed, (platform_id, _changed_at) in enumerate(platform_for(installation).changed_invoices(since), 1):
        # A page's invoices asked for together: one task per batch's worth, not one per invoice
        # (``engine.work.starters``).
        page.append((WorkRequest(installation.id, "invoice_to_ledger", f"invoice:{platform_id}"), None))
        progress["found"] = max(before, listed)
        if listed % PAGE == 0:
            request_work_many(page)
            page = []
            position.value = dict(progress)
            db.session.commit()
    request_work_many(page)
    progress.update(found=listed, running=False, finished_at=utcnow().isoformat())
    position.value = dict(progress)
    record.state = "succeeded"
    record.received = {"found": progress["found"]}
    record.finished_at = utcnow()
