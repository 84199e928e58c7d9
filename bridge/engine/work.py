"""Work items: asking for a run of a flow on an object, and what a flow gets while it runs.

Each object has one ``WorkItem`` per flow: asking for work on one that is already queued
changes nothing, on one that is running marks it dirty so it runs once more afterwards.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select, update

from ..extensions import db
from ..insert_ignore import insert_ignore
from ..models import InboxEvent, SyncRecord, WorkItem
from . import limits
from .context import enqueue_after_commit, now
from .registry import WorkRequest
from .tasks import run_work


def request_work(request: WorkRequest, *, event_id: int | None = None) -> int | None:
    """Ask for one run of ``request.flow`` on an object; coalesces with pending work.

    ``event_id``: the stored event that asks. An event a run has covered already asks for
    nothing: one stored before that run was claimed (``WorkItem.covered_through``) told of
    a change made before the run read the object. Without this, a burst translated while
    its first runs go on (``handle_inbox_event``) would run its objects twice. Ids, not
    clocks, decide: event ids are handed out in the order the callbacks arrive, the same
    on every host.

    Returns the work item id when a run was newly queued (its task is enqueued after
    commit), None when the request merged into work already queued, running or done.
    """
    queued = request_work_many([(request, event_id)])
    return queued[0][0] if queued else None


def request_work_many(asks: list[tuple[WorkRequest, int | None]]) -> list[tuple[int, str]]:
    """``request_work`` for many requests (a batch of translated events) in four statements
    instead of three or four per request. Returns the items newly queued (id and flow)."""
    if not asks:
        return []
    t = now()
    # Per object: the newest event asking, or None when something asks that is no event
    # (always news); the options of the last request that has any.
    newest: dict[tuple[int, str, str], int | None] = {}
    options: dict[tuple[int, str, str], dict[str, Any]] = {}
    for request, event_id in asks:
        key = (request.installation_id, request.flow, request.object_key)
        if event_id is None or (key in newest and newest[key] is None):
            newest[key] = None
        else:
            newest[key] = max(newest.get(key) or 0, event_id)
        if request.options:
            options[key] = request.options
    db.session.execute(insert_ignore(WorkItem.__table__), [
        {"installation_id": key[0], "flow": key[1], "object_key": key[2], "state": "idle", "dirty": False,
         "attempts": 0, "runs": 0, "options": options.get(key, {}), "created_at": t, "updated_at": t}
        for key in newest])
    ids = {(row.installation_id, row.flow, row.object_key): row.id for row in db.session.execute(
        select(WorkItem.id, WorkItem.installation_id, WorkItem.flow, WorkItem.object_key).where(
            WorkItem.installation_id.in_({key[0] for key in newest}), WorkItem.flow.in_({key[1] for key in newest}),
            WorkItem.object_key.in_({key[2] for key in newest})))
        if (row.installation_id, row.flow, row.object_key) in newest}
    always = [ids[key] for key, event_id in newest.items() if event_id is None]
    by_event = {ids[key]: event_id for key, event_id in newest.items() if event_id is not None}
    news = WorkItem.id.in_(always)
    if by_event:
        news = news | (WorkItem.id.in_(list(by_event)) &
                       (func.coalesce(WorkItem.covered_through, 0) < case(by_event, value=WorkItem.id)))
    queued = set(db.session.execute(
        update(WorkItem).where(news, WorkItem.state.in_(("idle", "waiting")))
        .values(state="queued", next_attempt_at=None, updated_at=t).returning(WorkItem.id)).scalars())
    for key, value in options.items():  # a manual run's options (rare: one request at a time)
        if ids[key] in queued:
            db.session.execute(update(WorkItem).where(WorkItem.id == ids[key]).values(options=value))
    db.session.execute(update(WorkItem).where(news, WorkItem.state == "running").values(dirty=True))
    for item_id in sorted(queued):
        enqueue_after_commit(run_work, item_id)
    flows = {item_id: key[1] for key, item_id in ids.items()}
    return [(item_id, flows[item_id]) for item_id in sorted(queued)]


def covered_through():
    """What a run claimed now covers: every event stored so far (see ``request_work``)."""
    return select(func.max(InboxEvent.id)).scalar_subquery()


class WorkContext:
    """What a flow gets: the item, and a way to open sync records for what it touches."""

    def __init__(self, item: WorkItem) -> None:
        self.item = item
        self.installation_id = item.installation_id
        self.object_key = item.object_key
        self.options = dict(item.options or {})
        self.records: list[SyncRecord] = []
        self.failure: Exception | None = None
        self.started = now()  # just after the claim: its lease runs out no sooner than WORK_LEASE from here

    def fail(self, error: Exception) -> None:
        """This item failed (the others of its batch may not have)."""
        self.failure = error

    def record(self, *, object_kind: str, object_id: str, direction: str, flow: str | None = None,
               commit: bool = True) -> SyncRecord:
        """Open a record. Committed at once: the user sees it running, and a failure later in
        the flow (which rolls back) still has a record to report on. A batch flow opening one
        per item passes ``commit=False`` and commits them together before it goes on."""
        record = SyncRecord(installation_id=self.installation_id, work_item_id=self.item.id,
                            flow=flow or self.item.flow, object_kind=object_kind, object_id=object_id,
                            direction=direction, state="running", attempt=self.item.attempts + 1)
        db.session.add(record)
        if commit:
            db.session.commit()
        self.records.append(record)
        return record


def renew_lease(ctx: WorkContext) -> None:
    """For a run that goes on for long (an import of 10,000 contacts: minutes at the
    platform's pace): without a renewed lease, the sweeper would take it for a dead worker's
    run after WORK_LEASE and start a second one beside it. Call it at each checkpoint."""
    db.session.execute(update(WorkItem).where(WorkItem.id == ctx.item.id, WorkItem.state == "running")
                       .values(lease_until=now() + limits.WORK_LEASE))
