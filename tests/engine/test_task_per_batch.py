"""Work queued many at a time (a backfill's page of 100 invoices) gets one task for each
batch's worth, not one per item: every other task would find its item taken by the batch's
run and do nothing, and 5,000 of them took the CPU other installations' invoices waited for.
Every item still runs, once. Ordering and state only."""
from __future__ import annotations

from bridge.engine import WorkRequest, request_work_many
from bridge.extensions import db, huey
from bridge.models import WorkItem


def queue(installation, flow: str, count: int, bulk: bool = True) -> None:
    request_work_many([(WorkRequest(installation.id, flow, f"invoice:{n}", bulk=bulk), None) for n in range(count)])
    db.session.commit()


def test_a_hundred_items_of_a_batch_flow_get_three_tasks_and_all_run_once(installation, order, run_jobs):
    ran, _ = order
    queue(installation, "fair_batch", 100)
    assert huey.pending_count() == 3  # 49 + 49 + 2
    run_jobs()
    done = [key for _, keys in ran for key in keys]
    assert sorted(done) == sorted(f"invoice:{n}" for n in range(100))  # each once
    assert [len(keys) for _, keys in ran] == [49, 49, 2]
    assert db.session.query(WorkItem).filter(WorkItem.state != "idle").count() == 0


def test_work_run_one_at_a_time_keeps_a_task_per_item(installation, order, run_jobs):
    ran, _ = order
    queue(installation, "fair_one", 5)
    assert huey.pending_count() == 5
    run_jobs()
    assert len(ran) == 5


def test_each_installation_and_class_gets_its_own_task(two_installations, order, run_jobs):
    a, b = two_installations
    request_work_many([(WorkRequest(a.id, "fair_batch", "invoice:1", bulk=True), None),
                       (WorkRequest(b.id, "fair_batch", "invoice:1", bulk=True), None),
                       (WorkRequest(a.id, "fair_batch", "invoice:2", bulk=False), None)])
    db.session.commit()
    assert huey.pending_count() == 3
    ran, _ = order
    run_jobs()
    assert sorted((i, key) for i, keys in ran for key in keys) == sorted(
        [(a.id, "invoice:1"), (a.id, "invoice:2"), (b.id, "invoice:1")])


def test_the_sweeper_re_enqueues_a_lost_backlog_a_task_per_batch(installation, order, run_jobs):
    """Items whose tasks were lost (a queue wiped) and still queued two minutes on: the
    sweeper puts one task per batch's worth in the line, not one per item every minute."""
    from datetime import timedelta

    from bridge.engine.sweeper import sweep_once
    from bridge.models import utcnow

    ran, _ = order
    queue(installation, "fair_batch", 100)
    huey.flush()  # the tasks are lost
    db.session.query(WorkItem).update({"updated_at": utcnow() - timedelta(minutes=3)})
    db.session.commit()
    assert sweep_once()["work"] == 3 and huey.pending_count() == 3
    run_jobs()
    assert sorted(key for _, keys in ran for key in keys) == sorted(f"invoice:{n}" for n in range(100))
