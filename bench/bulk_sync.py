"""Bulk sync: N Bitrix24 invoices (default 1,000) to Xero, through the real flows, against the
sandboxes over real HTTP, under the real default limits (Xero 60 calls a minute and 5 at
once per organisation; Bitrix24 a leaky bucket of 50 draining 2 requests a second).

Run as it is deployed, each part its own process: the sandboxes (as Xero and Bitrix24 are
other machines), bridge's web server (gunicorn, as in the Procfile: it takes the portal's
event callbacks) and one Huey consumer (as in the Procfile: 4 worker threads) on the
embedded default, SQLite with Huey on SQLite. The consumer starts once the invoices exist
in the portal and their events are stored; the clock runs from its start until every
invoice is in Xero, linked, and no work is left.

Measured:

- Xero calls per invoice: counted by the sandbox (its 24-hour window per organisation);
- Bitrix24 REST calls per invoice: counted by the sandbox portal (a ``batch`` is one);
- wall time, against the lower bound the limits set for the calls made: Xero's minute
  window allows 60 calls in any 60 s, Bitrix24's bucket ``50 + 2/s``;
- CPU of each process, and the peak memory (resident set) of the web and worker processes.

The export is measured with Xero's webhooks held (the export alone), then the webhooks for
our own writes are released and their cost is reported separately ("with echoes"). The
consumer runs without its scheduler (``-n``), so no periodic reconcile mixes into the counts.
The sandbox clock is not moved: the run waits out the real limits.

    .venv/bin/python bench/bulk_sync.py [--invoices 1000] [--customers 100]
    BENCH_KEEP=/tmp/bulk .venv/bin/python bench/bulk_sync.py   # keep its database and logs

Prints one JSON line; docs/PERFORMANCE.md has the figures.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from procstat import cpu_seconds, peak_rss_mb, process_tree  # noqa: E402

ACME = "acme.bitrix24.com"


def xero_day_count(live) -> int:
    day = live.control("xero/limits", method="GET")["day"]
    return sum(n for key, n in day.items() if key.endswith(f"/{live.tenant}"))


def portal_requests(live) -> int:
    return live.control(f"bitrix24/portals/{ACME}/state", method="GET")["requests"]


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


def lower_bound(xero_calls: int, bitrix_calls: int) -> float:
    """Seconds the limits require for these calls: Xero 60 in any 60 s; Bitrix24 50 + 2/s."""
    xero = max(0, math.ceil(xero_calls / 60) - 1) * 60.0
    bitrix = max(0.0, (bitrix_calls - 50) / 2.0)
    return max(xero, bitrix)


# -- the processes ------------------------------------------------------------------------


def total_cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


def wait_healthy(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def work_left(app) -> int:
    """Inbox events not yet translated plus work items queued, running or waiting to retry."""
    from sqlalchemy import func, select

    from bridge.extensions import db
    from bridge.models import InboxEvent, WorkItem

    with app.app_context():
        inbox = db.session.scalar(select(func.count()).select_from(InboxEvent).where(
            InboxEvent.state.in_(("pending", "processing"))))
        work = db.session.scalar(select(func.count()).select_from(WorkItem).where(
            WorkItem.state.in_(("queued", "running", "waiting"))))
        db.session.remove()
    return inbox + work


def wait_started(log: Path, timeout: float = 60) -> float:
    """The moment the consumer says it has started (its imports done), as ``time.monotonic``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and "consumer started" in log.read_text().lower():
            return time.monotonic()
        time.sleep(0.02)
    raise RuntimeError(f"the consumer did not start: {log.read_text()[-2000:] if log.exists() else ''}")


def wait_until_idle(app, timeout: float, settle: float = 0.0) -> None:
    """Until no work is left (for ``settle`` seconds in a row: echoes may still be arriving)."""
    deadline = time.monotonic() + timeout
    idle_since = None
    while time.monotonic() < deadline:
        if work_left(app) == 0:
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= settle:
                return
        else:
            idle_since = None
        time.sleep(0.1)
    raise RuntimeError("the consumer did not finish in time")


