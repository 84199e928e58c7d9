"""The durable job engine: inbox -> work items -> flow runs, on Huey.

Why it is shaped like this:

- A callback is written to the inbox and acknowledged; its task is enqueued only after
  that row commits (``enqueue_after_commit``), so no job ever points at a row that rolled
  back, and no answered callback exists only in a queue.
- ``process_inbox`` turns an event into work requests for objects. Each object has one
  ``WorkItem`` per flow; asking for work on an object that is already queued changes
  nothing, and on one that is running marks it dirty so it runs once more afterwards.
- ``run_work`` claims a queued item with a conditional UPDATE (so a duplicate task is a
  no-op), runs the flow, and then settles it: done, retry later (exponential backoff,
  at least Retry-After), paused (a spent API budget), or failed (recorded for a person).
- The sweeper re-enqueues what a dead worker left behind; leases make that safe.
- Periodic jobs claim their period in ``periodic_runs`` first, so N consumers that all run
  a scheduler still run each job once per period (daily per-installation jobs claim each
  installation instead, so a crash halfway resumes with the rest).
"""
from __future__ import annotations

import logging
import os
import random
import socket
import time
import weakref
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator

from flask import current_app, has_app_context
from huey import crontab
from sqlalchemy import bindparam, case, event, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, aliased

from .errors import BudgetExhausted, ConflictError, PacingWait, PermanentError, RetryableError, SyncError, unexpected
from .extensions import db, huey
from .http import cause as http_cause
from .insert_ignore import insert_ignore
from .models import InboxEvent, PeriodicRun, SyncRecord, WorkItem, utcnow
from .redaction import redact, redact_all

log = logging.getLogger(__name__)

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"
INBOX_LEASE = timedelta(minutes=5)
# Events translated per commit (see _claim_inbox_siblings), the size of the invoice export's runs.
INBOX_BATCH = 49
# A retry's task may fire a moment before the time it was scheduled for (the scheduler ticks).
RETRY_EARLY = timedelta(seconds=2)
WORK_LEASE = timedelta(minutes=10)
# How long one task goes on running an installation's next batches (_run_batches).
DRAIN_SECONDS = 30.0
MAX_ATTEMPTS = 12
# Runs in a row that ended with their worker gone (the sweeper found the lease run out). A
# run that stops its worker every time (out of memory on one huge record, say) would be
# handed out again every lease, for ever; after this many it is stopped and shown as failed.
MAX_INTERRUPTIONS = 5
# From the second interruption in a row an item of a batch flow runs alone: one record that
# takes the worker down must not take its batch of 48 others to the limit with it. (The first
# is most often a restart: its batch runs again as a batch.)
RUN_ALONE_AFTER = 2
BACKOFF_BASE = 30.0  # seconds; doubles per attempt
BACKOFF_CAP = 6 * 3600.0

# --------------------------------------------------------------------------------------
# Registries filled by connectors (inbox translators) and the sync layer (flows)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkRequest:
    installation_id: int
    flow: str
    object_key: str
    options: dict[str, Any] = field(default_factory=dict)


InboxHandler = Callable[[InboxEvent], list[WorkRequest]]
FlowRunner = Callable[["WorkContext"], None]

INBOX_HANDLERS: dict[str, InboxHandler] = {}
# Sources whose handler only reads our own database: their events are translated a batch
# per commit. A handler that calls out (DG1 reads the order) must not run while the batch's
# writes hold the database (SQLite has one writer), so it handles one event per commit.
BATCHED_INBOX_SOURCES: set[str] = set()
FLOWS: dict[str, FlowRunner] = {}


def inbox_handler(source: str, *, batched: bool = False) -> Callable[[InboxHandler], InboxHandler]:
    def register(fn: InboxHandler) -> InboxHandler:
        INBOX_HANDLERS[source] = fn
        if batched:
            BATCHED_INBOX_SOURCES.add(source)
        return fn
    return register


BATCH_SIZES: dict[str, int] = {}


def flow(name: str, batch: int = 1) -> Callable[[FlowRunner], FlowRunner]:
    """Register a flow. With ``batch`` > 1 the runner gets a list of WorkContexts: the
    claimed item plus up to ``batch - 1`` other queued items of the same installation and
    flow, so e.g. 50 waiting invoices become one ledger call. A runner marks an item's own
    failure with ``ctx.fail(exc)``; an exception it raises fails the whole batch."""
    def register(fn: FlowRunner) -> FlowRunner:
        FLOWS[name] = fn
        BATCH_SIZES[name] = batch
        return fn
    return register


# --------------------------------------------------------------------------------------
# App binding: tasks run inside an app context, in tests and in the consumer alike
# --------------------------------------------------------------------------------------

_bound_app = None


