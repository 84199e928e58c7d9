"""Fair scheduling: installations take turns, a user's work goes before bulk work, and bulk
work yields between batches. Ordering and state only (no clocks): what ran before what."""
from __future__ import annotations

from sqlalchemy import select

from bridge import engine
from bridge.extensions import db
from bridge.models import WorkItem


def ask(installation_id: int, flow: str, key: str, *, bulk: bool | None = None) -> None:
    engine.request_work(engine.WorkRequest(installation_id, flow, key, bulk=bulk))
    db.session.commit()


def backlog(installation_id: int, n: int, flow: str = "fair_batch") -> None:
    engine.request_work_many([(engine.WorkRequest(installation_id, flow, f"contact:{i}", bulk=True), None)
                              for i in range(n)])
    db.session.commit()


def test_another_installations_live_event_is_claimed_before_an_800_item_backlog(two_installations, order,
                                                                                 run_jobs):
    a, b = two_installations
    ran, _ = order
    backlog(a.id, 800)  # an import's 800 items, queued first (their 800 tasks ahead in the queue)
    ask(b.id, "fair_batch", "invoice:1")  # then B's live event: its task is the 801st
    run_jobs()
    assert ran[0] == (b.id, ["invoice:1"])
    assert sum(len(keys) for inst, keys in ran if inst == a.id) == 800  # the backlog still all ran, in batches
    assert all(len(keys) <= 49 for _, keys in ran)


def test_a_backlog_in_progress_yields_to_another_installation_between_batches(two_installations, order, run_jobs):
    a, b = two_installations
    ran, during = order
    backlog(a.id, 800)
    # B's invoice arrives while A's first batch runs (A was served, B was not)
    during["contact:0"] = lambda ctx: ask(b.id, "fair_batch", "invoice:1")
    first = db.session.scalar(select(WorkItem.id).where(WorkItem.object_key == "contact:0"))
    engine.execute_work(first)
    run_jobs()
    assert [inst for inst, _ in ran[:3]] == [a.id, b.id, a.id]  # one batch of A, then B, then A goes on
    assert ran[1] == (b.id, ["invoice:1"])


def test_within_an_installation_what_a_user_waits_for_goes_before_bulk_work(installation, order, run_jobs):
    ran, _ = order
    backlog(installation.id, 5, flow="fair_one")  # a reconcile's reads, queued first
    ask(installation.id, "fair_one", "invoice:7")  # then a live event (or Sync now)
    run_jobs()
    assert ran[0] == (installation.id, ["invoice:7"])
    assert len(ran) == 6


def test_the_first_batch_of_a_backlog_takes_the_waiting_users_item_first(installation, order, run_jobs):
    ran, _ = order
    backlog(installation.id, 100)
    ask(installation.id, "fair_batch", "invoice:7", bulk=False)
    run_jobs()
    assert ran[0][1][0] == "invoice:7" and len(ran[0][1]) == 49


def test_a_user_waiting_lifts_work_already_queued_as_bulk(installation, order):
    backlog(installation.id, 3, flow="fair_one")
    engine.request_work(engine.WorkRequest(installation.id, "fair_one", "contact:1", {"manual": True}))
    db.session.commit()
    priorities = dict(db.session.execute(select(WorkItem.object_key, WorkItem.priority)).all())
    assert priorities == {"contact:0": 1, "contact:1": 0, "contact:2": 1}


def test_what_a_bulk_run_or_a_periodic_job_asks_for_is_bulk(installation, order):
    with engine.work.asking_as(engine.work.BULK):
        ask(installation.id, "fair_one", "invoice:1")  # e.g. a backfill asking for each invoice
    ask(installation.id, "fair_one", "invoice:2")  # a live event
    priorities = dict(db.session.execute(select(WorkItem.object_key, WorkItem.priority)).all())
    assert priorities == {"invoice:1": 1, "invoice:2": 0}
