"""Budgets are shared by every process: one bucket, one concurrency cap."""
from __future__ import annotations

import multiprocessing
import time

import pytest

from bridge.errors import BudgetExhausted, RetryableError
from bridge.extensions import db
from bridge.ratelimit import DatabaseLimiter, Limits
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