def bind_app(app) -> None:
    global _bound_app
    _bound_app = app


def _app_context():
    global _bound_app
    if has_app_context():
        return nullcontext()
    if _bound_app is None:  # a huey_consumer process: build the app once
        from .factory import create_app

        _bound_app = create_app()
    return _bound_app.app_context()


# --------------------------------------------------------------------------------------
# Enqueue after commit
# --------------------------------------------------------------------------------------

_PENDING = "bridge_pending_enqueues"


def enqueue_after_commit(task, *args: Any) -> None:
    """Enqueue ``task(*args)`` once the current transaction commits; drop it on rollback."""
    db.session.info.setdefault(_PENDING, []).append((task, args))


@event.listens_for(Session, "after_commit")
def _flush_enqueues(session: Session) -> None:
    # Enqueueing writes to the queue's own storage, never to this session, so it is safe
    # inside the commit event.
    for task, args in session.info.pop(_PENDING, []):
        task(*args)


@event.listens_for(Session, "after_rollback")
def _drop_enqueues(session: Session) -> None:
    session.info.pop(_PENDING, None)


def now() -> datetime:
    return utcnow()


# --------------------------------------------------------------------------------------
# Inbox
# --------------------------------------------------------------------------------------


def record_inbound(source: str, dedup_key: str, *, installation_id: int | None, topic: str,
                   object_key: str | None, payload: str) -> bool:
    """Store a verified callback once. Returns False for a duplicate (no new row; a job only
    if the first copy was already processed, see below).

    Commits. The processing task is enqueued after the commit.
    """
    stmt = insert_ignore(InboxEvent.__table__).values({
        "source": source, "dedup_key": dedup_key[:255], "installation_id": installation_id, "topic": topic,
        "object_key": object_key, "payload": payload, "state": "pending", "attempts": 0,
        "received_at": now()}).returning(InboxEvent.__table__.c.id)
    event_id = db.session.execute(stmt).scalar_one_or_none()
    if event_id is not None:
        enqueue_after_commit(process_inbox, event_id)
    else:
        # A duplicate of an event already processed is looked at once more. Events are thin
        # ("object X changed"), and a dedup key can be coarser than the changes it stands
        # for (Bitrix24's ts has whole seconds): a second change within the same second
        # must not be lost. Flows are idempotent, so a true duplicate costs a no-op run.
        reopened = db.session.execute(
            update(InboxEvent).where(InboxEvent.dedup_key == dedup_key[:255], InboxEvent.state == "done")
            .values(state="pending", lease_until=None).returning(InboxEvent.id)).scalar_one_or_none()
        if reopened is not None:
            enqueue_after_commit(process_inbox, reopened)
    db.session.commit()
    return event_id is not None


# --------------------------------------------------------------------------------------
# The callback hot path: verify and store in one statement
# --------------------------------------------------------------------------------------
#
# A callback's answer waits for its inbox row to be durable, and on PostgreSQL every round
# trip to the server is most of that wait. ``store_callback`` needs one: a single
# autocommitted ``INSERT .. SELECT`` that stores the row only if the installation the
# callback names exists and its secret matches (the SELECT), once per dedup key
# (ON CONFLICT DO NOTHING), and returns the new id. A single statement in autocommit mode
# is its own transaction: when it returns, the row is committed, so the job can be
# enqueued at once ("enqueue after commit"). Only the rare remainder - a duplicate, or a
# callback that is refused - takes the ordinary path through the session.

_INGEST_ENGINE = "bridge_ingest_engine"


def _ingest_engine():
    """The engine the hot path writes with. On SQLite the app's own (no network, nothing
    to save). On a server database its own pool without the pre-ping (one round trip per
    checkout saved; a connection the server dropped fails once and is replaced, see
    ``_execute_once``); in tests a NullPool so no connection outlives its test app."""
    engine = db.engine
    if engine.dialect.name == "sqlite":
        return engine
    app = current_app._get_current_object()
    cached = app.extensions.get(_INGEST_ENGINE)
    if cached is not None and cached.url == engine.url:
        return cached
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    options: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"}
    if app.config.get("BRIDGE_ENV") == "test":
        options["poolclass"] = NullPool
    cached = create_engine(engine.url, **options)
    weakref.finalize(app, cached.dispose)
    app.extensions[_INGEST_ENGINE] = cached
    return cached


