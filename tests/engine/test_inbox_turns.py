"""A lone event of one installation is not left in the queue's line behind another
installation's burst: the burst's tasks that find nothing to do translate it on their way.
Ordering and state only: received times are moved, never waited for."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bridge import engine
from bridge.engine import limits
from bridge.extensions import db, huey
from bridge.models import InboxEvent, utcnow


@pytest.fixture
def source(order):
    engine.INBOX_HANDLERS["turn_test"] = lambda event: [
        engine.WorkRequest(event.installation_id, "fair_batch", event.object_key)]
    engine.BATCHED_INBOX_SOURCES.add("turn_test")
    yield
    engine.INBOX_HANDLERS.pop("turn_test", None)
    engine.BATCHED_INBOX_SOURCES.discard("turn_test")


def store(installation, key: str) -> int:
    engine.record_inbound("turn_test", f"{installation.id}:{key}", installation_id=installation.id, topic="update",
                          object_key=key, payload="{}")
    return db.session.scalar(select(InboxEvent.id).where(InboxEvent.dedup_key == f"{installation.id}:{key}"))


def run_next_task() -> str:
    task = huey.dequeue()
    huey.execute(task)
    return task.name


def state_of(event_id: int) -> str:
    db.session.expire_all()
    return db.session.get(InboxEvent, event_id).state


def test_a_lone_event_behind_another_installations_burst_is_translated_by_the_bursts_idle_tasks(
        two_installations, source):
    big, quiet = two_installations
    for n in range(60):  # the burst: 60 event tasks in the line
        store(big, f"invoice:{n}")
    lone = store(quiet, "invoice:lone")  # its task is the 61st
    # Both have waited past INBOX_OVERDUE in the line.
    db.session.execute(update(InboxEvent).values(received_at=utcnow() - limits.INBOX_OVERDUE - timedelta(seconds=1)))
    db.session.commit()

    assert run_next_task() == "process_inbox"  # translates the burst's first 49
    assert state_of(lone) == "pending"
    # The next tasks (the work those 49 asked for goes first, in the user's line, then the burst's
    # event tasks) find their work done or taken: the first of them translates an overdue one instead.
    ran = [run_next_task()]
    while state_of(lone) == "pending":
        ran.append(run_next_task())
    assert len(ran) <= 2  # the quiet installation's turn came first (never served)
    assert sum(task.name == "process_inbox" for task in huey.pending()) > 50  # long before its own task


def test_an_event_is_not_overdue_before_its_time(two_installations, source, monkeypatch):
    # Its time is long: a slow machine storing the burst must not make the lone event overdue.
    monkeypatch.setattr(limits, "INBOX_OVERDUE", timedelta(hours=1))
    big, quiet = two_installations
    for n in range(60):
        store(big, f"invoice:{n}")
    lone = store(quiet, "invoice:lone")
    run_next_task()
    run_next_task()
    assert state_of(lone) == "pending"  # it just came: its own task takes it


def test_work_stuck_in_the_line_behind_tasks_with_nothing_to_do_is_run_by_the_first_of_them(
        two_installations, order, run_jobs):
    from bridge.models import WorkItem

    big, quiet = two_installations
    ran, _ = order
    done = [engine.request_work(engine.WorkRequest(big.id, "fair_one", f"invoice:{n}")) for n in range(30)]
    db.session.commit()
    run_jobs()  # the big one's work ran; tasks naming it again (a burst's duplicates) are queued below
    ran.clear()
    waiting = engine.request_work(engine.WorkRequest(quiet.id, "fair_one", "invoice:lone"))
    db.session.commit()
    huey.flush()  # its own task is at the end of the line:
    for item_id in done:
        engine.run_work(item_id)
    engine.run_work(waiting)
    db.session.execute(update(WorkItem).where(WorkItem.id == waiting).values(
        updated_at=utcnow() - limits.INBOX_OVERDUE - timedelta(seconds=limits.GATHER_SECONDS + 1)))
    db.session.commit()

    assert run_next_task() == "run_work"  # the first idle task of the line
    assert ran == [(quiet.id, ["invoice:lone"])]
    assert len(huey.pending()) == 30  # long before its own task would have come
