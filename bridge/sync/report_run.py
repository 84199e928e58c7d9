"""Flow ``reconciliation_report`` (object ``report:invoices``): the reconciliation report run
and stored, on demand (the report page's Start) and once a day.

Incremental: a run reads what changed since the previous finished run started (links,
platform invoices, ledger invoices: ``reconciliation.scan``), plus the invoices its open
rows name, so a daily run of a quiet installation costs a handful of calls whatever its
history (docs/PERFORMANCE.md, "The reconciliation report"). The first run reads everything.

Each difference is a ``ReportRow`` kept across runs: found again, it stays as it is (an
ignored row stays ignored); not found again among what the run examined, an open row is
``fixed``. The run's counts are committed after every chunk of 50, so the page's progress
moves while it goes.
"""
from __future__ import annotations

from datetime import timedelta

from huey import crontab
from sqlalchemy import select

from ..engine import WorkContext, WorkRequest, flow, period_key, periodic, renew_lease, request_work
from ..errors import SyncError
from ..extensions import db
from ..messages import N_
from ..models import Installation, utcnow
from ..report_models import ReportRow, ReportRun, open_count  # noqa: F401  (the pages' count)
from .daily import DAY, daily_installations, request_daily, skip_reason
from .reconciliation import Scan, scan
from .report_payments import base_id
from .registry import ledger_for, platform_for

FLOW = "reconciliation_report"
OBJECT = "report:invoices"
# Read a little before the previous run's start: a change stamped while it ran is read again.
OVERLAP = timedelta(minutes=2)
ACTIVE = ("queued", "running")


def report_request(installation_id: int, *, manual: bool = False) -> WorkRequest:
    return WorkRequest(installation_id, FLOW, OBJECT, {"manual": True} if manual else {})


def current_run(installation_id: int) -> ReportRun | None:
    """The newest run of the installation (the one the page shows)."""
    return db.session.scalar(select(ReportRun).where(ReportRun.installation_id == installation_id)
                             .order_by(ReportRun.id.desc()).limit(1))


def start(installation_id: int, *, manual: bool = True) -> ReportRun:
    """Queue a run unless one is queued or running (that one is returned): the page shows
    its numbers from the moment Start is pressed. Commits."""
    run = current_run(installation_id)
    if run is None or run.state not in ACTIVE:
        run = ReportRun(installation_id=installation_id, state="queued", manual=manual, requested_at=utcnow())
        db.session.add(run)
    request_work(report_request(installation_id, manual=manual))
    db.session.commit()
    return run


@flow(FLOW, bulk=True)
def run_report(ctx: WorkContext) -> None:
    installation = db.session.get(Installation, ctx.installation_id)
    record = ctx.record(object_kind="report", object_id="invoices", direction="both")
    skipped = skip_reason(installation, ctx.options, "reconciliation_report", N_("The reconciliation report"))
    run = current_run(installation.id)
    if run is None or run.state not in ACTIVE:  # the daily run: nobody pressed Start
        run = ReportRun(installation_id=installation.id, manual=bool(ctx.options.get("manual")))
        db.session.add(run)
    if skipped:
        run.state, run.finished_at, run.error = "finished", utcnow(), skipped
        record.state, record.warning, record.finished_at = "skipped", skipped, utcnow()
        db.session.commit()
        return
    previous = db.session.scalar(select(ReportRun).where(
        ReportRun.installation_id == installation.id, ReportRun.state == "finished", ReportRun.error.is_(None),
        ReportRun.started_at.is_not(None)).order_by(ReportRun.id.desc()).limit(1))
    run.since = previous.started_at - OVERLAP if previous is not None else None
    run.state, run.started_at, run.checked, run.found, run.fixed = "running", utcnow(), 0, 0, 0
    opened = db.session.scalars(select(ReportRow).where(ReportRow.installation_id == installation.id,
                                                        ReportRow.state == "open")).all()
    recheck_platform = {row.platform_id for row in opened if row.platform_id}
    recheck_ledger = {base_id(row.ledger_id) for row in opened if row.ledger_id}  # a payment row: its invoice
    db.session.commit()

    def progress(found: Scan) -> None:
        run.checked, run.found = found.checked, len(found.differences)
        renew_lease(ctx)
        db.session.commit()

    try:
        ledger, _ = ledger_for(installation)
        found = scan(installation, platform_for(installation), ledger, run.since, recheck_platform=recheck_platform,
                     recheck_ledger=recheck_ledger, progress=progress)
    except SyncError as exc:
        db.session.rollback()
        run.state, run.error, run.finished_at = "failed", exc.message, utcnow()
        db.session.commit()
        raise
    run.fixed = store(installation.id, found)
    run.checked, run.found = found.checked, len(found.differences)
    run.state, run.finished_at = "finished", utcnow()
    record.state, record.finished_at = "succeeded", utcnow()
    record.received = {"checked": run.checked, "found": run.found, "fixed": run.fixed}
    db.session.commit()


def store(installation_id: int, found: Scan) -> int:
    """Keep the scan's differences as rows; open rows among what it examined that it did
    not find again are fixed. Returns how many were fixed."""
    now = utcnow()
    rows = {(r.kind, r.platform_id, r.ledger_id): r for r in db.session.scalars(
        select(ReportRow).where(ReportRow.installation_id == installation_id)).all()}
    seen = set()
    for difference in found.differences:
        seen.add(difference.key)
        row = rows.get(difference.key)
        if row is None:
            row = ReportRow(installation_id=installation_id, kind=difference.kind, platform_id=difference.platform_id,
                            ledger_id=difference.ledger_id, first_seen_at=now)
            db.session.add(row)
            rows[difference.key] = row
        elif row.state == "fixed":
            row.state, row.resolved_at = "open", None  # back again
        row.ledger_number, row.issued, row.what = difference.ledger_number, difference.issued, difference.what
        row.actions, row.last_seen_at = list(difference.actions), now
    fixed = 0
    for key, row in rows.items():
        if row.state != "open" or key in seen:
            continue
        if (row.platform_id and row.platform_id in found.platform_ids) or \
                (row.ledger_id and row.ledger_id in found.ledger_ids):
            row.state, row.resolved_at = "fixed", now
            fixed += 1
    return fixed


def request_daily_reports(day: str | None = None) -> int:
    return request_daily("daily_reconciliation_report", day or period_key(DAY),
                         daily_installations("reconciliation_report"), report_request)


# Once per day per installation, hourly from 03:50 UTC so that a crash halfway resumes the same day.
@periodic(crontab(hour="3-23", minute="50"), DAY, name="daily_reconciliation_report", per_item=True)
def daily_reconciliation_report(day: str) -> int:
    return request_daily_reports(day)