def _execute_once(statement, params: dict[str, Any]) -> int | None:
    """Run the insert; a connection the server closed since its last use (a restart) is
    invalidated by SQLAlchemy and the statement runs once more on a new one. Running it
    twice is safe: a row the first attempt stored makes the second a no-op."""
    engine = _ingest_engine()
    for attempt in (1, 2):
        try:
            if engine is db.engine:  # SQLite: the app's engine, autocommitted per statement
                with engine.connect() as connection:
                    connection = connection.execution_options(isolation_level="AUTOCOMMIT")
                    return connection.execute(statement, params).scalar_one_or_none()
            with engine.connect() as connection:
                return connection.execute(statement, params).scalar_one_or_none()
        except DBAPIError as exc:
            if attempt == 2 or not exc.connection_invalidated:
                raise
    return None  # unreachable


_STORE_STATEMENTS: dict[tuple[str, tuple[str, ...]], Any] = {}


def _store_statement(dialect: str, owner_columns: tuple[str, ...]):
    """The INSERT .. SELECT, built once per dialect and owner shape and bound per call
    (building and compiling SQLAlchemy expressions per request cost more than the insert)."""
    key = (dialect, owner_columns)
    if key not in _STORE_STATEMENTS:
        from .models import Installation

        table = InboxEvent.__table__
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        row = select(bindparam("source", type_=table.c.source.type), bindparam("dedup_key", type_=table.c.dedup_key.type),
                     Installation.id, bindparam("topic", type_=table.c.topic.type),
                     bindparam("object_key", type_=table.c.object_key.type),
                     bindparam("payload", type_=table.c.payload.type), literal("pending"), literal(0),
                     bindparam("received_at", type_=table.c.received_at.type)).where(
            Installation.state == "active",
            *(getattr(Installation, column) == bindparam(f"owner_{column}") for column in owner_columns))
        _STORE_STATEMENTS[key] = (
            insert(table).from_select(["source", "dedup_key", "installation_id", "topic", "object_key", "payload",
                                       "state", "attempts", "received_at"], row)
            .on_conflict_do_nothing().returning(table.c.id))
    return _STORE_STATEMENTS[key]


def store_callback(source: str, dedup_key: str, owner: dict[str, str], *, topic: str, object_key: str | None,
                   payload: str) -> int | None:
    """Store a callback if ``owner`` (column -> value of ``Installation``: the installation
    the callback names, with its secret's hash) finds that active installation and the
    dedup key is new. Returns the new row's id, with its job enqueued, or None: then the
    caller tells a duplicate from a refusal the ordinary way (``record_inbound``).

    Runs on its own connection: never call it with rows of the session it depends on
    still uncommitted."""
    columns = tuple(sorted(owner))
    statement = _store_statement(db.engine.dialect.name, columns)
    params = {"source": source, "dedup_key": dedup_key[:255], "topic": topic, "object_key": object_key,
              "payload": payload, "received_at": now(), **{f"owner_{c}": owner[c] for c in columns}}
    event_id = _execute_once(statement, params)
    if event_id is not None:
        try:
            process_inbox(event_id)
        except Exception:  # noqa: BLE001 - the row is committed; the sweeper enqueues it within a minute
            log.exception("inbox event %s stored but not enqueued; the sweeper will pick it up", event_id)
    return event_id


def _claim_inbox(event_id: int) -> InboxEvent | None:
    t = now()
    # Most tasks of a burst find their event translated already, with a batch (below): a read
    # tells them so without taking the database's write lock.
    state, lease_until = db.session.execute(select(InboxEvent.state, InboxEvent.lease_until)
                                            .where(InboxEvent.id == event_id)).first() or (None, None)
    db.session.commit()
    if state not in ("pending", "processing") or (state == "processing" and lease_until and lease_until >= t):
        return None
    claimed = db.session.execute(
        update(InboxEvent)
        .where(InboxEvent.id == event_id)
        .where((InboxEvent.state == "pending") |
               ((InboxEvent.state == "processing") & (InboxEvent.lease_until < t)))
        .values(state="processing", lease_until=t + INBOX_LEASE, attempts=InboxEvent.attempts + 1)
    ).rowcount
    db.session.commit()
    return db.session.get(InboxEvent, event_id) if claimed else None


def _claim_inbox_siblings(event: InboxEvent, limit: int) -> list[InboxEvent]:
    """Claim up to ``limit`` more pending events of the same source and installation: a burst
    of callbacks (a thousand invoices created by an import) is translated a batch at a time,
    one commit for the batch instead of two per event. Their own tasks find them done."""
    if limit <= 0 or event.installation_id is None or event.source not in BATCHED_INBOX_SOURCES:
        return []
    t = now()
    candidates = (select(InboxEvent.id).where(InboxEvent.source == event.source,
                                              InboxEvent.installation_id == event.installation_id,
                                              InboxEvent.state == "pending")
                  .order_by(InboxEvent.id).limit(limit).scalar_subquery())
    ids = db.session.execute(
        update(InboxEvent).where(InboxEvent.id.in_(candidates), InboxEvent.state == "pending")
        .values(state="processing", lease_until=t + INBOX_LEASE, attempts=InboxEvent.attempts + 1)
        .returning(InboxEvent.id)).scalars().all()
    db.session.commit()
    if not ids:
        return []
    return list(db.session.scalars(select(InboxEvent).where(InboxEvent.id.in_(ids)).order_by(InboxEvent.id)))


