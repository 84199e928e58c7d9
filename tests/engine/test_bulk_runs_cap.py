"""One installation's bulk work never holds every worker thread: with two bulk runs going (an
import and a backfill, say), its third bulk flow (the backfill's export) waits for one of
them to end, and meanwhile the threads run other installations' work and its own user's.
Ordering and state only: another thread's run is a running item with a live lease."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bridge import engine
from bridge.engine import claim, limits
from bridge.extensions import db, huey
from bridge.models import Installation, WorkItem, utcnow


@pytest.fixture
def third_flow(order):
    """``fair_other``, a third batch flow recording into the same ``order``."""
    engine.FLOWS["fair_other"] = engine.FLOWS["fair_batch"]
    engine.BATCH_SIZES["fair_other"] = 49
    yield
    engine.FLOWS.pop("fair_other", None)
    engine.BATCH_SIZES.pop("fair_other", None)


def ask(installation_id: int, flow: str, key: str, *, bulk: bool) -> int:
    engine.request_work(engine.WorkRequest(installation_id, flow, key, bulk=bulk))
    db.session.commit()
    return db.session.scalar(select(WorkItem.id).where(WorkItem.installation_id == installation_id,
                                                       WorkItem.flow == flow, WorkItem.object_key == key))


def running_elsewhere(installation_id: int, flow: str) -> None:
    """The installation's work of ``flow`` as another worker thread's run holds it."""
    db.session.execute(update(WorkItem).where(WorkItem.installation_id == installation_id, WorkItem.flow == flow)
                       .values(state="running", lease_until=utcnow() + timedelta(seconds=30)))
    db.session.commit()


def two_bulk_runs(installation_id: int, flows=("fair_batch", "fair_one")) -> None:
    """The installation at its limit: an import and a backfill, say, each on another thread."""
    for n, flow in enumerate(flows):
        ask(installation_id, flow, f"bulk:{n}", bulk=True)
        running_elsewhere(installation_id, flow)


def served_just_now(installation_id: int) -> None:
    db.session.execute(update(Installation).where(Installation.id == installation_id).values(served_at=utcnow()))
    db.session.commit()


def test_a_third_bulk_flow_waits_while_two_run_and_starts_when_one_ends(installation, order, third_flow, run_jobs):
    ran, during = order
    ask(installation.id, "fair_batch", "contact:1", bulk=True)
    running_elsewhere(installation.id, "fair_batch")  # the import, on another thread
    backfill = ask(installation.id, "fair_one", "page:1", bulk=True)
    export = ask(installation.id, "fair_other", "invoice:1", bulk=True)
    huey.flush()
    seen_during: list = []

    def meanwhile(ctx):  # the export's task comes up on a third thread while two bulk runs go on
        engine.execute_work(export)
        seen_during.extend(ran)
        seen_during.append(huey.pending_count())

    during["page:1"] = meanwhile
    engine.execute_work(backfill)
    assert [keys for _, keys in seen_during[:-1]] == [["page:1"]]  # the export did not start beside them
    assert seen_during[-1] == 0  # and its task was not put back to cycle through the queue
    # The backfill's run ended: its place goes to the export, whose task is queued now.
    assert huey.pending_count() == 1
    run_jobs()
    assert [keys for _, keys in ran] == [["page:1"], ["invoice:1"]]


def test_meanwhile_the_thread_runs_another_installations_work(two_installations, order, third_flow):
    a, b = two_installations
    ran, _ = order
    two_bulk_runs(a.id)
    export = ask(a.id, "fair_other", "invoice:1", bulk=True)
    ask(b.id, "fair_batch", "invoice:9", bulk=True)  # B's backfill
    served_just_now(b.id)  # A's turn first
    engine.execute_work(export)
    assert ran == [(b.id, ["invoice:9"])]
    assert db.session.get(WorkItem, export).state == "queued"


def test_the_limit_counts_bulk_runs_only_so_a_users_work_of_the_same_installation_runs(installation, order,
                                                                                      third_flow):
    ran, _ = order
    two_bulk_runs(installation.id, ("fair_batch", "fair_other"))
    retry = ask(installation.id, "fair_one", "invoice:7", bulk=False)  # the user pressed Retry
    engine.execute_work(retry)
    assert ran == [(installation.id, ["invoice:7"])]


def test_the_fairest_work_passes_over_an_installation_at_its_limit(two_installations, order, third_flow):
    a, b = two_installations
    two_bulk_runs(a.id)
    waiting = ask(a.id, "fair_other", "invoice:1", bulk=True)
    theirs = ask(b.id, "fair_other", "invoice:2", bulk=True)
    served_just_now(b.id)  # A's turn would come first (never served)
    assert claim.fairest(utcnow()) == theirs
    db.session.execute(update(WorkItem).where(WorkItem.installation_id == a.id, WorkItem.flow == "fair_one")
                       .values(state="idle"))  # one of A's runs ended
    db.session.commit()
    assert claim.fairest(utcnow()) == waiting


def test_the_limit_is_a_setting(installation, order, third_flow, monkeypatch):
    ran, _ = order
    monkeypatch.setattr(limits, "BULK_RUNS_PER_INSTALLATION", 3)
    two_bulk_runs(installation.id)
    export = ask(installation.id, "fair_other", "invoice:1", bulk=True)
    engine.execute_work(export)
    assert ran == [(installation.id, ["invoice:1"])]


def test_an_import_a_user_started_counts_as_a_bulk_run(installation, order, third_flow):
    """The import and the backfill a user starts from the settings page are of the user's
    class (``manual``) but run as bulk: with both going, the backfill's export waits."""
    from bridge.engine.registry import BULK_FLOWS

    ran, _ = order
    BULK_FLOWS.update({"fair_batch", "fair_one"})
    try:
        for flow in ("fair_batch", "fair_one"):
            ask(installation.id, flow, "started:1", bulk=False)  # the user pressed "Import", "Backfill"
            running_elsewhere(installation.id, flow)
        export = ask(installation.id, "fair_other", "invoice:1", bulk=True)
        engine.execute_work(export)
    finally:
        BULK_FLOWS.difference_update({"fair_batch", "fair_one"})
    assert ran == []
    assert db.session.get(WorkItem, export).state == "queued"
