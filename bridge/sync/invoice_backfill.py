"""Flow ``invoice_backfill`` (object ``backfill:invoices``): existing platform invoices from a
chosen date, synced within the ledger's budgets.

It only enumerates and requests ``invoice_to_ledger`` work for each invoice; the export
flow batches them 50 per ledger call, and the shared budgets pace the calls (a spent day
budget pauses the organisation until it resets). Progress — found, requested, the date it
reached — is kept in a cursor after every page, so the settings page can show it and a
crashed backfill resumes.
"""
from __future__ import annotations

from datetime import datetime

from ..extensions import db
from ..engine import WorkContext, WorkRequest, flow, request_work
from ..models import Installation, utcnow
from .polling import cursor
from .registry import platform_for

PAGE = 50


@flow("invoice_backfill", bulk=True)
def backfill_invoices(ctx: WorkContext) -> None:
    installation = db.session.get(Installation, ctx.installation_id)
    position = cursor(f"installation:{installation.id}", "invoice_backfill")
    start = ctx.options.get("since") or position.value.get("since")
    resume_after = position.value.get("reached") if position.value.get("running") else None
    since = datetime.fromisoformat(resume_after or start) if (resume_after or start) else None
    progress = {"since": start, "found": position.value.get("found", 0) if resume_after else 0,
                "running": True, "started_at": utcnow().isoformat()}
    record = ctx.record(object_kind="backfill", object_id="invoices", direction="to_ledger")
    position.value = dict(progress)
    db.session.commit()
    for n, (platform_id, changed_at) in enumerate(platform_for(installation).changed_invoices(since), 1):
        request_work(WorkRequest(installation.id, "invoice_to_ledger", f"invoice:{platform_id}"))
        progress["found"] += 1
        if changed_at:
            progress["reached"] = changed_at.isoformat()
        if n % PAGE == 0:
            position.value = dict(progress)
            db.session.commit()
    progress.update(running=False, finished_at=utcnow().isoformat())
    position.value = dict(progress)
    record.state = "succeeded"
    record.received = {"found": progress["found"]}
    record.finished_at = utcnow()