def handle_inbox_event(event_id: int) -> None:
    """Translate the event (with a batch of its installation's pending ones), then start the
    work it asked for.

    The work starts here, not behind the burst's own event tasks in the queue (a thousand
    invoices imported at once put a thousand tasks ahead of any work task: four seconds
    before the first run). The rest of the burst is translated meanwhile by those tasks;
    an event that a run has already covered (stored before the run began reading) asks for
    no second run (``request_work``)."""
    for item_id in _first_per_batch_flow(translate_inbox_events(event_id)):
        execute_work(item_id)


def translate_inbox_events(event_id: int) -> list[tuple[int, str]]:
    """Translate the event into work requests, and with it a batch of pending events of its
    installation (``_claim_inbox_siblings``). Returns the work items newly queued (id and
    flow; their tasks are enqueued)."""
    inbox_event = _claim_inbox(event_id)
    if inbox_event is None:
        return []  # done already, or another worker holds it
    return _translate_batch([inbox_event, *_claim_inbox_siblings(inbox_event, INBOX_BATCH - 1)])


def _translate_batch(events: list[InboxEvent]) -> list[tuple[int, str]]:
    """Translate and commit; the work items newly queued (id and flow). The batch's work
    is asked for at once and commits once; if that fails, each of its events is handled on
    its own, so one bad event holds up none of the others."""
    if len(events) > 1:
        try:
            requested = request_work_many([ask for claimed in events for ask in _asks(claimed)])
            db.session.commit()
            return requested
        except Exception:  # noqa: BLE001 - retried one by one below, each error on its own event
            db.session.rollback()
    return [queued for claimed in events for queued in _handle_claimed(claimed.id)]


def _first_per_batch_flow(requested: list[tuple[int, str]]) -> list[int]:
    """One of the work items newly queued per batch flow (its run claims the others);
    single-item flows are left to their own tasks."""
    first: dict[str, int] = {}
    for item_id, flow_name in requested:
        if BATCH_SIZES.get(flow_name, 1) > 1:
            first.setdefault(flow_name, item_id)
    return list(first.values())


def _asks(event: InboxEvent) -> list[tuple[WorkRequest, int | None]]:
    """The event's work requests, each with the event id it counts as (``request_work``);
    marks the event done (committed with its requests)."""
    handler = INBOX_HANDLERS.get(event.source)
    if handler is None:
        raise PermanentError(f"No handler for {event.source} events.")
    # A re-opened event (``record_inbound``: a second change behind the same dedup key) kept
    # its old id, which no longer says when the change came: it counts as news.
    seen_as = None if event.processed_at else event.id
    asks = [(request, seen_as) for request in handler(event)]
    event.state = "done"
    event.processed_at = now()
    event.last_error = None
    return asks


def _handle_claimed(event_id: int) -> list[tuple[int, str]]:
    try:
        requested = request_work_many(_asks(db.session.get(InboxEvent, event_id)))
        db.session.commit()
        return requested
    except Exception as exc:  # recorded on the row; the sweeper retries non-permanent ones
        db.session.rollback()
        inbox_event = db.session.get(InboxEvent, event_id)
        permanent = isinstance(exc, PermanentError) or inbox_event.attempts >= MAX_ATTEMPTS
        inbox_event.state = "failed" if permanent else "pending"
        inbox_event.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        inbox_event.lease_until = None
        db.session.commit()
        log.warning("inbox event %s: %s", event_id, inbox_event.last_error)
        return []


# --------------------------------------------------------------------------------------
# Work items
# --------------------------------------------------------------------------------------


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


