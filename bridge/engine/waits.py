"""Why a work item waits: how much goes before it in its installation, which work that is,
since when, and about how long at the rate its installation's work has been going lately.

The pages say this instead of "Waiting to sync." (``web/bitrix24/invoice_state.py``, the
sync log's Retry). The estimate is the measured recent rate, never a guess: with too little
recent work to measure, ``seconds`` is None and the pages say nothing about time.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, tuple_

from ..extensions import db
from ..models import WorkItem
from .claim import ready
from .context import now

# The window the rate is measured over, and how many runs it needs before it says anything.
RATE_WINDOW = timedelta(minutes=10)
RATE_MIN_RUNS = 5


@dataclass(frozen=True)
class Wait:
    ahead: int  # items of its installation that go before it (running ones included)
    queued_ahead: int  # of which not started yet
    flow: str | None  # the flow most of them belong to
    since: datetime | None  # when the first of those was queued or started
    seconds: float | None  # about how long, from the recent rate; None when not measured


def why_waiting(item: WorkItem) -> Wait:
    """What goes before ``item`` (queued) in its installation: what runs now, then what is
    ready and comes first by class (a user's work before bulk) and age (``claim.pick``)."""
    t = now()
    before = or_(WorkItem.priority < item.priority,
                 and_(WorkItem.priority == item.priority,
                      tuple_(WorkItem.updated_at, WorkItem.id) < tuple_(item.updated_at, item.id)))
    rows = db.session.execute(
        select(WorkItem.flow, WorkItem.state, func.count(), func.min(func.coalesce(WorkItem.last_run_at,
                                                                                 WorkItem.updated_at)))
        .where(WorkItem.installation_id == item.installation_id, WorkItem.id != item.id,
               (WorkItem.state == "running") | (ready(t) & before))
        .group_by(WorkItem.flow, WorkItem.state)).all()
    per_flow: dict[str, int] = {}
    for flow, _, count, _ in rows:
        per_flow[flow] = per_flow.get(flow, 0) + count
    ahead = sum(per_flow.values())
    queued_ahead = sum(count for _, state, count, _ in rows if state != "running")
    starts = [start for *_, start in rows if start is not None]
    main_flow = max(per_flow, key=lambda f: per_flow[f]) if per_flow else None
    rate = recent_rate(item.installation_id, t)
    seconds = ahead / rate if rate and ahead else None
    return Wait(ahead, queued_ahead, main_flow, min(starts) if starts else None, seconds)


def recent_rate(installation_id: int, t: datetime) -> float | None:
    """Items per second the installation's work settled at over the last RATE_WINDOW (runs
    started then and since finished), or None when there were too few to measure."""
    count, first = db.session.execute(
        select(func.count(), func.min(WorkItem.last_run_at)).where(
            WorkItem.installation_id == installation_id, WorkItem.state == "idle",
            WorkItem.last_run_at >= t - RATE_WINDOW)).one()
    if count < RATE_MIN_RUNS or first is None:
        return None
    span = (t - first).total_seconds()
    return count / span if span > 0 else None
