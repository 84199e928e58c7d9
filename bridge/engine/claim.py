"""Claiming work: a conditional UPDATE hands each item to one run (a duplicate task is a
no-op), and a batch flow runs once at a time per installation, taking everything ready.

Which work goes next (``pick``) is fair: installations take turns (the one whose work was
claimed longest ago goes first, so one installation's backlog of 800 never holds another's
live event), and within an installation what a user waits for (Sync now, Retry, a live
event: priority 0) goes before bulk work (imports, backfills, reconcile: 1). A Huey task
names an item, but runs the work ``pick`` chooses: the queue's order (by class, then first
come, first served: ``tasks``) decides only which task a free thread takes next. One
installation has at most ``limits.BULK_RUNS_PER_INSTALLATION`` bulk runs going at once, so
its import, backfill and export together never hold every worker thread.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from sqlalchemy import func, select, update
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import Installation, WorkItem
from . import limits
from .context import now
from .registry import BATCH_SIZES, BULK_FLOWS
from .work import BULK, covered_through


def claim_work(item_id: int) -> WorkItem | None:
    """Claim a queued item, or a waiting one whose retry is due: the task scheduled for its
    retry runs it then (the sweeper is only the safety net, a minute later).

    Most tasks of a burst find their item taken by a batch already: reads tell them so,
    without taking the database's write lock."""
    t = now()
    owner = db.session.execute(select(WorkItem.installation_id, WorkItem.flow)
                               .where(WorkItem.id == item_id, ready(t))).first()
    batched = owner is not None and BATCH_SIZES.get(owner.flow, 1) > 1
    if owner is None or (batched and db.session.scalar(select(_batch_running(owner.installation_id, owner.flow, t)))):
        db.session.commit()
        return None  # done, not due, or a run of its batch flow is going on and starts the next
    claim = update(WorkItem).where(WorkItem.id == item_id, ready(t))
    if batched:
        _lock_installation(owner.installation_id)
        claim = claim.where(~_batch_running(owner.installation_id, owner.flow, t))
    claimed = db.session.execute(claim.values(state="running", dirty=False, lease_until=t + limits.WORK_LEASE,
                                              runs=WorkItem.runs + 1, last_run_at=t,
                                              lease_generation=WorkItem.lease_generation + 1,
                                              covered_through=covered_through())).rowcount
    if claimed:
        db.session.execute(update(Installation).where(Installation.id == owner.installation_id).values(served_at=t))
    db.session.commit()
    return db.session.get(WorkItem, item_id) if claimed else None


def ready(t: datetime):
    """Queued, or waiting with its retry due."""
    return (WorkItem.state == "queued") | ((WorkItem.state == "waiting") &
                                            (WorkItem.next_attempt_at <= t + limits.RETRY_EARLY))


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
    db.session.execute(select(Installation.id).where(Installation.id == installation_id).with_for_update())


def next_ready(installation_id: int, flow: str) -> int | None:
    """The item of the flow to run next (a due retry too: its own task may have found a run
    going and left): what a user waits for first, then the oldest."""
    next_id = db.session.scalar(select(WorkItem.id).where(
        WorkItem.installation_id == installation_id, WorkItem.flow == flow, ready(now()))
        .order_by(WorkItem.priority, WorkItem.updated_at, WorkItem.id).limit(1))
    db.session.commit()
    return next_id


def class_of(item_id: int) -> int:
    """The item's class (``WorkItem.priority``), for the line its next task enters."""
    work_class = db.session.scalar(select(WorkItem.priority).where(WorkItem.id == item_id))
    db.session.commit()
    return 1 if work_class is None else work_class


class Pick(NamedTuple):
    """What a task runs (``run``; None: nothing), and whether the task's own item keeps a
    task in the queue when another's work runs instead (``keep_hint``)."""
    run: int | None
    keep_hint: bool = True


def pick(hint_id: int) -> Pick:
    """The work a task for ``hint_id`` runs: nothing when that item is not ready (done,
    taken, or a run of its batch flow is going on and takes it next); the fairest ready work
    (``fairest``) when that is fairer by turn or class (another installation's turn, a
    user's work before bulk); else the item itself (the queue's order among equals).

    Bulk work of an installation with ``limits.BULK_RUNS_PER_INSTALLATION`` bulk runs going
    does not start: the task runs the fairest other work, and its own item keeps no task
    (a thousand backfilled invoices would otherwise cycle through the queue while they
    wait); the run that ends or hands over starts it (``waiting_bulk``)."""
    t = now()
    owner = db.session.execute(select(WorkItem.installation_id, WorkItem.flow, WorkItem.priority)
                               .where(WorkItem.id == hint_id, ready(t))).first()
    if owner is None or (BATCH_SIZES.get(owner.flow, 1) > 1 and
                         db.session.scalar(select(_batch_running(owner.installation_id, owner.flow, t)))):
        db.session.commit()
        return Pick(None)
    running = _running_groups(t)
    chosen = fairest(t, running)
    if is_bulk(owner.flow, owner.priority) and \
            _bulk_runs(running).get(owner.installation_id, 0) >= limits.BULK_RUNS_PER_INSTALLATION:
        db.session.commit()
        return Pick(chosen, keep_hint=False)
    fairer = chosen is not None and chosen != hint_id and _rank(chosen) < _rank(hint_id)
    db.session.commit()
    return Pick(chosen if fairer else hint_id)