def _covered_through():
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
                       .values(lease_until=now() + WORK_LEASE))


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter, never sooner than the server asked."""
    delay = min(BACKOFF_BASE * (2 ** max(attempt - 1, 0)), BACKOFF_CAP)
    delay *= random.uniform(0.8, 1.2)
    return max(delay, retry_after or 0.0)


def _claim_work(item_id: int) -> WorkItem | None:
    """Claim a queued item, or a waiting one whose retry is due: the task scheduled for its
    retry runs it then (the sweeper is only the safety net, a minute later).

    Most tasks of a burst find their item taken by a batch already: reads tell them so,
    without taking the database's write lock."""
    t = now()
    owner = db.session.execute(select(WorkItem.installation_id, WorkItem.flow)
                               .where(WorkItem.id == item_id, _ready(t))).first()
    batched = owner is not None and BATCH_SIZES.get(owner.flow, 1) > 1
    if owner is None or (batched and db.session.scalar(select(_batch_running(owner.installation_id, owner.flow, t)))):
        db.session.commit()
        return None  # done, not due, or a run of its batch flow is going on and starts the next
    claim = update(WorkItem).where(WorkItem.id == item_id, _ready(t))
    if batched:
        _lock_installation(owner.installation_id)
        claim = claim.where(~_batch_running(owner.installation_id, owner.flow, t))
    claimed = db.session.execute(claim.values(state="running", dirty=False, lease_until=t + WORK_LEASE,
                                              runs=WorkItem.runs + 1, last_run_at=t,
                                              covered_through=_covered_through())).rowcount
    db.session.commit()
    return db.session.get(WorkItem, item_id) if claimed else None


def _ready(t: datetime):
    """Queued, or waiting with its retry due."""
    return (WorkItem.state == "queued") | ((WorkItem.state == "waiting") & (WorkItem.next_attempt_at <= t + RETRY_EARLY))


def _batch_running(installation_id: int, flow: str, t: datetime):
    """One run at a time of a batch flow per installation. Runs side by side would split what
    is queued into small batches (more API calls, and Xero's minute spent sooner) and race
    each other to create the same customer; one run takes everything ready, 49 at a time,
    and runs the next ones when it ends (``_run_batches``). A run whose worker died holds
    nothing once its lease has run out."""
    other = aliased(WorkItem)
    return (select(other.id).where(other.installation_id == installation_id, other.flow == flow,
                                   other.state == "running", other.lease_until > t).exists())


def _lock_installation(installation_id: int) -> None:
    """On PostgreSQL, claims for one installation queue on its row, so two cannot both see no
    run going (SQLite writes one at a time anyway and ignores the lock)."""
    from .models import Installation

    db.session.execute(select(Installation.id).where(Installation.id == installation_id).with_for_update())


def _next_ready(installation_id: int, flow: str) -> int | None:
    """The oldest item ready for the flow (a due retry too: its own task may have found a
    run going and left)."""
    next_id = db.session.scalar(select(WorkItem.id).where(
        WorkItem.installation_id == installation_id, WorkItem.flow == flow, _ready(now()))
        .order_by(WorkItem.updated_at, WorkItem.id).limit(1))
    db.session.commit()
    return next_id


def _run_batches(item: WorkItem, batch: int) -> str | None:
    """Run the claimed item's batch, then the next batches of its installation and flow, one
    after the other in this task, for up to DRAIN_SECONDS; then the next one is enqueued
    (so a long backlog does not hold a worker thread for good, and other installations'
    tasks get their turn). Returns how the first item settled.

    Enqueueing each next batch instead would put it behind everything queued meanwhile: a
    burst's thousand event tasks, a second each way for every batch. A batch that ended
    waiting (a limit, an outage) ends the loop: its retry is scheduled and the next batch
    goes to the queue, so this thread does not wait out the same limit batch after batch."""
    installation_id, flow = item.installation_id, item.flow
    deadline = time.monotonic() + DRAIN_SECONDS
    first = outcome = _execute_claimed(item, batch)
    while (next_id := _next_ready(installation_id, flow)) is not None:
        if outcome == "waiting" or time.monotonic() >= deadline:
            run_work(next_id)
            break
        next_item = _claim_work(next_id)
        if next_item is None:
            break  # another run has it, and goes on from there
        outcome = _execute_claimed(next_item, batch)
    return first


def _claim_siblings(item: WorkItem, limit: int) -> list[WorkItem]:
    """Claim up to ``limit`` more ready items of the same installation and flow, in the order
    they were queued: an item queued again by the echo of our own write-back waits behind
    the invoices not yet sent (by id, the echoes of the first batches filled later batches
    with nothing to send, and each such batch still cost its ledger calls). Due retries come
    along, so a batch that waited out a limit goes on as a batch."""
    if limit <= 0:
        return []
    t = now()
    candidates = (select(WorkItem.id).where(WorkItem.installation_id == item.installation_id,
                                            WorkItem.flow == item.flow, _ready(t),
                                            WorkItem.interruptions < RUN_ALONE_AFTER)
                  .order_by(WorkItem.updated_at, WorkItem.id).limit(limit).scalar_subquery())
    ids = db.session.execute(
        update(WorkItem).where(WorkItem.id.in_(candidates), _ready(t))
        .values(state="running", dirty=False, lease_until=t + WORK_LEASE, runs=WorkItem.runs + 1, last_run_at=t,
                covered_through=_covered_through())
        .returning(WorkItem.id)).scalars().all()
    db.session.commit()
    if not ids:
        return []
    loaded = {i.id: i for i in db.session.scalars(select(WorkItem).where(WorkItem.id.in_(ids)))}
    return [loaded[i] for i in ids]


