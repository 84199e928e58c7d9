"""The job engine: inbox dedup, coalescing, retries, the sweeper, periodic claims."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select, update

from bridge import engine
from bridge.engine import claim, limits
from tests.support import tasks
from bridge.errors import BudgetExhausted, ConflictError, PermanentError, RetryableError
from bridge.extensions import db, huey
from bridge.models import InboxEvent, SyncRecord, WorkItem, utcnow


@pytest.fixture
def registry():
    """A test event source and flow, removed afterwards."""
    seen: list[str] = []
    behaviour: dict[str, object] = {}

    def translate(event: InboxEvent):
        return [engine.WorkRequest(event.installation_id, "test_flow", event.object_key)]

    def run(ctx: engine.WorkContext):
        seen.append(ctx.object_key)
        record = ctx.record(object_kind="invoice", object_id=ctx.object_key, direction="to_ledger")
        action = behaviour.get(ctx.object_key)
        if callable(action):
            action(ctx)
        elif isinstance(action, Exception):
            raise action
        record.state = "succeeded"

    engine.INBOX_HANDLERS["test"] = translate
    engine.FLOWS["test_flow"] = run
    yield seen, behaviour
    engine.INBOX_HANDLERS.pop("test", None)
    engine.FLOWS.pop("test_flow", None)


def ingest(installation, dedup: str, obj: str = "invoice:1") -> bool:
    return engine.record_inbound("test", dedup, installation_id=installation.id, topic="update",
                                 object_key=obj, payload="{}")


def test_same_event_twice_makes_one_row_and_one_job(installation, registry, run_jobs):
    seen, _ = registry
    assert ingest(installation, "evt-1") is True
    assert ingest(installation, "evt-1") is False
    assert db.session.scalar(select(func.count()).select_from(InboxEvent)) == 1
    assert huey.pending_count() == 1
    run_jobs()
    assert seen == ["invoice:1"]


def test_nothing_is_enqueued_for_a_row_that_rolled_back(installation, registry):
    engine.enqueue_after_commit(engine.process_inbox, 12345)
    db.session.rollback()
    assert huey.pending_count() == 0


def test_many_events_on_few_objects_coalesce_into_few_runs(installation, registry, run_jobs):
    seen, behaviour = registry
    # While invoice:1 runs, more events for it arrive: they must become one more run, not many.
    def more_events_arrive(ctx):
        if seen.count("invoice:1") > 1:
            return  # only while the first run is going on
        for n in range(5):
            ingest(installation, f"during-{n}", "invoice:1")
            engine.handle_inbox_event(db.session.scalar(select(InboxEvent.id).where(
                InboxEvent.dedup_key == f"during-{n}")))
    behaviour["invoice:1"] = more_events_arrive
    for n in range(200):
        ingest(installation, f"evt-{n}", f"invoice:{n % 10}")
    with tasks.counting_task_runs() as counts:
        behaviour_runs = run_jobs()
    assert behaviour_runs > 0
    runs = db.session.scalar(select(func.sum(WorkItem.runs)))
    assert 10 <= runs <= 20
    assert seen.count("invoice:1") == 2  # the first run, then exactly one for the dirty flag
    assert counts["run_work"] == len(seen)


@pytest.fixture
def batched_test_source(registry):
    engine.BATCHED_INBOX_SOURCES.add("test")
    yield registry
    engine.BATCHED_INBOX_SOURCES.discard("test")


def test_a_burst_of_events_is_translated_a_batch_per_commit(installation, batched_test_source, run_jobs):
    """A thousand invoices imported at once are a thousand callbacks: translated a batch per
    commit, every one done, every object's work requested once."""
    for n in range(120):
        ingest(installation, f"burst-{n}", f"invoice:{n}")
    commits: list[object] = []
    session, count_commit = db.session.registry(), commits.append
    sa_event.listen(session, "after_commit", count_commit)
    try:
        engine.handle_inbox_event(db.session.scalar(select(func.min(InboxEvent.id))))
    finally:
        sa_event.remove(session, "after_commit", count_commit)
    states = dict(db.session.execute(select(InboxEvent.state, func.count()).group_by(InboxEvent.state)).all())
    assert states == {"done": limits.INBOX_BATCH, "pending": 120 - limits.INBOX_BATCH}
    assert len(commits) <= 4  # read, claim, claim the batch, translate it (was 2 per event)
    run_jobs()
    assert db.session.scalar(select(func.count()).select_from(InboxEvent).where(InboxEvent.state != "done")) == 0
    assert db.session.scalar(select(func.count()).select_from(WorkItem)) == 120


