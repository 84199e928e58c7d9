"""Bulk sync: N Bitrix24 invoices (default 1,000) to Xero, through the real flows, against the
sandboxes over real HTTP, under the real default limits (Xero 60 calls a minute and 5 at
once per organisation; Bitrix24 a leaky bucket of 50 draining 2 requests a second).

What is measured, from the moment the invoices exist in the portal (their events stored)
to the moment every one of them is in Xero:

- Xero calls per invoice: counted by the sandbox (its 24-hour window per organisation) and
  cross-checked against the calls bridge's HTTP clients sent;
- Bitrix24 REST calls per invoice: counted at bridge's HTTP client (a ``batch`` is one);
- wall time, against the lower bound the limits set for the calls made: Xero's minute
  window allows 60 calls in any 60 s, Bitrix24's bucket ``50 + 2/s``;
- peak memory (resident set): the web server, the job runner and the sandboxes share this
  one process here, so its peak RSS is an upper bound for each of the web and worker
  processes of a real deployment; the RSS once set up (app, sandboxes, invoices in the
  portal) is given beside it, so the growth the run itself causes is visible.

The export is measured with Xero's webhooks held (the export alone), then the webhooks for
our own writes are released and their cost is reported separately.

The sandbox clock is not moved: the run waits out the real limits, which is what the wall
time against the lower bound is about.

    .venv/bin/python bench/bulk_sync.py [--invoices 1000] [--customers 100]
    BENCH_PROFILE=export.prof .venv/bin/python bench/bulk_sync.py   # cProfile of the export's job runner

Prints one JSON line; docs/PERFORMANCE.md has the figures.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import logging
import math
import os
import platform
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

ACME = "acme.bitrix24.com"
CALLS: Counter[str] = Counter()


def count_calls() -> None:
    """Count what bridge's clients send: Xero accounting calls and Bitrix24 REST calls."""
    original = requests.Session.send

    def send(self, request, **kwargs):
        url = request.url or ""
        if "/api.xro/2.0/" in url:
            CALLS["xero"] += 1
        elif f"/{ACME}/rest/" in url:
            CALLS["bitrix24"] += 1
            method = url.split(f"/{ACME}/rest/", 1)[1].split("?", 1)[0].rstrip("/").removesuffix(".json")
            CALLS["bitrix24:" + method] += 1
        return original(self, request, **kwargs)

    requests.Session.send = send


def xero_day_count(live) -> int:
    day = live.control("xero/limits", method="GET")["day"]
    return sum(n for key, n in day.items() if key.endswith(f"/{live.tenant}"))


def setup(live) -> None:
    """Install in the portal, connect Xero through its consent page, map tax and account."""
    from bridge.connectors.bitrix24 import store
    from bridge.extensions import db
    from bridge.settings import save_section
    from tests.connectors.xero.test_end_to_end import _connect_in_browser, _org

    live.control("bitrix24/settings", json={"allow_insecure_handlers": True})
    auth = live.control(f"bitrix24/portals/{ACME}/install", json={"mode": "page"})["auth"]
    with live.app.app_context():
        installation_id = store.find(auth["member_id"]).id
    _connect_in_browser(live, installation_id, "Bridge Demo (NZ)")
    with live.app.app_context():
        installation = store.find(auth["member_id"])
        save_section(installation, "mapping", {"tax_rates": {"15": "OUTPUT2"}, "default_sales_account": "200"})
        db.session.commit()
    live.tenant = _org(live, "Bridge Demo (NZ)")


def make_invoices(live, count: int, customers: int) -> None:
    companies = [live.control(f"bitrix24/portals/{ACME}/companies", json={"fields": {
        "TITLE": f"Customer {n:03d} Ltd", "EMAIL": [{"VALUE": f"ap{n}@customer.test", "VALUE_TYPE": "WORK"}]}})
        for n in range(customers)]
    for n in range(count):
        live.control(f"bitrix24/portals/{ACME}/invoices", json={
            "fields": {"title": f"Order {n}", "companyId": companies[n % customers]["ID"],
                       "accountNumber": f"BULK-{n:05d}", "currencyId": "NZD", "closedate": "2026-12-15"},
            "rows": [{"productName": "Consulting hour", "price": "115.00", "quantity": 1 + n % 3, "taxRate": 15,
                      "taxIncluded": "N"}]})
    live.control("bitrix24/events/wait", json={"timeout": 60})