def execute_work(item_id: int) -> str | None:
    """Run one claimed work item (and its batch siblings). Returns how the first settled."""
    item = _claim_work(item_id)
    if item is None:
        return None
    batch = BATCH_SIZES.get(item.flow, 1)
    if batch == 1:
        return _execute_claimed(item, 1)
    return _run_batches(item, batch)


def _execute_claimed(item: WorkItem, batch: int) -> str | None:
    runner = FLOWS.get(item.flow)
    alone = item.interruptions >= RUN_ALONE_AFTER
    items = [item, *_claim_siblings(item, batch - 1)] if runner and batch > 1 and not alone else [item]
    contexts = [WorkContext(i) for i in items]
    ids = [i.id for i in items]
    try:
        if runner is None:
            raise PermanentError(f"Unknown flow {item.flow!r}.")
        with http_cause("work=" + ",".join(map(str, ids))):  # each call names the work that made it
            runner(contexts if batch > 1 else contexts[0])
        db.session.commit()
    except Exception as exc:  # every failure settles the items and leaves records
        db.session.rollback()
        outcomes = [_settle_failure(i, ctx, exc) for i, ctx in zip(ids, contexts)]
        return outcomes[0]
    _clear_interruption_notes(contexts)
    settled = _settle_succeeded([i for i, ctx in zip(ids, contexts) if ctx.failure is None])
    outcomes = [_settle_failure(i, ctx, ctx.failure) if ctx.failure is not None else settled[i]
                for i, ctx in zip(ids, contexts)]
    return outcomes[0]


def _clear_interruption_notes(contexts: list[WorkContext]) -> None:
    """A live run that outlived its lease was taken for a dead one: the sweeper noted its
    records as interrupted. The run went on and finished them, so the note is wrong; without
    this a record would read "succeeded" beside "This attempt was interrupted". A run shorter
    than WORK_LEASE cannot have been taken for dead: it costs no statement."""
    t = now()
    record_ids = [r.id for ctx in contexts if t - ctx.started >= WORK_LEASE for r in ctx.records if r.id is not None]
    if record_ids:
        db.session.execute(update(SyncRecord).where(
            SyncRecord.id.in_(record_ids), SyncRecord.error_code == INTERRUPTED_CODE,
            SyncRecord.state.in_(("succeeded", "skipped"))).values(error_code=None, error_message=None, retry_at=None))


def _settle_succeeded(ids: list[int]) -> dict[int, str]:
    """Settle the items that ran through: idle, or queued again when a change came in while
    they ran (``dirty``). One statement for the whole batch (each row decided atomically: a
    request marking it dirty meanwhile either lands before, and it is re-run, or finds it
    idle and queues it itself)."""
    if not ids:
        return {}
    rows = db.session.execute(
        update(WorkItem).where(WorkItem.id.in_(ids))
        .values(state=case((WorkItem.dirty.is_(True), "queued"), else_="idle"), dirty=False, lease_until=None,
                next_attempt_at=None, attempts=0, interruptions=0, updated_at=now())
        .returning(WorkItem.id, WorkItem.state)).all()
    db.session.commit()
    outcomes = {}
    for item_id, state in rows:
        outcomes[item_id] = "rerun" if state == "queued" else state
        if state == "queued":
            run_work(item_id)
    return outcomes


def _settle(item_id: int, state: str, *, attempts: int | None = None,
            next_attempt_at: datetime | None = None) -> str:
    item = db.session.get(WorkItem, item_id)
    db.session.refresh(item)
    rerun = item.dirty and state == "idle"
    item.state = "queued" if rerun else state
    item.dirty = False if rerun else item.dirty
    item.lease_until = None
    item.next_attempt_at = next_attempt_at
    item.interruptions = 0  # this run settled: a next interruption is the first in a row
    if attempts is not None:
        item.attempts = attempts
    if rerun:
        enqueue_after_commit(run_work, item_id)
    db.session.commit()
    return "rerun" if rerun else state


