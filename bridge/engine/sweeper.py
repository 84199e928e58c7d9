"""The sweeper: re-enqueues what a dead worker or a lost enqueue left behind (leases make
that safe), stops work that takes its worker down every time, and prunes old rows."""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from huey import crontab
from sqlalchemy import select, update

from ..errors import PermanentError
from ..extensions import db, huey
from ..messages import N_
from ..models import InboxEvent, PeriodicRun, SyncRecord, WorkItem
from ..stored_messages import columns
from . import limits
from .context import app_context, now
from .periodic import periodic
from .registry import notify_failure
from .tasks import enqueue_work, process_inbox
from .work import starters

# What re-enqueueing an item needs to know: its task's line, and its batch's group.
_TASK_OF = (WorkItem.id, WorkItem.priority, WorkItem.installation_id, WorkItem.flow)

log = logging.getLogger(__name__)


def sweep_once() -> dict[str, int]:
    """Re-enqueue what a dead worker or a lost enqueue left behind."""
    t = now()
    counts = {"inbox": 0, "work": 0}
    stale_inbox = db.session.scalars(select(InboxEvent.id).where(
        ((InboxEvent.state == "pending") & (InboxEvent.received_at < t - timedelta(seconds=30))) |
        ((InboxEvent.state == "processing") & (InboxEvent.lease_until < t))).limit(1000)).all()
    for event_id in stale_inbox:
        process_inbox(event_id)
        counts["inbox"] += 1
    # Running items whose lease ran out belonged to a dead worker: their records say it was
    # interrupted. The attempt is not counted: a run that merely outlived its lease (the
    # lease is what tells a dead worker from a slow one) must not edge towards giving up.
    # Interruptions in a row are: any run that settles starts the count again.
    expired = (WorkItem.state == "running") & (WorkItem.lease_until < t)
    stopped = db.session.execute(
        update(WorkItem).where(expired, WorkItem.interruptions >= limits.MAX_INTERRUPTIONS - 1)
        .values(state="idle", lease_until=None, attempts=0, interruptions=0, next_attempt_at=None, updated_at=t)
        .returning(WorkItem.id, WorkItem.installation_id, WorkItem.flow)).all()
    if stopped:
        stop_interrupted_items(stopped, t)
    interrupted = db.session.execute(
        update(WorkItem).where(expired)
        .values(state="queued", lease_until=None, updated_at=t, interruptions=WorkItem.interruptions + 1)
        .returning(*_TASK_OF)).all()
    if interrupted:
        close_interrupted_records([row.id for row in interrupted], t)
    due = db.session.execute(
        update(WorkItem).where(WorkItem.state == "waiting", WorkItem.next_attempt_at <= t)
        .values(state="queued", lease_until=None, updated_at=t)
        .returning(*_TASK_OF)).all()
    lost = db.session.execute(select(*_TASK_OF).where(
        WorkItem.state == "queued", WorkItem.updated_at < t - timedelta(minutes=2))).all()
    db.session.commit()
    found = {row.id: row for row in [*interrupted, *due, *lost]}
    # A task per batch's worth (``work.starters``): a backlog of thousands queued for minutes
    # behind its own run would otherwise put thousands of tasks in the line every minute.
    for item_id in starters(sorted(found), {i: (r.installation_id, r.flow, r.priority) for i, r in found.items()}):
        enqueue_work(item_id, found[item_id].priority)  # in its class's line
        counts["work"] += 1
    return counts


INTERRUPTED_REPEATEDLY_MESSAGE = N_("Stopped after its worker stopped %(times)s times in a row while running it; it "
                                     "is not run again by itself.", times=limits.MAX_INTERRUPTIONS)
INTERRUPTED_REPEATEDLY_FIX = N_("Look in the worker's log for why it stopped (out of memory, a restart loop, a "
                                "timeout of the process supervisor), then press Retry.")
INTERRUPTED_CODE = "interrupted"
INTERRUPTED_MESSAGE = N_("This attempt was interrupted: the worker running it stopped (a restart, a crash or a lost "
                         "database connection). It is being run again; what it had finished is not done twice.")