def test_a_burst_starts_its_batch_work_at_once_and_runs_no_object_twice(
        installation, batched_test_source, batch_flow, run_jobs):
    """The work starts in the task that translated the burst's first batch, not behind the
    burst's own event tasks; the events translated after a run began, but stored before it,
    ask for no second run (that run read what they tell of)."""
    engine.INBOX_HANDLERS["test"] = lambda event: [engine.WorkRequest(event.installation_id, "test_batch",
                                                                  event.object_key)]
    for n in range(60):
        ingest(installation, f"burst-{n}", f"invoice:{n % 7}")  # eight or nine events per invoice
    engine.handle_inbox_event(db.session.scalar(select(func.min(InboxEvent.id))))
    assert [key for run in batch_flow for key in run] == [f"invoice:{n}" for n in range(7)]  # each once
    assert [len(run) for run in batch_flow] == [3, 3, 1]  # one run after the other, in this task
    assert db.session.scalar(select(func.count()).select_from(InboxEvent).where(InboxEvent.state == "pending")) == 11
    with tasks.counting_task_runs() as counts:
        run_jobs()  # the rest of the burst: translated, covered by those runs
    assert len(batch_flow) == 3
    assert counts["process_inbox"] == 60 and counts["run_work"] == 3  # a task per batch's worth, not per item
    ingest(installation, "after-the-runs", "invoice:3")  # a change after they read: a run
    run_jobs()
    assert batch_flow[3:] == [["invoice:3"]]


def test_an_event_stored_during_a_run_runs_its_object_again(installation, registry, run_jobs):
    seen, behaviour = registry

    def edited_meanwhile(ctx):
        if len(seen) == 1:
            ingest(installation, "edit-during-run", "invoice:1")
            engine.handle_inbox_event(db.session.scalar(select(InboxEvent.id).where(
                InboxEvent.dedup_key == "edit-during-run")))
    behaviour["invoice:1"] = edited_meanwhile
    ingest(installation, "first", "invoice:1")
    run_jobs()
    assert seen == ["invoice:1", "invoice:1"]


def test_a_bad_event_in_a_batch_fails_alone(installation, batched_test_source, run_jobs):
    seen, _ = batched_test_source
    original = engine.INBOX_HANDLERS["test"]

    def translate(event: InboxEvent):
        if event.object_key == "invoice:3":
            raise PermanentError("This event names an invoice type we do not know.")
        return original(event)

    engine.INBOX_HANDLERS["test"] = translate
    for n in range(6):
        ingest(installation, f"mixed-{n}", f"invoice:{n}")
    run_jobs()
    failed = db.session.scalars(select(InboxEvent).where(InboxEvent.state == "failed")).all()
    assert [e.object_key for e in failed] == ["invoice:3"]
    assert "invoice type we do not know" in failed[0].last_error
    assert sorted(seen) == ["invoice:0", "invoice:1", "invoice:2", "invoice:4", "invoice:5"]


def test_events_of_a_source_that_calls_out_are_not_batched(installation, registry, run_jobs):
    for n in range(3):
        ingest(installation, f"single-{n}", f"invoice:{n}")
    engine.handle_inbox_event(db.session.scalar(select(func.min(InboxEvent.id))))
    states = sorted(db.session.scalars(select(InboxEvent.state)).all())
    assert states == ["done", "pending", "pending"]


@pytest.fixture
def batch_flow():
    """A batch flow (3 items a run) that records the batches it got."""
    batches: list[list[str]] = []
    engine.FLOWS["test_batch"] = lambda contexts: batches.append([c.object_key for c in contexts])
    engine.BATCH_SIZES["test_batch"] = 3
    yield batches
    engine.FLOWS.pop("test_batch", None)
    engine.BATCH_SIZES.pop("test_batch", None)


