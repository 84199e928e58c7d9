"""The benchmarks at a size CI can afford, so a change that breaks one (or makes it lose or
duplicate work) fails the slow suite. The published figures come from the full-size runs
(`make bench`, docs/PERFORMANCE.md); these runs only check that each bench still completes
and its correctness counters hold."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require
from tests.support import xero_spec

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _bench(*args: str, timeout: float = 900, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("BRIDGE_ENV", "DATABASE_URL", "REDIS_URL")}
    environment.update(env or {})
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=environment, capture_output=True, text=True,
                          timeout=timeout)


def test_bulk_sync_of_a_hundred_invoices_syncs_all_within_the_call_targets():
    require(xero_spec.spec_dir() is not None, "Xero specs not found (XERO_SPEC_DIR)")
    run = _bench("bench/bulk_sync.py", "--invoices", "100", "--customers", "10")
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures["in_xero"] == figures["linked"] == 100 and figures["failed"] == 0
    assert figures["xero_calls_per_invoice_export"] <= 0.1
    for process in ("consumer", "web"):  # measured in the processes themselves (gunicorn, huey_consumer)
        assert 0 < figures["peak_rss_mb_export"][process] <= figures["peak_rss_mb_with_echoes"][process]
    assert figures["cpu_seconds_export"]["consumer"] > 0


def test_contact_import_bench_imports_every_contact_once_in_few_calls():
    require(xero_spec.spec_dir() is not None, "Xero specs not found (XERO_SPEC_DIR)")
    run = _bench("bench/contact_import.py", "--contacts", "300")
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures["first_run"]["created"] == figures["xero_contacts"] >= 300
    assert figures["second_run"]["created"] == 0 and figures["second_run_calls"]["bitrix24"] == 0
    # The writes, one listing of what the portal carries from Xero already, and at most one
    # more for the last batch's people (a lookup per contact made it 52 requests per 50).
    assert figures["bitrix24_calls"] <= figures["bitrix24_calls_lower_bound"] + 2
    assert figures["xero_calls"] == figures["xero_calls_lower_bound"]


def test_dashboard_bench_completes():
    run = _bench("bench/dashboard.py", "--rows", "5000", "--repeat", "5", timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert "p95" in run.stdout


def test_ingest_bench_loses_no_callback():
    require(shutil.which("wrk") is not None, "wrk is not installed (apt-get install wrk)")
    run = _bench("bench/ingest.py", timeout=600, env={"BENCH_DURATION": "5s"})
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    runs = [json.loads(line) for line in run.stdout.strip().splitlines() if line.startswith("{")]
    assert [r["connections"] for r in runs] == [16, 32]  # one line per connection count, one server
    for figures in runs:
        assert figures["lost"] == 0 and figures["answered_2xx"] > 0
        # counted per run: at most the requests in flight when wrk stopped come on top
        assert figures["answered_2xx"] <= figures["stored_in_inbox"] <= figures["answered_2xx"] + figures["connections"]


def test_trickle_bench_drafts_every_invoice_and_runs_the_peer_on_the_same_ones():
    require(xero_spec.spec_dir() is not None, "Xero specs not found (XERO_SPEC_DIR)")
    run = _bench("bench/trickle.py", "--invoices", "3", "--customers", "2", "--gap", "0.5:1")
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures["bridge"]["save_to_draft_seconds"]["drafted"] == 3
    assert figures["bridge"]["new_customer"]["invoices"] == 2 and figures["bridge"]["known_customer"]["invoices"] == 1
    # the typical connector: a lookup and a create for a new customer, a lookup for a known one, then the PUT
    assert figures["peer"]["new_customer_xero_per_invoice"] == 3 and figures["peer"]["known_customer_xero_per_invoice"] == 2
    assert figures["latency_ms"] == 50


def test_fairness_bench_drafts_the_others_invoices_while_the_big_one_finishes(tmp_path):
    require(xero_spec.spec_dir() is not None, "Xero specs not found (XERO_SPEC_DIR)")
    run = _bench("bench/fairness.py", "--installations", "3", "--contacts", "100", "--backfill", "50",
                 "--trace", str(tmp_path / "trace.json"))
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures["others"]["invoices"] > 0 and figures["others"]["save_to_draft_seconds"]["p99"] is not None
    assert figures["big"]["seconds"] > 0 and figures["big"]["xero_calls"] >= figures["big"]["xero_calls_lower_bound"]
    # A lower bound: no run makes fewer requests than the fewest the work needs.
    assert figures["big"]["bitrix24_requests"] >= figures["big"]["bitrix24_requests_lower_bound"]
    # The trace accounts for every drafted invoice, its parts adding up to its wait.
    trace = json.loads((tmp_path / "trace.json").read_text())
    assert trace["others"]["invoices"] == figures["others"]["invoices"]
    for row in trace["others"]["slowest"]:
        assert abs(sum(row[part] for part in ("delivered", "translated", "started", "ran")) - row["total"]) < 0.01
    assert 0 < trace["big"]["requests"] <= figures["big"]["bitrix24_requests"]


def test_consumers_bench_syncs_every_invoice_with_one_and_with_two_consumers():
    require(xero_spec.spec_dir() is not None, "Xero specs not found (XERO_SPEC_DIR)")
    run = _bench("bench/consumers.py", "--installations", "2", "--invoices", "3")
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert [(p["consumers"], p["linked"]) for p in figures["phases"]] == [(1, 6), (2, 6)]
    assert figures["ratio"] > 0


def test_ingest_bench_loses_no_callback_while_a_consumer_drains():
    require(shutil.which("wrk") is not None, "wrk is not installed (apt-get install wrk)")
    run = _bench("bench/ingest.py", timeout=600, env={"BENCH_DURATION": "3s", "BENCH_CONNECTIONS": "8",
                                                        "BENCH_DRAIN": "1"})
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures["lost"] == 0 and figures["consumer_draining"] and figures["translated_during_run"] > 0