def _running_groups(t: datetime) -> dict[tuple[int, str], tuple[int, int]]:
    """Each (installation, flow) with work running: how many items, and their best class."""
    return {(i, f): (n, p) for i, f, n, p in db.session.execute(
        select(WorkItem.installation_id, WorkItem.flow, func.count(), func.min(WorkItem.priority))
        .where(WorkItem.state == "running", WorkItem.lease_until > t)
        .group_by(WorkItem.installation_id, WorkItem.flow))}


def is_bulk(flow: str, work_class: int) -> bool:
    """Bulk work: of the bulk class, or of a bulk flow (an import or a backfill a user
    started runs as bulk all the same, ``WorkContext.priority``)."""
    return work_class >= BULK or flow in BULK_FLOWS


def _bulk_runs(groups: dict[tuple[int, str], tuple[int, int]]) -> dict[int, int]:
    """Bulk runs going now, per installation: a batch flow's run counts once, each running
    item of a flow run one at a time once; a run of a flow that is not bulk with a user's
    item in it is not bulk."""
    counts: dict[int, int] = {}
    for (i, f), (n, p) in groups.items():
        if is_bulk(f, p):
            counts[i] = counts.get(i, 0) + (1 if BATCH_SIZES.get(f, 1) > 1 else n)
    return counts


def fairest(t: datetime, running: dict[tuple[int, str], tuple[int, int]] | None = None) -> int | None:
    """The ready item to run next across installations: the installation served longest ago
    (never served first), then its work by class (a user waiting before bulk), then the
    oldest. Work of a batch flow whose run is going on is left to that run.

    In steps, each answered from ``ix_work_items_pick`` (state, installation, flow, class,
    age) without sorting the backlog: the (installation, flow) groups with ready work and
    their best class, the turn among them, then the oldest item of the winning groups."""
    batched = {name for name, size in BATCH_SIZES.items() if size > 1}
    running = _running_groups(t) if running is None else running  # ``pick`` has read them already
    bulk_runs = _bulk_runs(running)
    best_class: dict[tuple[int, str], int] = {}
    for part in _ready_parts(t):
        for i, f, p in db.session.execute(select(WorkItem.installation_id, WorkItem.flow, func.min(WorkItem.priority))
                                          .where(part).group_by(WorkItem.installation_id, WorkItem.flow)):
            if not (f in batched and (i, f) in running):
                best_class[(i, f)] = min(p, best_class.get((i, f), p))
    # An installation's bulk work waits while it has its bulk runs going (``pick``).
    groups = [(i, f, p) for (i, f), p in best_class.items()
              if not is_bulk(f, p) or bulk_runs.get(i, 0) < limits.BULK_RUNS_PER_INSTALLATION]
    if not groups:
        return None
    served = dict(db.session.execute(select(Installation.id, Installation.served_at)
                                     .where(Installation.id.in_({g[0] for g in groups}))).all())
    turns = {g: turn(served.get(g[0]), g[2]) for g in groups}
    best = min(turns.values())
    winners = [(i, f) for (i, f, _), key in turns.items() if key == best]
    oldest = [db.session.execute(select(WorkItem.updated_at, WorkItem.id).where(
        WorkItem.installation_id == i, WorkItem.flow == f, WorkItem.priority == best[2], state)
        .order_by(WorkItem.updated_at, WorkItem.id).limit(1)).first()
        for i, f in winners for state in _ready_parts(t)]
    found = [row for row in oldest if row is not None]
    return min(found)[1] if found else None


def _ready_parts(t: datetime):
    """``ready`` as its two parts, each an index range (an OR of them is not)."""
    return (WorkItem.state == "queued",
            (WorkItem.state == "waiting") & (WorkItem.next_attempt_at <= t + limits.RETRY_EARLY))


def turn(served_at: datetime | None, priority: int) -> tuple:
    """Whose turn (the installation served longest ago, never served first), then the class."""
    return (served_at is not None, served_at or datetime.min.replace(tzinfo=timezone.utc), priority)


def _rank(item_id: int) -> tuple:
    """What fairness compares: whose turn (its installation served longest ago, never served
    first), then the class. Age decides only among equals, and the queue does that."""
    served_at, priority = db.session.execute(
        select(Installation.served_at, WorkItem.priority).join(Installation, Installation.id == WorkItem.installation_id)
        .where(WorkItem.id == item_id)).one()
    return turn(served_at, priority)


