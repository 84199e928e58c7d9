"""The fairness bench's trace (bench/wait_trace.py): the seconds the big installation's
portal budget sat full are the time its run was not held by the limit, so the arithmetic
must be right for the explanation in docs/PERFORMANCE.md to hold."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from wait_trace import unspent_budget  # noqa: E402


def test_a_run_that_makes_no_request_leaves_its_whole_time_unspent():
    assert unspent_budget([], 100.0, 110.0, [])["budget_full_seconds"] == 10.0


def test_a_burst_past_the_bucket_is_paid_back_before_the_budget_is_full_again():
    # 60 requests at once: 10 over the bucket of 50, so 30 s at 2 a second until it is full
    # again; of a 40 s run the last 10 s are unspent.
    trace = unspent_budget([0.0] * 60, 0.0, 40.0, [])
    assert trace["budget_full_seconds"] == 10.0 and trace["requests"] == 60


def test_requests_at_the_limits_pace_leave_nothing_unspent_and_a_pause_shows_as_a_spell():
    steady = [k * 0.5 for k in range(60)]  # 2 a second, the refill rate
    assert unspent_budget(steady, 0.0, 29.5, [])["budget_full_seconds"] == 0.0
    paused = [0.0] * 50 + [25.0 + k * 0.5 for k in range(10)] + [60.0 + k * 0.5 for k in range(10)]
    trace = unspent_budget(paused, 0.0, 65.0, [{"at": 30.0, "running: big party_import": 1}])
    # Full again at 25 s and used at once; at the refill's pace until 29.5 s, so one short of
    # full; full again at 30 s and unused until 60 s.
    assert trace["budget_full_seconds"] == 30.0
    spell = trace["longest_full_spells"][0]
    assert (spell["from"], spell["seconds"]) == (30.0, 30.0)
    assert spell["samples"] == [{"running: big party_import": 1}]
