"""Running claimed work: the flow, then settling each item; a batch flow goes on with the
next batches of its installation for a while (``_run_batches``)."""
from __future__ import annotations

import time
from typing import Callable

from sqlalchemy import update

from ..errors import PermanentError
from ..extensions import db
from ..http import cause as http_cause
from ..http import write_guard
from ..messages import N_
from ..models import WorkItem
from . import limits
from .claim import (claim_siblings, claim_work, class_of, fairer_than_running, next_ready, overdue_work, pick,
                    is_bulk, should_yield, waiting_bulk)
from .context import now
from .lease import Heartbeat
from .registry import BATCH_SIZES, FLOWS
from .settle import clear_interruption_notes, settle_failure, settle_succeeded
from .tasks import enqueue_work, runs
from .work import BULK, WorkContext, asking_as, ensure_owner, generations, owned_by


# What a work task that found its item taken does instead (``inbox.translate_overdue``, bound
# by the inbox module, which imports this one).
WHEN_IDLE: list[Callable[[], object]] = []


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
    deadline = time.monotonic() + limits.DRAIN_SECONDS
    first = outcome = _execute_claimed(item, batch)
    while (next_id := next_ready(installation_id, flow)) is not None:
        # Between batches the run yields to fairer work (another installation's turn, a user
        # waiting): its next batch goes to the queue, where ``pick`` decides.
        if outcome == "waiting" or time.monotonic() >= deadline or should_yield(next_id):
            enqueue_work(next_id, class_of(next_id), resumed=True)  # ahead of fresh bulk tasks (``tasks``)
            break
        next_item = claim_work(next_id)
        if next_item is None:
            break  # another run has it, and goes on from there
        outcome = _execute_claimed(next_item, batch)
    return first


def hand_over(ctx: WorkContext) -> bool:
    """For a long bulk run at a checkpoint between its pages (an import of 10,000 contacts):
    whether to stop there and go on later, because fairer work waits (``claim.fairer_than_running``):
    a user's work of its own installation at once; another installation's turn once the run
    has gone on for DRAIN_SECONDS, as a batch flow's run hands its next batch to the queue
    (``_run_batches``). A run that is not bulk never hands over.

    When True the item is marked to run again (``dirty``): it settles as queued, its task
    goes to the back of the queue and ``pick`` runs the fairer work first. The flow saves
    what it needs to resume before it returns."""
    if ctx.priority != BULK:
        return False
    long_enough = (now() - ctx.started).total_seconds() >= limits.DRAIN_SECONDS
    if not fairer_than_running(ctx.installation_id, ctx.priority, other_installations=long_enough):
        return False
    db.session.execute(update(WorkItem).where(owned_by(generations([ctx])), WorkItem.state == "running")
                       .values(dirty=True))
    return True


@runs("run_work")
def execute_work(item_id: int) -> str | None:
    """Run the fairest ready work in the task of ``item_id`` (``claim.pick``: most often that
    item, with its batch siblings). Returns how the first settled. When other work was
    fairer, the item's task is enqueued again, so it keeps its place in the queue; bulk work
    held back by its installation's limit on bulk runs is not (``claim.pick``): the run that
    ends gives it its task."""
    chosen, keep_hint = pick(item_id)
    if chosen is None:
        # Its work is taken: the inbox's overdue events instead, then work whose own task is
        # stuck in the line (``claim.overdue_work``).
        for idle in WHEN_IDLE:
            idle()
        waiting = overdue_work()
        if waiting is not None and (item := claim_work(waiting)) is not None:
            _run_claimed(item)
        return None
    item = claim_work(chosen)
    if item is None:
        if chosen != item_id and keep_hint:
            enqueue_work(item_id, class_of(item_id))  # another task took the fairer work first: it keeps its turn
        return None
    outcome = _run_claimed(item)
    if chosen != item_id and keep_hint:
        enqueue_work(item_id, class_of(item_id))
    return outcome


def _run_claimed(item: WorkItem) -> str | None:
    """Run a claimed item (with its batches, for a batch flow). When that was a bulk run,
    its place is free now: the installation's bulk work that waited for one gets its task
    (``claim.waiting_bulk``)."""
    installation_id, flow, bulk = item.installation_id, item.flow, is_bulk(item.flow, item.priority)
    batch = BATCH_SIZES.get(flow, 1)
    outcome = _execute_claimed(item, 1) if batch == 1 else _run_batches(item, batch)
    if bulk and (waiting := waiting_bulk(installation_id, flow)) is not None:
        enqueue_work(waiting, BULK)
    return outcome


def _execute_claimed(item: WorkItem, batch: int) -> str | None:
    runner = FLOWS.get(item.flow)
    alone = item.interruptions >= limits.RUN_ALONE_AFTER
    items = [item, *claim_siblings(item, batch - 1)] if runner and batch > 1 and not alone else [item]
    contexts = [WorkContext(i) for i in items]
    ids = [i.id for i in items]
    try:
        if runner is None:
            raise PermanentError(N_("Unknown flow %(flow)s.", flow=repr(item.flow)))
        # Each call names the work that made it; each write first checks the run still owns
        # it (fencing); the heartbeat keeps the lease while the run is alive; what the run
        # asks for is of its class.
        with http_cause("work=" + ",".join(map(str, ids))), write_guard(lambda: ensure_owner(contexts)), \
                Heartbeat(generations(contexts)), asking_as(contexts[0].priority):
            runner(contexts if batch > 1 else contexts[0])
        db.session.commit()
    except Exception as exc:  # every failure settles the items and leaves records
        db.session.rollback()
        outcomes = [settle_failure(i, ctx, exc) for i, ctx in zip(ids, contexts)]
        return outcomes[0]
    clear_interruption_notes(contexts)
    settled = settle_succeeded(generations([ctx for ctx in contexts if ctx.failure is None]))
    outcomes = [settle_failure(i, ctx, ctx.failure) if ctx.failure is not None else settled[i]
                for i, ctx in zip(ids, contexts)]
    return outcomes[0]
