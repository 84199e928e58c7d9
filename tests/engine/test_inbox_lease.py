"""An inbox event's claim is held like a run's lease: a consumer that dies or fails while it
translates a batch of events frees them within WORK_LEASE + WORK_HEARTBEAT (the reaper), as
a dead run's work is, never after a 5-minute lease while every consumer idles. State only:
time is moved, never waited for."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bridge import engine
from bridge.engine import inbox, lease, limits, sweeper
from bridge.extensions import db, huey
from bridge.models import InboxEvent, utcnow


@pytest.fixture
def events(installation, order):
    """A batched inbox source whose events each ask for a ``fair_batch`` run."""
    engine.INBOX_HANDLERS["lease_test"] = lambda event: [
        engine.WorkRequest(event.installation_id, "fair_batch", event.object_key)]
    engine.BATCHED_INBOX_SOURCES.add("lease_test")
    for i in range(3):
        engine.record_inbound("lease_test", f"e{i}", installation_id=installation.id, topic="update",
                              object_key=f"invoice:{i}", payload="{}")
    huey.flush()  # the events' own tasks were lost with the consumer that took them
    yield sorted(db.session.scalars(select(InboxEvent.id)))
    engine.INBOX_HANDLERS.pop("lease_test", None)
    engine.BATCHED_INBOX_SOURCES.discard("lease_test")


def states() -> list[str]:
    db.session.expire_all()
    return [e.state for e in db.session.scalars(select(InboxEvent).order_by(InboxEvent.id))]


def later(elapsed: timedelta) -> None:
    """``elapsed`` has passed since the claims were made or last renewed."""
    for event in db.session.scalars(select(InboxEvent).where(InboxEvent.lease_until.is_not(None))):
        event.lease_until -= elapsed
    db.session.commit()


def test_events_a_dead_consumer_was_translating_are_handed_out_40_seconds_later(events, run_jobs, order):
    ran, _ = order
    claimed = inbox._claim_inbox(events[0])  # a consumer claims the batch, then dies before translating it
    inbox._claim_inbox_siblings(claimed, limits.INBOX_BATCH - 1)
    assert states() == ["processing"] * 3
    assert sweeper.reap_once() == 0  # its claim is still good: nothing handed out
    later(limits.WORK_LEASE + limits.WORK_HEARTBEAT)  # 40 s on (not 5 minutes), no beat since
    assert sweeper.reap_once() > 0
    run_jobs()
    assert states() == ["done"] * 3
    assert sorted(key for _, keys in ran for key in keys) == ["invoice:0", "invoice:1", "invoice:2"]


def test_an_error_escaping_a_translation_gives_its_claim_up_at_once(events, monkeypatch, run_jobs, order):
    ran, _ = order

    def broken(batch):
        raise RuntimeError("the connection broke while recording another error")
    monkeypatch.setattr(inbox, "_translate_batch", broken)
    with pytest.raises(RuntimeError):
        inbox.translate_inbox_events(events[0])
    monkeypatch.undo()
    assert states() == ["processing"] * 3
    assert sweeper.reap_once() > 0  # at the reaper's next beat, not when the lease would end
    run_jobs()
    assert states() == ["done"] * 3
    assert sorted(key for _, keys in ran for key in keys) == ["invoice:0", "invoice:1", "invoice:2"]


def test_a_live_translation_keeps_its_claim_and_a_later_claim_is_not_renewed_by_it(events):
    claimed = inbox._claim_inbox(events[0])
    owned = {claimed.id: claimed.attempts}
    beat = lease.Heartbeat(owned, renew=inbox.claim_renewal)
    assert beat.beat() == 1
    db.session.expire_all()
    assert db.session.get(InboxEvent, claimed.id).lease_until > utcnow() + limits.INBOX_LEASE - timedelta(seconds=5)
    # Its lease ran out (the consumer was paused) and another consumer claimed it since:
    db.session.get(InboxEvent, claimed.id).lease_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert inbox._claim_inbox(claimed.id) is not None
    assert beat.beat() == 0


def test_an_inbox_claim_is_as_short_as_a_runs_lease():
    assert limits.INBOX_LEASE <= limits.WORK_LEASE
