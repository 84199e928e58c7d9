"""Budgets are shared by every process: one bucket, one concurrency cap."""
from __future__ import annotations

import multiprocessing
import os
import time
import uuid

import pytest

from bridge.errors import BudgetExhausted, RetryableError
from bridge.extensions import db
from bridge.ratelimit import DatabaseLimiter, Limits, RedisLimiter
from tests.conftest import require
from tests.support import procs


class FakeClock:
    def __init__(self) -> None:
        self.t = 1_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


@pytest.fixture
def limiter(app_ctx):
    clock = FakeClock()
    return DatabaseLimiter(db.engine, clock=clock, sleep=clock.sleep), clock


def test_bucket_allows_the_burst_then_waits_for_refill(limiter):
    lim, clock = limiter
    limits = Limits(rate=2, burst=50, max_wait=10)
    for _ in range(50):
        lim.take("b24:acme", limits)
    assert clock.slept == []
    lim.take("b24:acme", limits)
    assert clock.slept and 0.4 < clock.slept[0] <= 0.5  # one token at 2/s


def test_a_wait_beyond_max_wait_reschedules_instead_of_blocking(limiter):
    lim, _ = limiter
    limits = Limits(rate=1 / 60, burst=1, max_wait=5)
    lim.take("xero:org", limits)
    with pytest.raises(RetryableError) as caught:
        lim.take("xero:org", limits)
    assert 55 <= caught.value.retry_after <= 60


def test_a_wait_is_told_in_the_limits_own_words_not_its_internal_key(limiter):
    """What the sync log and the invoice tab show while bridge waits out a limit."""
    lim, _ = limiter
    limits = Limits(rate=1 / 60, burst=1, max_wait=5, name="Xero's limit of 60 calls a minute per organisation")
    lim.take("xero:2f6c0d6a", limits)
    with pytest.raises(RetryableError) as caught:
        lim.take("xero:2f6c0d6a", limits)
    assert caught.value.message.startswith("Xero's limit of 60 calls a minute per organisation is reached for now")
    assert "goes on by itself" in caught.value.message and "2f6c0d6a" not in caught.value.message


def test_a_window_passes_its_calls_at_once_and_the_next_when_the_first_leaves(limiter):
    """Xero counts 60 calls in any 60 s: all 60 go at once, the 61st waits for the first
    call's minute to end, never longer, and no 60-second span ever holds more than 60."""
    lim, clock = limiter
    limits = Limits(rate=1, burst=60, window=60, max_wait=120)
    sent: list[float] = []
    for _ in range(60):
        lim.take("xero:org", limits)
        sent.append(clock.t)
        clock.t += 0.25
    assert clock.slept == []
    lim.take("xero:org", limits)
    sent.append(clock.t)
    assert sent[-1] == pytest.approx(sent[0] + 60)  # exactly when the first call's minute ends
    for _ in range(100):
        lim.take("xero:org", limits)
        sent.append(clock.t)
    assert max(sum(1 for t in sent if start <= t < start + 60) for start in sent) == 60
    assert len(sent) == 161 and sent[-1] - sent[0] < 3 * 60  # and no slower than the limit


def test_the_redis_window_is_the_same_window():
    """The scale-out keeps the window in Redis: the same answers as the database's."""
    url = os.environ.get("TEST_REDIS_URL", "")
    require(bool(url), "the Redis limiter needs Redis (TEST_REDIS_URL)")
    import redis

    clock = FakeClock()
    lim = RedisLimiter(redis.Redis.from_url(url), clock=clock, sleep=clock.sleep)
    key, limits = f"xero:{uuid.uuid4().hex}", Limits(rate=1, burst=3, window=60, max_wait=120)
    sent = []
    for _ in range(3):
        lim.take(key, limits)
        sent.append(clock.t)
        clock.t += 1
    with pytest.raises(RetryableError) as caught:
        lim.take(key, Limits(rate=1, burst=3, window=60, max_wait=0))
    assert caught.value.retry_after == pytest.approx(sent[0] + 60 - clock.t)
    lim.take(key, limits)
    assert clock.t == pytest.approx(sent[0] + 60) and clock.slept


def test_a_full_window_reschedules_with_the_time_its_oldest_call_leaves(limiter):
    lim, clock = limiter
    limits = Limits(rate=1, burst=2, window=60, max_wait=5)
    lim.take("xero:org", limits)
    clock.t += 20
    lim.take("xero:org", limits)
    with pytest.raises(RetryableError) as caught:
        lim.take("xero:org", limits)
    assert caught.value.retry_after == pytest.approx(40)


def test_a_window_call_takes_its_place_when_it_is_sent_not_while_it_waits_for_a_slot(limiter):
    lim, clock = limiter
    limits = Limits(rate=1, burst=1, window=60, concurrency=1, max_wait=120, slot_ttl=300)
    assert lim._try_slot("xero:org", "busy-call", limits)  # another call in flight

    def free_the_slot_later(seconds: float) -> None:
        clock.t += seconds
        if clock.t >= 1_000_005:
            lim._release_slot("xero:org", "busy-call")

    clock.sleep = free_the_slot_later
    lim.sleep = free_the_slot_later
    with lim.call("xero:org", limits):
        sent = clock.t
    assert sent >= 1_000_005  # waited for the slot first
    with pytest.raises(RetryableError) as caught:
        lim.take("xero:org", Limits(rate=1, burst=1, window=60, max_wait=0))
    assert caught.value.retry_after == pytest.approx(sent + 60 - clock.t)  # counted from the send


def test_a_paused_key_refuses_calls_until_it_resumes(limiter):
    lim, clock = limiter
    limits = Limits(rate=1, burst=5)
    lim.pause("xero:org", 3600, "day limit")
    with pytest.raises(BudgetExhausted) as caught:
        lim.take("xero:org", limits)
    assert caught.value.retry_after == pytest.approx(3600)
    clock.t += 3601
    lim.take("xero:org", limits)


def test_header_budgets_are_remembered(limiter):
    lim, _ = limiter
    lim.observe("xero:org", remaining_minute=12, remaining_day=4321)
    lim.observe("xero:org", remaining_minute=11)
    assert (lim.budget("xero:org")["remaining_minute"], lim.budget("xero:org")["remaining_day"]) == (11, 4321)


def test_slot_of_a_crashed_holder_expires(limiter):
    lim, clock = limiter
    limits = Limits(rate=100, burst=100, concurrency=1, max_wait=0, slot_ttl=30)
    assert lim._try_slot("k", "dead-worker", limits)
    assert not lim._try_slot("k", "me", limits)
    clock.t += 31
    assert lim._try_slot("k", "me", limits)


def _spawn():
    return multiprocessing.get_context("spawn")


def test_two_processes_share_one_bucket(app):
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    start = time.time() + 1.5
    with _spawn().Pool(2) as pool:
        results = pool.starmap(procs.take_tokens, [(url, "shared", 10, start), (url, "shared", 10, start)])
    assert sum(results) == 10  # the burst, not 10 per process


def test_processes_share_one_concurrency_cap(app):
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    start = time.time() + 1.5
    with _spawn().Pool(4) as pool:
        results = pool.starmap(procs.hold_slot, [(url, "xero:org", 1.5, start)] * 4)
    assert results.count(True) == 2