def export_timeline(app, started) -> dict[str, float]:
    """Seconds from the consumer's start: the last inbox event translated, the first and the
    last invoice run's records (where the time of the export goes)."""
    from sqlalchemy import func, select

    from bridge.extensions import db
    from bridge.models import InboxEvent, SyncRecord

    with app.app_context():
        translated = db.session.scalar(select(func.max(InboxEvent.processed_at)))
        first, last = db.session.execute(select(func.min(SyncRecord.created_at), func.max(SyncRecord.finished_at))
                                         .where(SyncRecord.flow == "invoice_to_ledger")).one()
        db.session.remove()
    return {name: round((moment - started).total_seconds(), 1) for name, moment in
            (("inbox_translated", translated), ("first_run", first), ("last_run_finished", last)) if moment}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=int(os.environ.get("BENCH_INVOICES", 1000)))
    parser.add_argument("--customers", type=int, default=int(os.environ.get("BENCH_CUSTOMERS", 100)))
    parser.add_argument("--consumers", type=int, default=1, help="Huey consumer processes (4 threads each)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped from outside: still stop what it started

    with tempfile.TemporaryDirectory() as tmp:
        from tests.support.servers import free_port, sandbox_in_process

        port = free_port()
        app_url = f"http://localhost:{port}"  # Xero allows http redirect URIs only on localhost
        # Every API call answered after a simulated network round trip (docs/sandbox.md).
        os.environ["SANDBOX_LATENCY_MS"] = os.environ.get("BENCH_LATENCY_MS", "50")
        sandbox = sandbox_in_process(app_url, log=Path(tmp) / "sandbox.log")
        # One configuration for the bench's own view of the database and the two processes.
        settings = {"BRIDGE_ENV": "demo", "BRIDGE_INSTANCE_PATH": f"{tmp}/instance",
                    "DATABASE_URL": f"sqlite:///{tmp}/bridge.db", "HUEY_STORAGE": "sqlite",
                    "HUEY_SQLITE_PATH": f"{tmp}/huey.db", "SANDBOX_URL": sandbox.url, "PUBLIC_URL": app_url}
        # The scale-out set-up when asked for: PostgreSQL (a database of the bench's own: it is
        # emptied) and Redis for Huey.
        postgres = os.environ.get("DATABASE_URL", "").startswith("postgresql")
        if postgres:
            settings.update(DATABASE_URL=os.environ["DATABASE_URL"],
                            HUEY_STORAGE="redis" if os.environ.get("REDIS_URL") else "sqlite")
        os.environ.update(settings)
        from bridge import create_app
        from bridge.extensions import db
        from bridge.models import Link, SyncRecord, utcnow
        from sqlalchemy import func, select
        from tests.support.live import Live

        app = create_app({**settings, "INSTANCE_PATH": settings["BRIDGE_INSTANCE_PATH"]})
        with app.app_context():
            if postgres:
                db.drop_all()
            db.create_all()
        if settings["HUEY_STORAGE"] == "redis":
            from bridge.extensions import huey
            huey.flush()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        logs = Path(tmp) / "logs"
        logs.mkdir()

        def spawn(name: str, command: list[str]) -> subprocess.Popen:
            return subprocess.Popen(command, cwd=ROOT, env=env, stdout=(logs / f"{name}.log").open("w"),
                                    stderr=subprocess.STDOUT, start_new_session=True)

        consumer_command = [str(BIN / "huey_consumer"), "bridge.worker.huey", "-w", "4", "-k", "thread", "-n"]
        web = spawn("web", [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "3",
                            "--threads", "2", "app:app"])
        consumer, consumers = None, []
        live = Live(app=app, app_url=app_url, sandbox_url=sandbox.url, sandbox=None, servers=[sandbox])
        try:
            wait_healthy(f"{app_url}/healthz")
            consumer = spawn("setup-consumer", consumer_command)  # what installing and connecting queue
            setup(live)
            wait_until_idle(app, timeout=120, settle=1.0)
            stop(consumer)

            live.control("xero/settings", json={"webhooks_enabled": False})  # held: the export alone
            make_invoices(live, args.invoices, args.customers)
            xero_before, portal_before = xero_day_count(live), portal_requests(live)
            web_pids = process_tree(web.pid)
            web_cpu_before, sandbox_cpu_before = total_cpu(web_pids), cpu_seconds(sandbox.process.pid)

            consumers = [spawn(f"consumer-{n}", consumer_command) for n in range(args.consumers)]
            consumer = consumers[0]
            for n in range(args.consumers):  # the clock starts once each has loaded the app
                started = wait_started(logs / f"consumer-{n}.log")
            started_utc = utcnow()
            wait_until_idle(app, timeout=3600)
            export_seconds = time.monotonic() - started
            timeline = export_timeline(app, started_utc)
            consumer_pids = [pid for process in consumers for pid in process_tree(process.pid)]
            export = {"xero": xero_day_count(live) - xero_before, "bitrix24": portal_requests(live) - portal_before,
                      "cpu_consumer": total_cpu(consumer_pids), "cpu_web": total_cpu(web_pids) - web_cpu_before,
                      "cpu_sandboxes": cpu_seconds(sandbox.process.pid) - sandbox_cpu_before,
                      "rss_consumer": peak_rss_mb(consumer_pids), "rss_web": peak_rss_mb(web_pids)}

            live.control("xero/settings", json={"webhooks_enabled": True})
            live.control("xero/webhooks/flush")
            wait_until_idle(app, timeout=600, settle=2.0)
            xero_total = xero_day_count(live) - xero_before

            state = live.control(f"xero/orgs/{live.tenant}/state", method="GET")
            in_xero = len([i for i in state["invoices"] if i["Type"] == "ACCREC"])
            with app.app_context():
                linked = db.session.scalar(select(func.count()).select_from(Link).where(
                    Link.kind == "invoice", Link.ledger_id.is_not(None)))
                failed = db.session.scalar(select(func.count()).select_from(SyncRecord).where(
                    SyncRecord.state.in_(("failed", "conflict"))))
            rss_with_echoes = {"consumer": peak_rss_mb(consumer_pids), "web": peak_rss_mb(web_pids)}
        finally:
            for process in (*consumers, consumer, web):
                if process is not None:
                    stop(process)
            live.stop()
            if os.environ.get("BENCH_KEEP"):  # the database and the logs, for a closer look
                shutil.copytree(tmp, os.environ["BENCH_KEEP"], dirs_exist_ok=True)

    n = args.invoices
    bound = lower_bound(export["xero"], export["bitrix24"])
    result = {
        "invoices": n, "customers": args.customers, "in_xero": in_xero, "linked": linked, "failed": failed,
        "xero_calls_export": export["xero"], "xero_calls_per_invoice_export": round(export["xero"] / n, 3),
        "xero_calls_with_echoes": xero_total, "xero_calls_per_invoice_with_echoes": round(xero_total / n, 3),
        "bitrix24_calls_export": export["bitrix24"],
        "bitrix24_calls_per_invoice": round(export["bitrix24"] / n, 3),
        "wall_seconds": round(export_seconds, 1), "lower_bound_seconds": round(bound, 1),
        "timeline_seconds": timeline,
        "wall_over_bound": round(export_seconds / bound, 2) if bound else None,
        "cpu_seconds_export": {"consumer": round(export["cpu_consumer"], 1), "web": round(export["cpu_web"], 1),
                               "sandboxes": round(export["cpu_sandboxes"], 1)},
        "peak_rss_mb_export": {"consumer": round(export["rss_consumer"], 1), "web": round(export["rss_web"], 1)},
        "peak_rss_mb_with_echoes": {k: round(v, 1) for k, v in rss_with_echoes.items()},
        "consumers": args.consumers, "latency_ms": float(os.environ["SANDBOX_LATENCY_MS"]),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
                   + ("PostgreSQL + " + ("Redis" if settings["HUEY_STORAGE"] == "redis" else "Huey on SQLite")
                      if postgres else "SQLite + Huey on SQLite"),
        "load_average_1m_after": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result))
    return 0 if in_xero == linked == n and failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
