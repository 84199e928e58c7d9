"""Settling a run: done (or queued again when a change came in meanwhile), retried later
with exponential backoff (never sooner than Retry-After), paused by a spent API budget, or
failed and recorded for a person (the failure hooks alert them)."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import case, update

from ..errors import BudgetExhausted, ConflictError, PacingWait, PermanentError, RetryableError, SyncError, unexpected
from ..extensions import db
from ..messages import N_
from ..models import SyncRecord, WorkItem
from ..redaction import redact, redact_all
from ..stored_messages import columns, to_stored
from . import limits
from .context import enqueue_after_commit, now
from .registry import notify_failure
from .sweeper import INTERRUPTED_CODE
from .tasks import enqueue_work
from .work import WorkContext, owned_by


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter, never sooner than the server asked."""
    delay = min(limits.BACKOFF_BASE * (2 ** max(attempt - 1, 0)), limits.BACKOFF_CAP)
    delay *= random.uniform(0.8, 1.2)
    return max(delay, retry_after or 0.0)


def clear_interruption_notes(contexts: list[WorkContext]) -> None:
    """A live run that outlived its lease was taken for a dead one: the sweeper noted its
    records as interrupted. The run went on and finished them, so the note is wrong; without
    this a record would read "succeeded" beside "This attempt was interrupted". A run shorter
    than WORK_LEASE cannot have been taken for dead: it costs no statement."""
    t = now()
    record_ids = [r.id for ctx in contexts if t - ctx.started >= limits.WORK_LEASE
                  for r in ctx.records if r.id is not None]
    if record_ids:
        db.session.execute(update(SyncRecord).where(
            SyncRecord.id.in_(record_ids), SyncRecord.error_code == INTERRUPTED_CODE,
            SyncRecord.state.in_(("succeeded", "skipped"))).values(error_code=None, **columns(error_message=None), retry_at=None))


def settle_succeeded(owned: dict[int, int]) -> dict[int, str]:
    """Settle the items that ran through (id -> the generation the run claimed): idle, or
    queued again when a change came in while they ran (``dirty``). One statement for the
    whole batch (each row decided atomically: a request marking it dirty meanwhile either
    lands before, and it is re-run, or finds it idle and queues it itself). An item another
    run has claimed since is that run's to settle: "lost" here."""
    if not owned:
        return {}
    rows = db.session.execute(
        update(WorkItem).where(owned_by(owned))
        .values(state=case((WorkItem.dirty.is_(True), "queued"), else_="idle"), dirty=False, lease_until=None,
                next_attempt_at=None, attempts=0, interruptions=0, updated_at=now())
        .returning(WorkItem.id, WorkItem.state, WorkItem.priority)).all()
    db.session.commit()
    outcomes = {item_id: "lost" for item_id in owned}
    for item_id, state, work_class in rows:
        outcomes[item_id] = "rerun" if state == "queued" else state
        if state == "queued":
            enqueue_work(item_id, work_class, resumed=True)
    return outcomes


def _settle(item_id: int, state: str, *, attempts: int | None = None,
            next_attempt_at: datetime | None = None) -> str:
    item = db.session.get(WorkItem, item_id)
    db.session.refresh(item, with_for_update=True)
    rerun = item.dirty and state == "idle"
    item.state = "queued" if rerun else state
    item.dirty = False if rerun else item.dirty
    item.lease_until = None
    item.next_attempt_at = next_attempt_at
    item.interruptions = 0  # this run settled: a next interruption is the first in a row
    if attempts is not None:
        item.attempts = attempts
    if rerun:
        enqueue_after_commit(enqueue_work, item_id, item.priority)
    db.session.commit()
    return "rerun" if rerun else state


def settle_failure(item_id: int, context: WorkContext, exc: Exception) -> str:
    item = db.session.get(WorkItem, item_id)
    db.session.refresh(item, with_for_update=True)
    if item.lease_generation != context.generation:  # taken over: the new run records and settles
        db.session.commit()
        return "lost"
    attempt = item.attempts + 1
    if isinstance(exc, SyncError):
        error = exc
    else:  # a bug or an unexpected library error: retried; the details only in the log, under an error id
        error = unexpected(exc, f"flow {item.flow} on {item.object_key}")
    # Waiting for a limit (our pacing, a spent day budget) is no attempt of the item's.
    tries = item.attempts if isinstance(error, (PacingWait, BudgetExhausted)) else attempt
    if isinstance(error, RetryableError) and tries >= limits.MAX_ATTEMPTS:
        error = PermanentError(N_("Gave up after %(attempt)s attempts: %(message)s",
                                  attempt=attempt, message=error.message), code=error.code,
                               fix=N_("Check the connection and press Retry."), ledger_messages=error.ledger_messages)
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
        enqueue_work(item_id, item.priority, delay=delay)
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
            record.received = {"ours": error.ours, "theirs": error.theirs,
                               "choices": [to_stored(choice) for choice in error.choices]}
    if state == "failed":  # a person must act: alert them (enqueued, sent after the commit)
        notify_failure(item.installation_id, item.flow, error)