def test_one_batch_run_at_a_time_per_installation_takes_all_that_is_queued(installation, batch_flow, run_jobs):
    """Side-by-side runs of a batch flow split the queue into small batches (more ledger calls)
    and race to create the same customer: a second run waits, and the first one, when it
    ends, starts the next with everything queued meanwhile."""
    first = engine.request_work(engine.WorkRequest(installation.id, "test_batch", "invoice:1"))
    db.session.commit()
    item = db.session.get(WorkItem, first)
    item.state, item.lease_until = "running", utcnow() + timedelta(minutes=5)  # a run going on elsewhere
    db.session.commit()
    for n in range(2, 9):
        engine.request_work(engine.WorkRequest(installation.id, "test_batch", f"invoice:{n}"))
    db.session.commit()
    run_jobs()
    assert batch_flow == []  # each task found the run going and left its item queued
    assert db.session.scalar(select(func.count()).select_from(WorkItem).where(WorkItem.state == "queued")) == 7
    item.state = "idle"  # the other run ends; it runs the next ones
    db.session.commit()
    engine.execute_work(db.session.scalar(select(func.min(WorkItem.id)).where(WorkItem.state == "queued")))
    assert batch_flow == [["invoice:2", "invoice:3", "invoice:4"], ["invoice:5", "invoice:6", "invoice:7"],
                          ["invoice:8"]]


def test_a_run_goes_on_with_the_next_batches_for_a_while_then_enqueues_the_next(
        installation, batch_flow, run_jobs, monkeypatch):
    for n in range(1, 8):
        engine.request_work(engine.WorkRequest(installation.id, "test_batch", f"invoice:{n}"))
    db.session.commit()
    monkeypatch.setattr(limits, "DRAIN_SECONDS", 0.0)  # its time is up after the first batch
    first = db.session.scalar(select(func.min(WorkItem.id)))
    with tasks.counting_task_runs() as counts:
        engine.execute_work(first)
        assert len(batch_flow) == 1 and huey.pending_count() == 8  # the item tasks and the next batch's
        run_jobs()
    assert [len(run) for run in batch_flow] == [3, 3, 1]
    assert counts["run_work"] == 7 + 2  # the items' own tasks, and one per batch after the first


def test_a_batch_that_ends_waiting_leaves_the_next_to_the_queue(installation, batch_flow, run_jobs):
    """A limit or an outage ends a batch waiting: the run stops there instead of trying the next
    batches at once (each would read the platform before meeting the same limit)."""
    def limited(contexts):
        batch_flow.append([c.object_key for c in contexts])
        raise RetryableError("Xero's minute is spent", retry_after=30, code="rate_limited")
    engine.FLOWS["test_batch"] = limited
    for n in range(1, 8):
        engine.request_work(engine.WorkRequest(installation.id, "test_batch", f"invoice:{n}"))
    db.session.commit()
    huey.flush()
    engine.execute_work(db.session.scalar(select(func.min(WorkItem.id))))
    assert batch_flow == [["invoice:1", "invoice:2", "invoice:3"]]
    first_four = db.session.scalars(select(WorkItem.id).order_by(WorkItem.id).limit(4)).all()
    assert sorted((t.args[0], t.eta is not None) for t in huey.pending()) == [
        (first_four[0], True), (first_four[1], True), (first_four[2], True),  # their retries, in 30 s
        (first_four[3], False)]  # the next batch, enqueued to run now


def test_a_long_run_renews_its_lease_so_the_sweeper_starts_no_second_one(installation, registry, run_jobs):
    seen, behaviour = registry
    swept: list[dict] = []

    def long_run(ctx):
        item = db.session.get(WorkItem, ctx.item.id)
        item.lease_until = utcnow() - timedelta(seconds=1)  # WORK_LEASE has passed: minutes of import
        db.session.commit()
        engine.renew_lease(ctx)  # its checkpoint
        db.session.commit()
        swept.append(engine.sweep_once())
    behaviour["invoice:1"] = long_run
    ingest(installation, "e1")
    run_jobs()
    assert swept == [{"inbox": 0, "work": 0}] and seen == ["invoice:1"]


def test_a_run_whose_worker_died_holds_nothing_after_its_lease(installation, batch_flow, run_jobs):
    first = engine.request_work(engine.WorkRequest(installation.id, "test_batch", "invoice:1"))
    db.session.commit()
    item = db.session.get(WorkItem, first)
    item.state, item.lease_until = "running", utcnow() - timedelta(seconds=1)  # its lease ran out
    db.session.commit()
    engine.request_work(engine.WorkRequest(installation.id, "test_batch", "invoice:2"))
    db.session.commit()
    run_jobs()
    assert batch_flow == [["invoice:2"]]


