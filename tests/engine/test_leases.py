"""Leases: renewed by a heartbeat while a run is alive, free soon after its worker dies, and
fenced by a generation, so a run that was only paused past its lease neither writes nor
settles once another run took its work over. State only: time is moved, never waited for."""
from __future__ import annotations

from datetime import timedelta

import pytest
import responses
from sqlalchemy import select, update

from bridge import engine
from bridge.engine import claim, lease, limits, sweeper, work
from bridge.extensions import db, huey
from bridge.http import ApiClient, write_guard
from bridge.models import SyncRecord, WorkItem, utcnow


def queued(installation, key: str = "invoice:1") -> int:
    item_id = engine.request_work(engine.WorkRequest(installation.id, "fair_one", key))
    db.session.commit()
    huey.flush()
    return item_id


def take_over(item_id: int) -> None:
    """What happens while a worker is paused past its lease: the sweeper finds the lease run
    out and hands the work out again, and another worker claims it."""
    db.session.execute(update(WorkItem).where(WorkItem.id == item_id).values(lease_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    sweeper.sweep_once()
    huey.flush()
    assert claim.claim_work(item_id) is not None  # the other worker's claim


def test_a_run_whose_lease_was_taken_over_cannot_settle(installation, order):
    _, during = order
    item_id = queued(installation)
    during["invoice:1"] = lambda ctx: take_over(ctx.item.id)
    assert engine.execute_work(item_id) == "lost"
    db.session.expire_all()
    item = db.session.get(WorkItem, item_id)
    assert item.state == "running" and item.lease_generation == 2  # still the other run's, untouched


def test_a_run_whose_lease_was_taken_over_cannot_write(installation, order):
    _, during = order
    item_id = queued(installation)
    sent: list[str] = []

    def write_after_a_pause(ctx):
        take_over(ctx.item.id)
        ApiClient().request("POST", "https://ledger.example/api/Invoices", json={})
        sent.append("written")
    during["invoice:1"] = write_after_a_pause
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.add(responses.POST, "https://ledger.example/api/Invoices", json={})
        assert engine.execute_work(item_id) == "lost"
        assert len(mocked.calls) == 0
    assert sent == []


def test_the_owner_still_reads_and_writes(installation, order):
    _, during = order
    item_id = queued(installation)
    during["invoice:1"] = lambda ctx: ApiClient().request("POST", "https://ledger.example/api/Invoices", json={})
    with responses.RequestsMock() as mocked:
        mocked.add(responses.POST, "https://ledger.example/api/Invoices", json={})
        assert engine.execute_work(item_id) == "idle"
        assert len(mocked.calls) == 1


def test_a_renewal_at_a_checkpoint_after_a_takeover_stops_the_run(installation, order):
    _, during = order
    item_id = queued(installation)
    ctxs = []

    def checkpoint(ctx):
        take_over(ctx.item.id)
        ctxs.append(ctx)
        engine.renew_lease(ctx)
    during["invoice:1"] = checkpoint
    assert engine.execute_work(item_id) == "lost"
    with pytest.raises(engine.LeaseLost):
        engine.renew_lease(ctxs[0])


def test_the_heartbeat_renews_the_lease_and_notices_a_takeover(installation):
    item_id = queued(installation)
    item = claim.claim_work(item_id)
    db.session.execute(update(WorkItem).where(WorkItem.id == item_id).values(lease_until=utcnow()))
    db.session.commit()
    beat = lease.Heartbeat({item_id: item.lease_generation})
    assert beat.beat() == 1
    db.session.expire_all()
    assert db.session.get(WorkItem, item_id).lease_until > utcnow() + limits.WORK_LEASE - timedelta(seconds=5)
    take_over(item_id)
    assert beat.beat() == 0 and beat.lost.is_set()


def test_a_killed_workers_work_is_claimed_again_once_its_heartbeat_stops(installation, order, run_jobs,
                                                                       monkeypatch):
    ran, _ = order
    item_id = queued(installation)
    item = claim.claim_work(item_id)  # a worker claims it ...
    engine.WorkContext(item).record(object_kind="invoice", object_id="1", direction="to_ledger")
    beat = lease.Heartbeat({item_id: item.lease_generation})
    beat.beat()  # ... its heartbeat renews the lease once, then the worker is killed: no more beats
    last_beat = utcnow()

    def sweep_at(at):
        monkeypatch.setattr(sweeper, "now", lambda: at)
        return sweeper.sweep_once()["work"]

    assert sweep_at(last_beat + limits.WORK_LEASE - timedelta(seconds=1)) == 0  # alive as far as anyone knows
    assert sweep_at(last_beat + limits.WORK_LEASE + timedelta(seconds=1)) == 1  # its lease ran out: handed out
    monkeypatch.setattr(sweeper, "now", utcnow)
    monkeypatch.setattr(work, "now", lambda: utcnow())
    run_jobs()
    assert ran == [(installation.id, ["invoice:1"])]
    db.session.expire_all()
    assert db.session.get(WorkItem, item_id).state == "idle"
    states = [r.state for r in db.session.scalars(select(SyncRecord).order_by(SyncRecord.id))]
    assert states[0] == "retrying"  # the dead run's record says it was interrupted


def test_a_lease_is_short_and_beaten_three_times_within_it():
    assert limits.WORK_LEASE <= timedelta(seconds=30)
    assert limits.WORK_HEARTBEAT * 3 <= limits.WORK_LEASE


def test_writes_are_guarded_but_reads_are_not(installation):
    checks: list[str] = []
    with responses.RequestsMock() as mocked, write_guard(lambda: checks.append("checked")):
        mocked.add(responses.GET, "https://ledger.example/api/Invoices", json={})
        mocked.add(responses.PUT, "https://ledger.example/api/Invoices", json={})
        ApiClient().request("GET", "https://ledger.example/api/Invoices")
        assert checks == []
        ApiClient().request("PUT", "https://ledger.example/api/Invoices", json={})
        assert checks == ["checked"]


def test_the_reaper_hands_out_a_dead_workers_work_at_its_next_beat_not_the_minutes_sweep(installation, order,
                                                                                         run_jobs, monkeypatch):
    ran, _ = order
    item_id = queued(installation)
    claim.claim_work(item_id)  # claimed by a worker that then dies
    assert sweeper.reap_once() == 0  # its lease is still good: one read, nothing swept
    monkeypatch.setattr(sweeper, "now", lambda: utcnow() + limits.WORK_LEASE + timedelta(seconds=1))
    assert sweeper.reap_once() == 1
    monkeypatch.setattr(sweeper, "now", utcnow)
    run_jobs()
    assert ran == [(installation.id, ["invoice:1"])]


def test_a_beat_landing_after_its_run_settled_changes_nothing(installation, order):
    """A change came in during the run, so it settled as queued again: a late beat of the
    finished run must not mark it running (nobody would run it until the lease ran out)."""
    _, during = order
    item_id = queued(installation)
    beats = []
    during["invoice:1"] = lambda ctx: (beats.append(lease.Heartbeat(work.generations([ctx]))),
                                       engine.request_work(engine.WorkRequest(installation.id, "fair_one", "invoice:1")))
    assert engine.execute_work(item_id) == "rerun"
    assert beats[0].beat() == 0
    db.session.expire_all()
    assert db.session.get(WorkItem, item_id).state == "queued"


def test_the_reaper_thread_keeps_beating_outside_any_app_context(app):
    """The reaper runs in a thread of its own, with no app context: a pass once touched the
    session after leaving its context, raised, and so ended the thread after its first beat
    (seen in the scale-out run's consumer logs)."""
    import threading

    errors: list[BaseException] = []

    def beats() -> None:
        try:
            sweeper.reap_pass()
            sweeper.reap_pass()
        except BaseException as exc:  # noqa: BLE001 - what would end the thread
            errors.append(exc)

    thread = threading.Thread(target=beats)
    thread.start()
    thread.join(60)
    assert errors == []