def run_until_idle(live, timeout: float) -> None:
    """Run jobs (retries included: delayed ones are waited for) until nothing is left."""
    from bridge.extensions import huey

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        live.control("bitrix24/events/wait", json={"timeout": 10})
        ran = live.run_jobs()
        scheduled = len(huey.scheduled())
        if ran == 0 and scheduled == 0:
            return
        if ran == 0:  # only retries waiting for their time (e.g. a limit's Retry-After): wait for them
            time.sleep(0.5)
            for task in huey.read_schedule(huey._get_timestamp()):
                huey.enqueue(task)


def rss_mb() -> float:
    """This process's resident set now (Linux /proc), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    """This process's peak resident set so far (``ru_maxrss`` is KiB on Linux), in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def lower_bound(xero_calls: int, bitrix_calls: int) -> float:
    """Seconds the limits require for these calls: Xero 60 in any 60 s; Bitrix24 50 + 2/s."""
    xero = max(0, math.ceil(xero_calls / 60) - 1) * 60.0
    bitrix = max(0.0, (bitrix_calls - 50) / 2.0)
    return max(xero, bitrix)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=int(os.environ.get("BENCH_INVOICES", 1000)))
    parser.add_argument("--customers", type=int, default=int(os.environ.get("BENCH_CUSTOMERS", 100)))
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    count_calls()

    from bridge.extensions import db
    from bridge.models import Link, SyncRecord
    from sqlalchemy import func, select
    from tests.support.live import start_live

    with tempfile.TemporaryDirectory() as tmp:
        live = start_live(Path(tmp), f"sqlite:///{tmp}/bridge.db")
        try:
            setup(live)
            live.control("xero/settings", json={"webhooks_enabled": False})  # held: the export alone
            make_invoices(live, args.invoices, args.customers)
            CALLS.clear()
            rss_before = rss_mb()
            xero_before = xero_day_count(live)
            profile = cProfile.Profile() if os.environ.get("BENCH_PROFILE") else None
            started, cpu_started = time.monotonic(), time.process_time()
            if profile:  # the job runner's thread only; the sandboxes answer on their own threads
                profile.enable()
            run_until_idle(live, timeout=3600)
            if profile:
                profile.disable()
                profile.dump_stats(os.environ["BENCH_PROFILE"])
            export_seconds = time.monotonic() - started
            export_cpu = time.process_time() - cpu_started
            export = dict(CALLS)
            peak_export = peak_rss_mb()
            xero_export = xero_day_count(live) - xero_before

            live.control("xero/settings", json={"webhooks_enabled": True})
            live.control("xero/webhooks/flush")
            run_until_idle(live, timeout=600)
            live.control("xero/webhooks/flush")
            run_until_idle(live, timeout=600)
            xero_total = xero_day_count(live) - xero_before

            state = live.control(f"xero/orgs/{live.tenant}/state", method="GET")
            in_xero = len([i for i in state["invoices"] if i["Type"] == "ACCREC"])
            with live.app.app_context():
                linked = db.session.scalar(select(func.count()).select_from(Link).where(Link.kind == "invoice"))
                failed = db.session.scalar(select(func.count()).select_from(SyncRecord).where(
                    SyncRecord.state.in_(("failed", "conflict"))))
        finally:
            live.stop()

    n = args.invoices
    bound = lower_bound(export.get("xero", 0), export.get("bitrix24", 0))
    result = {
        "invoices": n, "customers": args.customers, "in_xero": in_xero, "linked": linked, "failed": failed,
        "xero_calls_export": xero_export, "xero_calls_export_client": export.get("xero", 0),
        "xero_calls_per_invoice_export": round(xero_export / n, 3),
        "xero_calls_with_echoes": xero_total, "xero_calls_per_invoice_with_echoes": round(xero_total / n, 3),
        "bitrix24_calls_export": export.get("bitrix24", 0),
        "bitrix24_calls_per_invoice": round(export.get("bitrix24", 0) / n, 3),
        "bitrix24_calls_by_method": {k.split(":", 1)[1]: v for k, v in sorted(export.items()) if k.startswith("bitrix24:")},
        "wall_seconds": round(export_seconds, 1), "lower_bound_seconds": round(bound, 1),
        # bridge, its job runner and both sandboxes share this process: its CPU is all the work
        "cpu_seconds_export": round(export_cpu, 1),
        "wall_over_bound": round(export_seconds / bound, 2) if bound else None,
        "rss_mb_set_up": round(rss_before, 1), "peak_rss_mb_export": round(peak_export, 1),
        "peak_rss_mb_with_echoes": round(peak_rss_mb(), 1),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, SQLite",
    }
    print(json.dumps(result))
    return 0 if in_xero == n and failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