def test_retryable_error_waits_with_backoff_and_keeps_the_record(installation, registry, run_jobs):
    _, behaviour = registry
    behaviour["invoice:1"] = RetryableError("Xero is down", retry_after=120)
    ingest(installation, "e1")
    run_jobs()
    item = db.session.scalar(select(WorkItem))
    assert item.state == "waiting" and item.attempts == 1
    assert item.next_attempt_at - utcnow() >= timedelta(seconds=115)
    record = db.session.scalar(select(SyncRecord))
    assert record.state == "retrying" and record.error_message == "Xero is down"
    assert huey.scheduled_count() == 1


def test_a_retry_runs_when_its_scheduled_task_fires_without_waiting_for_the_sweeper(installation, registry,
                                                                                 run_jobs):
    seen, behaviour = registry
    behaviour["invoice:1"] = RetryableError("Xero is down", retry_after=120)
    ingest(installation, "e1")
    run_jobs()
    item = db.session.scalar(select(WorkItem))
    assert item.state == "waiting"
    engine.execute_work(item.id)  # the scheduled task firing early (a clock skew): not yet
    assert len(seen) == 1
    del behaviour["invoice:1"]
    item.next_attempt_at = utcnow() - timedelta(seconds=1)  # its time has come
    db.session.commit()
    engine.execute_work(item.id)  # what the scheduled task does then
    db.session.refresh(item)
    assert len(seen) == 2 and item.state == "idle"
    assert db.session.scalars(select(SyncRecord.state).order_by(SyncRecord.id)).all() == ["retrying", "succeeded"]


def test_backoff_grows_exponentially_and_honours_retry_after():
    assert 24 <= engine.backoff_seconds(1) <= 36
    assert 96 <= engine.backoff_seconds(3) <= 144
    assert engine.backoff_seconds(30) <= limits.BACKOFF_CAP * 1.2
    assert engine.backoff_seconds(1, retry_after=600) == 600


def test_permanent_error_is_recorded_with_what_to_fix_and_not_retried(installation, registry, run_jobs):
    _, behaviour = registry
    behaviour["invoice:1"] = PermanentError("Tax rate 8.1% is not mapped.", fix="Settings > Tax mapping",
                                            ledger_messages=["TaxType is invalid"])
    ingest(installation, "e1")
    run_jobs()
    item = db.session.scalar(select(WorkItem))
    assert item.state == "idle" and huey.scheduled_count() == 0
    record = db.session.scalar(select(SyncRecord))
    assert (record.state, record.error_fix, record.ledger_messages) == (
        "failed", "Settings > Tax mapping", ["TaxType is invalid"])


def test_conflict_keeps_both_versions(installation, registry, run_jobs):
    _, behaviour = registry
    behaviour["invoice:1"] = ConflictError("Xero has it approved", ours={"total": "10"}, theirs={"total": "12"},
                                           choices=["void and recreate", "keep Xero"])
    ingest(installation, "e1")
    run_jobs()
    record = db.session.scalar(select(SyncRecord))
    assert record.state == "conflict"
    assert record.received["theirs"] == {"total": "12"}


def test_spent_budget_pauses_without_counting_an_attempt(installation, registry, run_jobs):
    _, behaviour = registry
    resume = utcnow() + timedelta(hours=3)
    behaviour["invoice:1"] = BudgetExhausted("Xero daily limit reached", resume_at=resume, retry_after=10800)
    ingest(installation, "e1")
    run_jobs()
    item = db.session.scalar(select(WorkItem))
    assert item.state == "waiting" and item.attempts == 0
    assert abs((item.next_attempt_at - resume).total_seconds()) < 1


def test_a_crash_in_the_flow_is_retried_and_shown(installation, registry, run_jobs):
    _, behaviour = registry
    behaviour["invoice:1"] = KeyError("LineItems")
    ingest(installation, "e1")
    run_jobs()
    record = db.session.scalar(select(SyncRecord))
    # In plain words with an error id; the exception (its class, its text) only in the log.
    assert record.state == "retrying" and "error id" in record.error_message
    assert "KeyError" not in record.error_message and "LineItems" not in f"{record.error_message} {record.error_fix}"