def waiting_bulk(installation_id: int, ended_flow: str) -> int | None:
    """Called when one of the installation's bulk runs (of ``ended_flow``) ended or handed
    over: its bulk work that waited for a free place (``pick`` left it without a task), the
    oldest, leaving out batch flows running now and the one that ended (their next batch
    has its task). None unless the run that ended made the place free (its installation
    was at the limit with it, so work may have been left waiting): a run that ended below
    the limit left nothing without a task, and asking then would give every run of a long
    reconcile a duplicate task. Work that had a task anyway gets a second one, which finds
    it taken; two runs ending at the same instant may leave it to the sweeper."""
    t = now()
    running = _running_groups(t)
    if _bulk_runs(running).get(installation_id, 0) != limits.BULK_RUNS_PER_INSTALLATION - 1:
        db.session.commit()
        return None
    batched = {name for name, size in BATCH_SIZES.items() if size > 1}
    found = []
    for part in _ready_parts(t):
        row = db.session.execute(select(WorkItem.updated_at, WorkItem.id, WorkItem.flow).where(
            WorkItem.installation_id == installation_id, part,
            (WorkItem.priority >= BULK) | WorkItem.flow.in_(sorted(BULK_FLOWS) or [""]),
            WorkItem.flow.not_in([f for f in (ended_flow, *(f for (i, f) in running if i == installation_id))
                                  if f in batched] or [""]))
            .order_by(WorkItem.updated_at, WorkItem.id).limit(1)).first()
        if row is not None:
            found.append(row)
    db.session.commit()
    return min(found)[1] if found else None


def should_yield(next_id: int) -> bool:
    """Whether a run about to go on with its next batch (``next_id`` first) should hand over
    instead: other work is fairer (another installation's turn, or a user waiting for other
    work of its own installation)."""
    chosen = fairest(now())
    fairer = chosen is not None and chosen != next_id and _rank(chosen) < _rank(next_id)
    db.session.commit()
    return fairer


def overdue_work() -> int | None:
    """The fairest ready work (``fairest``) when it has waited past its gathering window and
    INBOX_OVERDUE more: its own task is stuck in the queue's line behind another
    installation's burst, so a task that found nothing to do runs it instead. None otherwise."""
    t = now()
    chosen = fairest(t)
    waited = None if chosen is None else db.session.scalar(select(WorkItem.updated_at).where(WorkItem.id == chosen))
    db.session.commit()
    if waited is None or waited > t - limits.INBOX_OVERDUE - timedelta(seconds=limits.GATHER_SECONDS):
        return None
    return chosen


def fairer_than_running(installation_id: int, priority: int, *, other_installations: bool) -> bool:
    """Whether ready work is fairer than a run of this installation and class going on
    (``run.hand_over``): a user's work of its own installation when the run is bulk, and with
    ``other_installations`` another installation's work whose turn came first. Work of a
    batch flow whose run is going on is left out (that run takes it; handing over would not
    start it sooner). Reads only: the run's transaction is the flow's."""
    t = now()
    batched = {name for name, size in BATCH_SIZES.items() if size > 1}
    running = {flow for (flow,) in db.session.execute(select(WorkItem.flow).where(
        WorkItem.installation_id == installation_id, WorkItem.state == "running", WorkItem.lease_until > t).distinct())}
    for part in _ready_parts(t):
        waiting = db.session.scalars(select(WorkItem.flow).where(
            WorkItem.installation_id == installation_id, WorkItem.priority < priority, part).distinct()).all()
        if any(flow not in batched or flow not in running for flow in waiting):
            return True
    if not other_installations:
        return False
    chosen = fairest(t)
    if chosen is None:
        return False
    served_at = db.session.scalar(select(Installation.served_at).where(Installation.id == installation_id))
    return _rank(chosen) < turn(served_at, priority)


def claim_siblings(item: WorkItem, limit: int) -> list[WorkItem]:
    """Claim up to ``limit`` more ready items of the same installation and flow, in the order
    they were queued: an item queued again by the echo of our own write-back waits behind
    the invoices not yet sent (by id, the echoes of the first batches filled later batches
    with nothing to send, and each such batch still cost its ledger calls). Due retries come
    along, so a batch that waited out a limit goes on as a batch."""
    if limit <= 0:
        return []
    t = now()
    candidates = (select(WorkItem.id).where(WorkItem.installation_id == item.installation_id,
                                            WorkItem.flow == item.flow, ready(t),
                                            WorkItem.interruptions < limits.RUN_ALONE_AFTER)
                  .order_by(WorkItem.priority, WorkItem.updated_at, WorkItem.id).limit(limit).scalar_subquery())
    ids = db.session.execute(
        update(WorkItem).where(WorkItem.id.in_(candidates), ready(t))
        .values(state="running", dirty=False, lease_until=t + limits.WORK_LEASE, runs=WorkItem.runs + 1, last_run_at=t,
                lease_generation=WorkItem.lease_generation + 1, covered_through=covered_through())
        .returning(WorkItem.id)).scalars().all()
    db.session.commit()
    if not ids:
        return []
    loaded = {i.id: i for i in db.session.scalars(select(WorkItem).where(WorkItem.id.in_(ids)))}
    return [loaded[i] for i in ids]
