"""Flow ``status_from_ledger``: once a day, the ledger's "paid" reaches the platform
(Bexio -> DG1 COMPLETED), for the pairs that follow status daily (``polling.follows_status_daily``).

Object key ``status:all``: the daily job and the orders page's "Sync status now" (a run by
hand ignores the daily switch; the integration's own switch still counts).

The run asks the ledger for invoices changed since its cursor and queues
``ledger_invoice_changed`` for each one that is linked, i.e. only orders sent to the
ledger, and whose version or status moved; that flow moves the order and records it. The
cursor is saved at the end of the run, so a crash repeats at most one window, and repeated
requests coalesce in the work items. The Bitrix24 <-> Xero status flow (webhooks plus the
five-minute poll) is not touched by this.
"""
from __future__ import annotations

from huey import crontab

from ..extensions import db
from ..engine import WorkContext, WorkRequest, flow, period_key, periodic
from ..models import Installation, utcnow
from ..messages import N_
from .daily import DAY, daily_installations, request_daily, skip_reason
from .polling import follows_status_daily, poll_connection

FLOW = "status_from_ledger"
ALL = "status:all"


def status_request(installation_id: int, *, manual: bool = False) -> WorkRequest:
    return WorkRequest(installation_id, FLOW, ALL, {"manual": True} if manual else {})


@flow(FLOW)
def pull_statuses(ctx: WorkContext) -> None:
    installation = db.session.get(Installation, ctx.installation_id)
    record = ctx.record(object_kind="status", object_id="all", direction="to_platform")
    skipped = skip_reason(installation, ctx.options, "sync_status", N_("Status sync"))
    if skipped:
        record.state, record.warning = "skipped", skipped
    else:
        changed = poll_connection(installation)
        record.received = {"changed": changed}
        record.state = "succeeded"
    record.finished_at = utcnow()
    db.session.commit()


def request_daily_status(day: str | None = None) -> int:
    return request_daily("daily_status", day or period_key(DAY),
                         daily_installations("sync_status", follows_status_daily), status_request)


# Once per day per installation (claimed per installation); hourly after 04:10 UTC so that
# a crash halfway resumes the same day.
@periodic(crontab(hour="4-23", minute="10"), DAY, name="daily_status", per_item=True)
def daily_status(day: str) -> int:
    return request_daily_status(day)
