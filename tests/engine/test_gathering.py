"""The gathering window: events arriving together share a batch; a lone one waits no longer
than the window. State only: the tasks' scheduled times are read, never waited for."""
from __future__ import annotations

from datetime import timedelta

import pytest

from bridge import engine
from bridge.engine import limits
from bridge.extensions import db, huey
from bridge.models import InboxEvent, utcnow


@pytest.fixture
def gathering(monkeypatch):
    monkeypatch.setattr(limits, "GATHER_SECONDS", 1.0)
    engine.INBOX_HANDLERS["gather_test"] = lambda event: [
        engine.WorkRequest(event.installation_id, "fair_batch", event.object_key)]
    engine.BATCHED_INBOX_SOURCES.add("gather_test")
    yield
    engine.INBOX_HANDLERS.pop("gather_test", None)
    engine.BATCHED_INBOX_SOURCES.discard("gather_test")


def ingest(installation, n: int) -> None:
    for i in range(n):
        engine.record_inbound("gather_test", f"e{i}", installation_id=installation.id, topic="update",
                              object_key=f"invoice:{i}", payload="{}")


def run_scheduled() -> None:
    """The scheduler's tick after the window: the delayed tasks become due and run."""
    for task in huey.scheduled():
        task.eta = None
        huey.execute(task)


def test_events_arriving_together_share_one_batch(installation, order, gathering, run_jobs):
    ran, _ = order
    ingest(installation, 3)
    run_jobs()  # the events are translated; their work waits out the window, in one task
    assert ran == [] and huey.scheduled_count() == 1
    run_scheduled()
    assert ran == [(installation.id, ["invoice:0", "invoice:1", "invoice:2"])]


def test_a_lone_event_waits_only_the_window(installation, order, gathering, run_jobs):
    ran, _ = order
    before = utcnow()
    ingest(installation, 1)
    run_jobs()
    [task] = huey.scheduled()
    assert task.eta.replace(tzinfo=None) <= (before + timedelta(seconds=2)).replace(tzinfo=None)
    run_scheduled()
    assert ran == [(installation.id, ["invoice:0"])]
    assert db.session.query(InboxEvent).filter_by(state="done").count() == 1


def test_the_window_is_at_most_two_seconds(monkeypatch):
    import importlib
    monkeypatch.setenv("BRIDGE_GATHER_SECONDS", "30")
    try:
        assert importlib.reload(limits).GATHER_SECONDS == 2.0
    finally:
        monkeypatch.delenv("BRIDGE_GATHER_SECONDS")
        importlib.reload(limits)


def test_bulk_work_does_not_wait_out_the_window(installation, order, gathering, run_jobs):
    """A backfill queues a page of invoices at once; a wait before each page's runs would
    leave the installation's limit unused for the window, page after page."""
    ran, _ = order
    engine.request_work_many([(engine.WorkRequest(installation.id, "fair_batch", f"invoice:{n}", bulk=True), None)
                              for n in range(3)])
    db.session.commit()
    assert huey.scheduled_count() == 0 and huey.pending_count() == 1
    run_jobs()
    assert ran == [(installation.id, ["invoice:0", "invoice:1", "invoice:2"])]