def _settle_failure(item_id: int, context: WorkContext, exc: Exception) -> str:
    item = db.session.get(WorkItem, item_id)
    attempt = item.attempts + 1
    if isinstance(exc, SyncError):
        error = exc
    else:  # a bug or an unexpected library error: retried; the details only in the log, under an error id
        error = unexpected(exc, f"flow {item.flow} on {item.object_key}")
    # Waiting for a limit (our pacing, a spent day budget) is no attempt of the item's.
    tries = item.attempts if isinstance(error, (PacingWait, BudgetExhausted)) else attempt
    if isinstance(error, RetryableError) and tries >= MAX_ATTEMPTS:
        error = PermanentError(f"Gave up after {attempt} attempts: {error.message}", code=error.code,
                               fix="Check the connection and press Retry.", ledger_messages=error.ledger_messages)
    retry_at: datetime | None = None
    if isinstance(error, BudgetExhausted):
        retry_at = error.resume_at
        state, attempts = "waiting", item.attempts  # a spent budget is not the item's fault
    elif isinstance(error, RetryableError):
        retry_at = now() + timedelta(seconds=backoff_seconds(tries, error.retry_after))
        state, attempts = "waiting", tries
    else:
        state, attempts = "idle", 0
    _record_failure(context, item, error, retry_at)
    settled = _settle(item_id, state, attempts=attempts, next_attempt_at=retry_at)
    if retry_at is not None:
        delay = max((retry_at - now()).total_seconds(), 0.0)
        run_work.schedule((item_id,), delay=delay)
    return settled


def _record_failure(context: WorkContext, item: WorkItem, error: SyncError, retry_at: datetime | None) -> None:
    """Put the error on the run's sync records (re-attached after the rollback)."""
    state = ("conflict" if isinstance(error, ConflictError)
             else "retrying" if isinstance(error, RetryableError) else "failed")
    records = [r for r in context.records if r.id is not None]
    targets = [db.session.get(SyncRecord, r.id) for r in records]
    targets = [r for r in targets if r is not None]
    if not targets:  # the flow failed before it opened a record (or its record rolled back)
        kind, _, object_id = item.object_key.partition(":")
        target = SyncRecord(installation_id=item.installation_id, work_item_id=item.id, flow=item.flow,
                            object_kind=kind or "object", object_id=object_id or item.object_key,
                            direction=context.options.get("direction", "to_ledger"), attempt=item.attempts + 1)
        db.session.add(target)
        targets = [target]
    for record in targets:
        if record.state in ("succeeded", "skipped"):
            continue
        record.state = state
        record.error_code = error.code
        # An error may quote what it failed on (a URL with its query, a server's echo).
        record.error_message = redact(error.message)
        record.error_fix = error.fix
        record.ledger_messages = redact_all(error.ledger_messages) or None
        record.retry_at = retry_at
        record.finished_at = now()
        if isinstance(error, ConflictError):
            record.received = {"ours": error.ours, "theirs": error.theirs, "choices": error.choices}
    if state == "failed":  # a person must act: alert them (enqueued, sent after the commit)
        from .alerts import note_failure

        note_failure(item.installation_id, item.flow, error)


# --------------------------------------------------------------------------------------
# Huey tasks
# --------------------------------------------------------------------------------------


@huey.task()
def process_inbox(event_id: int) -> None:
    with _app_context():
        handle_inbox_event(event_id)


@huey.task()
def run_work(item_id: int) -> None:
    with _app_context():
        execute_work(item_id)


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
        update(WorkItem).where(expired, WorkItem.interruptions >= MAX_INTERRUPTIONS - 1)
        .values(state="idle", lease_until=None, attempts=0, interruptions=0, next_attempt_at=None, updated_at=t)
        .returning(WorkItem.id, WorkItem.installation_id, WorkItem.flow)).all()
    if stopped:
        stop_interrupted_items(stopped, t)
    interrupted = db.session.execute(
        update(WorkItem).where(expired)
        .values(state="queued", lease_until=None, updated_at=t, interruptions=WorkItem.interruptions + 1)
        .returning(WorkItem.id)).scalars().all()
    if interrupted:
        close_interrupted_records(interrupted, t)
    due = db.session.execute(
        update(WorkItem).where(WorkItem.state == "waiting", WorkItem.next_attempt_at <= t)
        .values(state="queued", lease_until=None, updated_at=t)
        .returning(WorkItem.id)).scalars().all()
    revived = [*interrupted, *due]
    lost = db.session.scalars(select(WorkItem.id).where(
        WorkItem.state == "queued", WorkItem.updated_at < t - timedelta(minutes=2))).all()
    db.session.commit()
    for item_id in {*revived, *lost}:
        run_work(item_id)
        counts["work"] += 1
    return counts


INTERRUPTED_REPEATEDLY_MESSAGE = (f"Stopped after its worker stopped {MAX_INTERRUPTIONS} times in a row while "
                                  "running it; it is not run again by itself.")
INTERRUPTED_REPEATEDLY_FIX = ("Look in the worker's log for why it stopped (out of memory, a restart loop, a "
                              "timeout of the process supervisor), then press Retry.")
INTERRUPTED_CODE = "interrupted"
INTERRUPTED_MESSAGE = ("This attempt was interrupted: the worker running it stopped (a restart, a crash or a lost "
                       "database connection). It is being run again; what it had finished is not done twice.")