def _close_running_records(item_ids: list[int], t: datetime, **outcome: Any) -> None:
    """A dead worker's sync records would read "running" for ever: the sweeper closes them."""
    db.session.execute(update(SyncRecord).where(SyncRecord.work_item_id.in_(item_ids), SyncRecord.state == "running")
                       .values(finished_at=t, **outcome))


def close_interrupted_records(item_ids: list[int], t: datetime) -> None:
    """Closed as retrying, with the reason, when the sweeper hands their work out again."""
    _close_running_records(item_ids, t, state="retrying", error_code=INTERRUPTED_CODE,
                           **columns(error_message=INTERRUPTED_MESSAGE), retry_at=t)


def stop_interrupted_items(items: list[Any], t: datetime) -> None:
    """Work whose worker stopped MAX_INTERRUPTIONS runs in a row is not handed out again:
    its records say so and what to look at, its installation is alerted, and Retry in the
    sync log starts it afresh (with a count of nought). ``items``: (id, installation_id,
    flow) rows."""
    error = PermanentError(INTERRUPTED_REPEATEDLY_MESSAGE, code="interrupted_repeatedly",
                           fix=INTERRUPTED_REPEATEDLY_FIX)
    _close_running_records([i.id for i in items], t, state="failed", error_code=error.code,
                           **columns(error_message=error.message, error_fix=error.fix), retry_at=None)
    for installation_id, flow in {(i.installation_id, i.flow) for i in items}:
        notify_failure(installation_id, flow, error)


def prune_once(retention_days: int) -> dict[str, int]:
    """Forget what is older than the retention period (payloads, finished records)."""
    cutoff = now() - timedelta(days=retention_days)
    deleted_records = db.session.execute(
        SyncRecord.__table__.delete().where(SyncRecord.created_at < cutoff)).rowcount
    deleted_inbox = db.session.execute(
        InboxEvent.__table__.delete().where(InboxEvent.received_at < cutoff,
                                            InboxEvent.state.in_(("done", "failed")))).rowcount
    db.session.execute(PeriodicRun.__table__.delete().where(PeriodicRun.started_at < cutoff))
    db.session.commit()
    return {"sync_records": deleted_records, "inbox_events": deleted_inbox}


def reap_once() -> int:
    """The sweep, when a lease has run out (a run's, or an inbox event's claim): two reads
    otherwise. A consumer runs it every WORK_HEARTBEAT (``start_reaper``), so a dead worker's
    work, and the events it was translating, go on within WORK_LEASE + WORK_HEARTBEAT of its
    last beat (40 s) instead of waiting for the minute's sweep. Returns how many work items
    and inbox events it handed out."""
    t = now()
    expired = db.session.scalar(select(WorkItem.id).where(WorkItem.state == "running", WorkItem.lease_until < t)
                                .limit(1))
    if expired is None:
        expired = db.session.scalar(select(InboxEvent.id).where(InboxEvent.state == "processing",
                                                                InboxEvent.lease_until < t).limit(1))
    db.session.commit()
    return sum(sweep_once().values()) if expired is not None else 0


_reaper_lock = threading.Lock()
_reaper: threading.Thread | None = None


@huey.on_startup("bridge_reaper")
def start_reaper() -> None:
    """Start the reaper once per consumer process (Huey calls this in each worker thread)."""
    global _reaper
    with _reaper_lock:
        if _reaper is not None:
            return
        _reaper = threading.Thread(target=_reap_forever, name="bridge-reaper", daemon=True)
        _reaper.start()


def reap_pass() -> None:
    """One pass of the reaper thread, never raising: a failed pass is logged and the next
    beat tries again (the minute's sweep is the safety net). The session is the app
    context's own, removed with it, so nothing here touches one outside a context: that
    once raised from a ``finally`` and ended the thread after its first pass."""
    try:
        with app_context():
            reap_once()
    except Exception:  # noqa: BLE001
        log.warning("reaper pass failed", exc_info=True)


def _reap_forever() -> None:
    while True:
        time.sleep(limits.WORK_HEARTBEAT.total_seconds())
        reap_pass()


@periodic(crontab(minute="*"), 60, name="sweep")
def sweep() -> dict[str, int]:
    return sweep_once()


@periodic(crontab(minute="17", hour="3"), 86400, name="prune")
def prune() -> dict[str, int]:
    return prune_once(current_app.config["RETENTION_DAYS"])