def test_sweeper_finishes_an_event_a_killed_worker_left(installation, registry, run_jobs):
    seen, _ = registry
    ingest(installation, "e1")
    huey.flush()  # the worker that dequeued it died: the task is gone
    event = db.session.scalar(select(InboxEvent))
    event.state, event.lease_until = "processing", utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert engine.sweep_once()["inbox"] == 1
    run_jobs()
    assert seen == ["invoice:1"]
    assert db.session.scalar(select(InboxEvent.state)) == "done"


def test_sweeper_revives_running_work_of_a_dead_worker_and_due_retries(installation, registry, run_jobs):
    seen, _ = registry
    ingest(installation, "e1", "invoice:1")
    ingest(installation, "e2", "invoice:2")
    run_jobs()
    items = db.session.scalars(select(WorkItem).order_by(WorkItem.id)).all()
    items[0].state, items[0].lease_until = "running", utcnow() - timedelta(seconds=1)
    items[1].state, items[1].next_attempt_at = "waiting", utcnow() - timedelta(seconds=1)
    db.session.commit()
    huey.flush()
    assert engine.sweep_once()["work"] == 2
    run_jobs()
    assert sorted(seen) == ["invoice:1", "invoice:1", "invoice:2", "invoice:2"]


def test_a_dead_workers_record_says_it_was_interrupted(installation, registry, run_jobs):
    """A killed worker's sync record would otherwise read "running" for ever in the sync log.
    The attempt is not counted: a run that only outlived its lease must not edge towards
    giving up (the PostgreSQL-restart test, whose lease is 2 s, gave up so)."""
    ingest(installation, "e1", "invoice:1")
    run_jobs()
    item = db.session.scalar(select(WorkItem))
    item.state, item.lease_until, item.attempts = "running", utcnow() - timedelta(seconds=1), 0
    db.session.add(SyncRecord(installation_id=installation.id, work_item_id=item.id, flow=item.flow,
                              object_kind="invoice", object_id="1", direction="to_ledger", state="running"))
    db.session.add(SyncRecord(installation_id=installation.id, work_item_id=item.id, flow=item.flow,
                              object_kind="invoice", object_id="1", direction="to_ledger", state="succeeded"))
    db.session.commit()
    huey.flush()
    assert engine.sweep_once()["work"] == 1
    db.session.expire_all()
    assert db.session.get(WorkItem, item.id).attempts == 0
    states = [(r.state, r.error_code) for r in db.session.scalars(select(SyncRecord).order_by(SyncRecord.id))]
    assert states[-2:] == [("retrying", "interrupted"), ("succeeded", None)]
    message = db.session.scalar(select(SyncRecord.error_message).where(SyncRecord.state == "retrying"))
    assert message.startswith("This attempt was interrupted: the worker running it stopped")