def _close_running_records(item_ids: list[int], t: datetime, **outcome: Any) -> None:
    """A dead worker's sync records would read "running" for ever: the sweeper closes them."""
    db.session.execute(update(SyncRecord).where(SyncRecord.work_item_id.in_(item_ids), SyncRecord.state == "running")
                       .values(finished_at=t, **outcome))


def close_interrupted_records(item_ids: list[int], t: datetime) -> None:
    """Closed as retrying, with the reason, when the sweeper hands their work out again."""
    _close_running_records(item_ids, t, state="retrying", error_code=INTERRUPTED_CODE,
                           error_message=INTERRUPTED_MESSAGE, retry_at=t)


def stop_interrupted_items(items: list[Any], t: datetime) -> None:
    """Work whose worker stopped MAX_INTERRUPTIONS runs in a row is not handed out again:
    its records say so and what to look at, its installation is alerted, and Retry in the
    sync log starts it afresh (with a count of nought). ``items``: (id, installation_id,
    flow) rows."""
    from .alerts import note_failure

    error = PermanentError(INTERRUPTED_REPEATEDLY_MESSAGE, code="interrupted_repeatedly",
                           fix=INTERRUPTED_REPEATEDLY_FIX)
    _close_running_records([i.id for i in items], t, state="failed", error_code=error.code,
                           error_message=error.message, error_fix=error.fix, retry_at=None)
    for installation_id, flow in {(i.installation_id, i.flow) for i in items}:
        note_failure(installation_id, flow, error)


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


# --------------------------------------------------------------------------------------
# Periodic jobs: once per period, however many consumers run a scheduler
# --------------------------------------------------------------------------------------


def claim_period(job: str, period_key: str, *, commit: bool = True) -> bool:
    """Claim ``job`` for ``period_key``; False if someone already did. With ``commit=False``
    the claim joins the caller's transaction, so it commits (or rolls back) together with
    the work it stands for."""
    # RETURNING, not rowcount: rowcount of INSERT .. ON CONFLICT is unreliable across drivers.
    inserted = db.session.execute(insert_ignore(PeriodicRun.__table__).values({
        "job": job, "period_key": period_key, "owner": WORKER_ID,
        "started_at": now()}).returning(PeriodicRun.__table__.c.id)).scalar_one_or_none()
    if commit:
        db.session.commit()
    return inserted is not None


def period_key(period_seconds: int, at: datetime | None = None) -> str:
    at = at or now()
    return str(int(at.timestamp()) // period_seconds)


def periodic(cron: crontab, period_seconds: int, name: str | None = None, *, per_item: bool = False):
    """A Huey periodic task that runs at most once per period across all consumers.

    With ``per_item`` the whole period is not claimed up front: the job gets the period key
    and claims each item it queues (``claim_period(f"{job}:{item}", key, commit=False)``, in
    the transaction that queues it). A crash halfway then leaves the rest to the next
    trigger in the period instead of skipping them until the next period, and no item runs
    twice; such jobs are scheduled more often than their period so that a next trigger comes.
    """
    def decorate(fn: Callable[..., Any]):
        job = name or fn.__name__

        def run_once() -> Any:
            with _app_context():
                if per_item:
                    return fn(period_key(period_seconds))
                if not claim_period(job, period_key(period_seconds)):
                    log.info("periodic %s: already run in this period", job)
                    return None
                return fn()

        run_once.__name__ = job
        return huey.periodic_task(cron, name=job)(run_once)
    return decorate


@periodic(crontab(minute="*"), 60, name="sweep")
def sweep() -> dict[str, int]:
    return sweep_once()


@periodic(crontab(minute="17", hour="3"), 86400, name="prune")
def prune() -> dict[str, int]:
    return prune_once(current_app.config["RETENTION_DAYS"])


# --------------------------------------------------------------------------------------
# Running queued tasks in-process (tests, and the demo's single process)
# --------------------------------------------------------------------------------------


def run_queued_tasks(limit: int = 10_000) -> int:
    """Execute everything in the queue now, including what the tasks enqueue. Returns the
    number of tasks run. Scheduled (delayed) tasks stay scheduled."""
    count = 0
    while count < limit:
        task = huey.dequeue()
        if task is None:
            break
        huey.execute(task)
        count += 1
    return count


@contextmanager
def counting_task_runs() -> Iterator[dict[str, int]]:
    """Count executed tasks by name (a test measuring coalescing reads this)."""
    counts: dict[str, int] = {}

    def count(signal, task, *args):
        counts[task.name] = counts.get(task.name, 0) + 1

    huey.signal("executing")(count)
    try:
        yield counts
    finally:
        huey.disconnect_signal(count)
