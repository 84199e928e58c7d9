"""Work items: asking for a run of a flow on an object, and what a flow gets while it runs.

Each object has one ``WorkItem`` per flow: asking for work on one that is already queued
changes nothing, on one that is running marks it dirty so it runs once more afterwards.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator

from sqlalchemy import case, func, or_, select, update

from ..errors import RetryableError
from ..extensions import db
from ..insert_ignore import insert_ignore
from ..messages import N_
from ..models import InboxEvent, SyncRecord, WorkItem
from . import limits
from .context import enqueue_after_commit, now
from .registry import BATCH_SIZES, BULK_FLOWS, WorkRequest
from .tasks import enqueue_work

INTERACTIVE, BULK = 0, 1
# The class of the code running now: a bulk flow's run or a periodic job asks for bulk work.
_asking_as: ContextVar[int] = ContextVar("bridge_asking_as", default=INTERACTIVE)


@contextmanager
def asking_as(priority: int) -> Iterator[None]:
    """Work asked for inside this block is of ``priority`` unless it says otherwise."""
    token = _asking_as.set(priority)
    try:
        yield
    finally:
        _asking_as.reset(token)


def priority_of(request: WorkRequest) -> int:
    """Sync now and Retry (``manual``) are what a user waits for; a bulk flow's items, and
    what bulk code asks for, are bulk; a live event is not."""
    if request.options.get("manual") or request.bulk is False:
        return INTERACTIVE
    if request.bulk or request.flow in BULK_FLOWS:
        return BULK
    return _asking_as.get()


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
    priority: dict[tuple[int, str, str], int] = {}
    for request, event_id in asks:
        key = (request.installation_id, request.flow, request.object_key)
        priority[key] = min(priority.get(key, BULK), priority_of(request))
        if event_id is None or (key in newest and newest[key] is None):
            newest[key] = None
        else:
            newest[key] = max(newest.get(key) or 0, event_id)
        if request.options:
            options[key] = request.options
    db.session.execute(insert_ignore(WorkItem.__table__), [
        {"installation_id": key[0], "flow": key[1], "object_key": key[2], "state": "idle", "dirty": False,
         "attempts": 0, "runs": 0, "options": options.get(key, {}), "priority": priority[key],
         "lease_generation": 0, "created_at": t, "updated_at": t}
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
    # The class: what was newly queued takes the asker's; a user waiting lifts work already queued.
    lifted: set[int] = set()
    for value in (INTERACTIVE, BULK):
        chosen = [ids[key] for key, p in priority.items() if p == value]
        if chosen:
            classed = db.session.execute(
                update(WorkItem).where(WorkItem.id.in_(chosen), WorkItem.state.in_(("queued", "waiting")),
                                       (WorkItem.id.in_(queued)) | (WorkItem.priority > value))
                .values(priority=value).returning(WorkItem.id)).scalars().all()
            lifted.update(set(classed) - queued if value == INTERACTIVE else ())
    for item_id in sorted(lifted):  # its task waits in the bulk line: one more in the user's (a duplicate is a no-op)
        enqueue_after_commit(enqueue_work, item_id, INTERACTIVE)
    flows = {item_id: key[1] for key, item_id in ids.items()}
    classes = {item_id: priority[key] for key, item_id in ids.items()}
    groups = {item_id: (key[0], key[1], priority[key]) for key, item_id in ids.items()}
    for item_id in starters(sorted(queued), groups):
        # Only live events gather: bulk work comes many at a time already (a backfill's page),
        # and a wait before each page's runs left the big installation's limit unused.
        gather = limits.GATHER_SECONDS > 0 and BATCH_SIZES.get(flows[item_id], 1) > 1 and classes[item_id] != BULK
        # Its task enters the line of its class (``tasks``): a user's work is never behind bulk tasks.
        enqueue_after_commit(_gathered if gather else enqueue_work, item_id, classes[item_id])
    return [(item_id, flows[item_id]) for item_id in sorted(queued)]


def starters(queued: list[int], groups: dict[int, tuple[int, str, int]]) -> list[int]:
    """The newly queued items that get a task of their own: each of a flow that runs one
    item at a time; of a batch flow, one for each batch's worth per installation, flow and
    class. A run of a batch flow claims up to a batch of its installation's ready items and
    goes on with the next batches (``run._run_batches``), so the task of every other item
    would find it taken and do nothing; a backfill of 5,000 invoices queued 5,000 of them,
    whose turns through the queue took the CPU the other installations' invoices waited
    for. (An item left without a task still runs: the run of its batch takes it, an idle
    task runs it once overdue, the sweeper re-enqueues it after two minutes.)"""
    seen: dict[tuple[int, str, int], int] = {}
    chosen = []
    for item_id in queued:
        group = groups[item_id]
        size = BATCH_SIZES.get(group[1], 1)
        if seen.get(group, 0) % size == 0:
            chosen.append(item_id)
        seen[group] = seen.get(group, 0) + 1
    return chosen


def request_again(installation_id: int, flow: str, *key_prefixes: str) -> int:
    """Ask once more for every item of ``flow`` whose object key starts with one of
    ``key_prefixes``, each with the options it has: work that ran too early to find what it
    needs (a refund that reached bridge before its order's invoice did: webhooks come in any
    order) runs again once that exists. One query for all prefixes (a batch's invoices).
    Returns how many were newly queued."""
    if not key_prefixes:
        return 0
    keys = db.session.scalars(select(WorkItem.object_key).where(
        WorkItem.installation_id == installation_id, WorkItem.flow == flow,
        or_(*(WorkItem.object_key.startswith(prefix, autoescape=True) for prefix in key_prefixes)))).all()
    return len(request_work_many([(WorkRequest(installation_id, flow, key), None) for key in keys]))


def _gathered(item_id: int, work_class: int) -> None:
    """A batch flow's new work runs after the gathering window, so what arrives with it shares
    its batch (the first of their tasks to fire claims them all)."""
    enqueue_work(item_id, work_class, delay=limits.GATHER_SECONDS)


def gathering() -> bool:
    """Whether new batch work waits for the gathering window (the inbox then leaves its
    first run to the scheduled task instead of starting it at once)."""
    return limits.GATHER_SECONDS > 0


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
        self.generation = item.lease_generation  # what this run claimed (fencing)
        self.priority = BULK if item.priority == BULK or item.flow in BULK_FLOWS else INTERACTIVE

    def ensure_still_owner(self) -> None:
        """Raise ``LeaseLost`` if another run has claimed this item since this one did (its
        worker was paused past the lease and the work went to another): called by the engine
        before every external write, so a paused worker cannot write after a takeover."""
        ensure_owner([self])

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


LEASE_LOST_MESSAGE = N_("Another worker took this work over while this one was held up; this run stopped "
                        "without writing, and the other one goes on.")


class LeaseLost(RetryableError):
    """This run no longer owns its work: it must neither write nor settle."""

    code = "lease_lost"


def owned_by(generations: dict[int, int]):
    """The WHERE clause: each item (id -> generation) still has the generation its run
    claimed. A claim adds one; the sweeper re-queueing a run it took for dead does not, so
    a run that was only slow and not taken over by another still owns its work."""
    return WorkItem.id.in_(list(generations)) & (
        WorkItem.lease_generation == case(generations, value=WorkItem.id))


def generations(contexts: list[WorkContext]) -> dict[int, int]:
    return {c.item.id: c.generation for c in contexts}


def ensure_owner(contexts: list[WorkContext]) -> None:
    """One read on its own connection (the flow's transaction may hold an older snapshot)."""
    with db.engine.connect() as connection:
        owned = connection.scalar(select(func.count()).select_from(WorkItem).where(owned_by(generations(contexts))))
    if owned != len(contexts):
        raise LeaseLost(LEASE_LOST_MESSAGE)


def renewal(owned: dict[int, int], *, take_back: bool = False):
    """The lease renewal: only while the items still have their claimed generation. With
    ``take_back`` (a checkpoint, in the run's own thread) a run the sweeper took for dead
    (queued again, nobody claimed it yet) takes it back; the heartbeat never does, since a
    beat landing after its run settled the item as queued again must not mark it running."""
    states = ("running", "queued") if take_back else ("running",)
    return (update(WorkItem).where(owned_by(owned), WorkItem.state.in_(states))
            .values(state="running", lease_until=now() + limits.WORK_LEASE))


def renew_lease(ctx: WorkContext) -> None:
    """For a run that goes on for long (an import of 10,000 contacts: minutes at the
    platform's pace), besides the heartbeat (``engine.lease``): without a renewed lease, the
    sweeper would take it for a dead worker's run and start a second one beside it. Call it
    at each checkpoint. Raises ``LeaseLost`` when another run has claimed the item since."""
    renewed = db.session.execute(renewal(generations([ctx]), take_back=True)).rowcount
    if not renewed:
        raise LeaseLost(LEASE_LOST_MESSAGE)