def test_a_slow_run_taken_for_dead_loses_the_interrupted_note_when_it_finishes(
        installation, registry, run_jobs, monkeypatch):
    """The lease is what tells a dead worker from a slow one; a run that outlived it but went
    on to finish must not read "succeeded" and "This attempt was interrupted" at once."""
    seen, behaviour = registry
    monkeypatch.setattr(limits, "WORK_LEASE", timedelta(0))  # every run outlives its lease

    def outlives_its_lease(ctx):
        if len(seen) > 1:
            return  # the sweeper's second run: nothing slow about it
        db.session.execute(update(WorkItem).where(WorkItem.id == ctx.item.id)
                           .values(lease_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        engine.sweep_once()  # a sweeper elsewhere takes it for a dead worker's run
        db.session.refresh(ctx.records[0])
        assert ctx.records[0].error_code == "interrupted"
    behaviour["invoice:1"] = outlives_its_lease
    ingest(installation, "e1", "invoice:1")
    run_jobs()
    db.session.expire_all()
    records = db.session.scalars(select(SyncRecord).order_by(SyncRecord.id)).all()
    assert [(r.state, r.error_code, r.error_message) for r in records] == [("succeeded", None, None)]


def _run_whose_worker_dies(item_id: int) -> None:
    """What a killed worker leaves: the item claimed, its record opened, then nothing, until
    the lease runs out and the sweeper comes."""
    huey.flush()
    claimed = claim.claim_work(item_id)
    assert claimed is not None
    engine.WorkContext(claimed).record(object_kind="invoice", object_id="1", direction="to_ledger")
    db.session.execute(update(WorkItem).where(WorkItem.id == item_id).values(lease_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def test_work_that_stops_its_worker_every_time_is_stopped_and_shown(installation, registry, run_jobs):
    """Out of memory on one huge record, say: without a limit the sweeper would hand it out
    again every lease, for ever, each time taking a worker down with it."""
    seen, _ = registry
    ingest(installation, "e1", "invoice:1")
    run_jobs()
    item_id = db.session.scalar(select(WorkItem.id))
    for n in range(1, limits.MAX_INTERRUPTIONS):
        engine.request_work(engine.WorkRequest(installation.id, "test_flow", "invoice:1"))
        db.session.commit()
        _run_whose_worker_dies(item_id)
        assert engine.sweep_once()["work"] == 1  # handed out again
        db.session.expire_all()
        assert db.session.get(WorkItem, item_id).interruptions == n
    engine.request_work(engine.WorkRequest(installation.id, "test_flow", "invoice:1"))
    db.session.commit()
    _run_whose_worker_dies(item_id)
    assert engine.sweep_once()["work"] == 0  # the last straw: not handed out again
    db.session.expire_all()
    item = db.session.get(WorkItem, item_id)
    assert (item.state, item.interruptions) == ("idle", 0)
    last = db.session.scalars(select(SyncRecord).order_by(SyncRecord.id.desc())).first()
    assert (last.state, last.error_code) == ("failed", "interrupted_repeatedly")
    assert f"{limits.MAX_INTERRUPTIONS} times in a row" in last.error_message and "Retry" in last.error_fix
    assert [t.name for t in huey.pending()] == ["deliver_alert"]  # a person is told
    huey.flush()
    # Retry (after the cause is fixed) runs it afresh.
    engine.request_work(engine.WorkRequest(installation.id, "test_flow", "invoice:1", {"manual": True}))
    db.session.commit()
    run_jobs()
    assert seen == ["invoice:1", "invoice:1"]
    assert db.session.get(WorkItem, item_id).state == "idle"


def test_one_record_that_takes_its_worker_down_stops_alone_not_with_its_batch(installation, batch_flow, run_jobs):
    """A batch of three, one of which kills the worker each time: after the first
    interruption the batch runs again as a batch (most often it was a restart); from the
    second each item runs alone, the two others go through, and only the one is stopped."""
    for n in (1, 2, 3):
        engine.request_work(engine.WorkRequest(installation.id, "test_batch", f"invoice:{n}"))
    db.session.commit()
    huey.flush()

    def dies_on_invoice_2(contexts):
        keys = [c.object_key for c in contexts]
        batch_flow.append(keys)
        for c in contexts:
            c.record(object_kind="invoice", object_id=c.object_key, direction="to_ledger")
        if "invoice:2" in keys:  # the worker is gone: nothing settles, the lease runs out
            raise SystemExit("killed")
    engine.FLOWS["test_batch"] = dies_on_invoice_2

    def one_lease():
        first = db.session.scalar(select(func.min(WorkItem.id)).where(WorkItem.state == "queued"))
        try:
            engine.execute_work(first)
        except SystemExit:
            db.session.rollback()
        db.session.execute(update(WorkItem).where(WorkItem.state == "running")
                           .values(lease_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        engine.sweep_once()
        huey.flush()
    for _ in range(limits.MAX_INTERRUPTIONS + 2):
        if db.session.scalar(select(func.count()).select_from(WorkItem).where(WorkItem.state == "queued")) == 0:
            break
        one_lease()
    assert batch_flow[:2] == [["invoice:1", "invoice:2", "invoice:3"]] * 2
    assert ["invoice:1"] in batch_flow and ["invoice:3"] in batch_flow
    states = dict(db.session.execute(select(WorkItem.object_key, WorkItem.state)).all())
    assert states == {"invoice:1": "idle", "invoice:2": "idle", "invoice:3": "idle"}
    failed = db.session.scalars(select(SyncRecord.object_id).where(SyncRecord.state == "failed")).all()
    assert failed == ["invoice:2"]
    assert batch_flow.count(["invoice:2"]) == limits.MAX_INTERRUPTIONS - 2


def test_a_run_that_settles_starts_the_count_of_interruptions_again(installation, registry, run_jobs):
    """Interruptions count in a row: a worker restarted now and then over weeks (deploys)
    never adds up to stopping an object that syncs fine in between."""
    seen, _ = registry
    ingest(installation, "e1", "invoice:1")
    run_jobs()
    item_id = db.session.scalar(select(WorkItem.id))
    for _ in range(3):
        for _ in range(limits.MAX_INTERRUPTIONS - 1):
            engine.request_work(engine.WorkRequest(installation.id, "test_flow", "invoice:1"))
            db.session.commit()
            _run_whose_worker_dies(item_id)
            engine.sweep_once()
        run_jobs()  # the revived run goes through
        db.session.expire_all()
        assert db.session.get(WorkItem, item_id).interruptions == 0
    assert len(seen) == 4 and db.session.get(WorkItem, item_id).state == "idle"


def test_waiting_for_a_limit_is_no_attempt_so_a_backlog_never_gives_up(installation, registry, run_jobs):
    """A run held back by bridge's own pacing (Xero's minute, a concurrency slot) waits and
    goes on, as the invoice tab says; counted as attempts, a backlog that met Xero's minute
    often enough gave up after 12 ("Gave up after 12 attempts: Xero's limit ...")."""
    from bridge.ratelimit import DatabaseLimiter, Limits

    seen, behaviour = registry
    limiter = DatabaseLimiter(db.engine, clock=lambda: 1000.0, sleep=lambda s: None)  # time stands still
    minute = Limits(rate=1 / 60, burst=1, max_wait=0.0, name="Xero's limit of 60 calls a minute")

    def paced(ctx):
        limiter.take("xero:org", minute)
    behaviour["invoice:1"] = paced
    ingest(installation, "e1")
    run_jobs()  # the burst's one call goes through
    for _ in range(limits.MAX_ATTEMPTS + 3):
        db.session.execute(update(WorkItem).values(state="queued", next_attempt_at=None))
        db.session.commit()
        huey.flush()
        engine.execute_work(db.session.scalar(select(WorkItem.id)))
    assert len(seen) == 1 + limits.MAX_ATTEMPTS + 3  # every one of them ran, and met the limit
    item = db.session.scalar(select(WorkItem))
    assert (item.state, item.attempts) == ("waiting", 0)
    last = db.session.scalars(select(SyncRecord).order_by(SyncRecord.id.desc())).first()
    assert last.state == "retrying" and last.error_message.startswith("Xero's limit of 60 calls a minute is reached")
    assert db.session.scalar(select(func.count()).select_from(SyncRecord).where(SyncRecord.state == "failed")) == 0


def test_a_duplicate_run_task_is_a_no_op(installation, registry, run_jobs):
    seen, _ = registry
    ingest(installation, "e1")
    run_jobs()
    item_id = db.session.scalar(select(WorkItem.id))
    engine.run_work(item_id)  # e.g. re-enqueued by the sweeper while already done
    run_jobs()
    assert seen == ["invoice:1"]


def test_a_period_is_claimed_once(app_ctx):
    assert engine.claim_period("daily-status", "20500") is True
    assert engine.claim_period("daily-status", "20500") is False
    assert engine.claim_period("daily-status", "20501") is True


def test_prune_forgets_old_records_and_payloads(installation):
    old = utcnow() - timedelta(days=100)
    db.session.add(SyncRecord(installation_id=installation.id, flow="f", object_kind="invoice", object_id="1",
                              direction="to_ledger", state="succeeded", created_at=old))
    db.session.add(InboxEvent(source="test", dedup_key="old", payload="{}", state="done", received_at=old))
    db.session.add(InboxEvent(source="test", dedup_key="new", payload="{}", state="done"))
    db.session.commit()
    assert engine.prune_once(90) == {"sync_records": 1, "inbox_events": 1}
    assert db.session.scalars(select(InboxEvent.dedup_key)).all() == ["new"]


def test_a_duplicate_after_processing_looks_again_so_a_same_second_change_is_not_lost(installation, registry,
                                                                                        run_jobs):
    seen, _ = registry
    ingest(installation, "evt-1")
    run_jobs()
    assert ingest(installation, "evt-1") is False  # e.g. a second edit within the same second
    run_jobs()
    assert seen == ["invoice:1", "invoice:1"]
    assert db.session.scalar(select(func.count()).select_from(InboxEvent)) == 1
