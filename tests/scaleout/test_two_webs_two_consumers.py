"""The scale-out layout end to end: PostgreSQL + Redis, gunicorn with two worker processes,
two Huey consumers, each a separate OS process, against the sandboxes over real HTTP.

Bitrix24 invoices are created in the sandbox portal; their events reach whichever gunicorn
worker; the consumers (both running a scheduler, as two machines would) export them to
Xero in batches; then every invoice is approved in Xero and its status comes back to
Bitrix24 through the webhooks. Afterwards: each invoice is in Xero once and at its "sent"
stage in Bitrix24, nothing failed, both consumers did work, the sandbox never refused a
call for going over Xero's concurrency cap or minute limit (bridge's budgets live in Redis,
shared by every process), and a periodic job ran once per period although both consumers
scheduled it.

Needs ``DATABASE_URL`` (PostgreSQL) and ``TEST_REDIS_URL``: CI's PostgreSQL pass of
``make test-slow`` sets both; elsewhere the test skips.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from bridge import create_app
from bridge.extensions import db
from bridge.models import Cursor, Link, PeriodicRun, SyncRecord
from bridge.sandbox import SandboxHost, create_sandbox_app
from bridge.settings import save_section
from tests.conftest import require
from tests.support import xero_spec
from tests.support.live import Live
from tests.support.servers import free_port, serve_in_thread

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ACME = "acme.bitrix24.com"
INVOICES = 100
CUSTOMERS = 10


def _wait_until(check, timeout: float, what: str, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def scaled_out(tmp_path):
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("TEST_REDIS_URL", "")
    require(database_url.startswith("postgresql"), "the scale-out run needs PostgreSQL (DATABASE_URL)")
    require(bool(redis_url), "the scale-out run needs Redis (TEST_REDIS_URL)")
    require(xero_spec.spec_dir() is not None, "Xero specs not found (XERO_SPEC_DIR)")
    gunicorn, consumer = shutil.which("gunicorn", path=str(BIN)), shutil.which("huey_consumer", path=str(BIN))
    require(bool(gunicorn and consumer), "gunicorn and huey_consumer not installed")
    import redis

    redis.Redis.from_url(redis_url).flushdb()  # the queue and the budgets start empty

    port = free_port()
    app_url = f"http://localhost:{port}"  # Xero allows http redirect URIs only on localhost
    sandbox = SandboxHost(app_url=app_url, public_url="")
    sandbox_server = serve_in_thread(create_sandbox_app(sandbox))
    sandbox.public_url = sandbox_server.url
    instance = tmp_path / "instance"
    config = {"BRIDGE_ENV": "test", "INSTANCE_PATH": str(instance), "DATABASE_URL": database_url,
              "SANDBOX_URL": sandbox_server.url, "PUBLIC_URL": app_url, "REDIS_URL": redis_url}
    app = create_app(config)  # here: the test's view of the database; it also writes the shared secrets
    with app.app_context():
        db.drop_all()
        db.create_all()

    env = {**os.environ, "BRIDGE_ENV": "test", "HUEY_STORAGE": "redis", "REDIS_URL": redis_url,
           "DATABASE_URL": database_url, "BRIDGE_INSTANCE_PATH": str(instance),
           "SANDBOX_URL": sandbox_server.url, "PUBLIC_URL": app_url, "PYTHONPATH": str(ROOT),
           "BRIDGE_PLUGINS": "tests.support.consumer_flows"}
    logs = tmp_path / "logs"
    logs.mkdir()
    processes: dict[str, subprocess.Popen] = {}

    def spawn(name: str, command: list[str]) -> None:
        processes[name] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=(logs / f"{name}.log").open("w"),
                                           stderr=subprocess.STDOUT, start_new_session=True)

    spawn("web", [gunicorn, "--workers", "2", "--threads", "4", "--bind", f"127.0.0.1:{port}",
                  "--access-logfile", "-", "--access-logformat", "%(p)s %(m)s %(U)s %(s)s", "app:app"])
    for n in (1, 2):  # each with its scheduler, as on two machines
        spawn(f"consumer{n}", [consumer, "tests.support.consumer_flows.huey", "-w", "2", "-k", "thread"])
    live = Live(app=app, app_url=app_url, sandbox_url=sandbox_server.url, sandbox=sandbox,
                servers=[sandbox_server])
    live.processes, live.logs = processes, logs
    try:
        _wait_until(lambda: _healthy(app_url), 60, "gunicorn to answer", every=0.5)
        yield live
    finally:
        for process in processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        live.stop()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _healthy(app_url: str) -> bool:
    try:
        return requests.get(f"{app_url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _install_and_connect(live) -> None:
    from bridge.connectors.bitrix24 import store
    from tests.connectors.xero.test_end_to_end import _connect_in_browser, _org

    live.control("bitrix24/settings", json={"allow_insecure_handlers": True})
    auth = live.control(f"bitrix24/portals/{ACME}/install", json={"mode": "page"})["auth"]
    with live.app.app_context():
        installation_id = store.find(auth["member_id"]).id
    _connect_in_browser(live, installation_id, "Bridge Demo (NZ)")
    with live.app.app_context():
        save_section(store.find(auth["member_id"]), "mapping",
                     {"tax_rates": {"15": "OUTPUT2"}, "default_sales_account": "200"})
        db.session.commit()
    live.tenant = _org(live, "Bridge Demo (NZ)")


def _xero_invoices(live) -> list[dict]:
    state = live.control(f"xero/orgs/{live.tenant}/state", method="GET")
    return [i for i in state["invoices"] if i["Type"] == "ACCREC"]


def _stages(live) -> dict[int, str]:
    state = live.control(f"bitrix24/portals/{ACME}/state", method="GET")
    return {int(i["id"]): i["stageId"] for i in state["invoices"]}


def test_two_gunicorn_workers_and_two_consumers_sync_everything_once_within_the_limits(scaled_out):
    live = scaled_out
    started = time.monotonic()
    _install_and_connect(live)
    companies = [live.control(f"bitrix24/portals/{ACME}/companies", json={"fields": {
        "TITLE": f"Customer {n:02d} Ltd", "EMAIL": [{"VALUE": f"ap{n}@customer.test", "VALUE_TYPE": "WORK"}]}})
        for n in range(CUSTOMERS)]
    items = [live.control(f"bitrix24/portals/{ACME}/invoices", json={
        "fields": {"title": f"Order {n}", "companyId": companies[n % CUSTOMERS]["ID"],
                   "accountNumber": f"SO-{n:04d}", "currencyId": "NZD", "closedate": "2026-12-15"},
        "rows": [{"productName": "Consulting hour", "price": "115.00", "quantity": 1 + n % 3, "taxRate": 15,
                  "taxIncluded": "N"}]})["item"] for n in range(INVOICES)]

    # Bitrix24 -> Xero, by the consumers alone.
    _wait_until(lambda: len(_xero_invoices(live)) >= INVOICES, 600, "every invoice in Xero")
    # Approved and sent to the customer in Xero -> "sent" in Bitrix24, through the webhooks to gunicorn.
    for invoice in _xero_invoices(live):
        live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/approve")
        live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/send")
    ids = {int(i["id"]) for i in items}
    _wait_until(lambda: all(stage.endswith(":S") for item_id, stage in _stages(live).items() if item_id in ids),
                600, "every invoice at its sent stage")
    # At least one minute boundary for the periodic jobs, and the echoes to settle.
    time.sleep(max(0.0, 70 - (time.monotonic() - started)) + 5)

    references = Counter(i["Url"] for i in _xero_invoices(live))  # the link back: one per invoice
    assert [ref for ref, n in references.items() if n > 1] == [], "a duplicate in Xero"
    assert len(references) == INVOICES
    with live.app.app_context():
        links = db.session.scalar(select(func.count()).select_from(Link).where(Link.kind == "invoice"))
        failed = db.session.scalars(select(SyncRecord).where(SyncRecord.state.in_(("failed", "conflict")))).all()
        ticks = db.session.scalar(select(func.count()).select_from(Cursor).where(Cursor.scope == "consumer-test"))
        tick_periods = db.session.scalar(select(func.count()).select_from(PeriodicRun).where(
            PeriodicRun.job == "consumer_test_tick"))
        sweep_owners = set(db.session.scalars(select(PeriodicRun.owner).where(PeriodicRun.job == "sweep")))
    assert links == INVOICES
    assert [(r.flow, r.object_id, r.error_message) for r in failed] == []

    # Xero's limits, as the sandbox counted them for this organisation.
    limits = live.control("xero/limits", method="GET")
    key = next(k for k in limits["day"] if k.endswith(f"/{live.tenant}"))
    refused = limits["refused"].get(key, {})
    assert limits["max_inflight"][key] <= 5
    assert refused.get("concurrent", 0) == 0, refused
    assert refused.get("minute", 0) == 0, refused

    for process in live.processes.values():
        assert process.poll() is None, "a process died"
    outputs = {name: (live.logs / f"{name}.log").read_text() for name in live.processes}
    for name in ("consumer1", "consumer2"):
        assert "run_work" in outputs[name], f"{name} did no work"
        at = outputs[name].find("Traceback")
        assert at < 0, outputs[name][max(0, at - 300):at + 4000]
        assert "consumer_test_tick" in outputs[name]  # both schedulers fired the periodic job ...
    assert ticks == tick_periods >= 1  # ... and it ran once per period
    assert sweep_owners  # the sweeper ran
    web_pids = {line.split()[0] for line in outputs["web"].splitlines() if " POST /hooks/" in line}
    assert len(web_pids) == 2, "callbacks were not shared by both gunicorn workers"
    print(f"\nFIGURES scale-out: {INVOICES} invoices / {CUSTOMERS} customers, {limits['day'][key]} Xero calls, "
          f"at most {limits['max_inflight'][key]} in flight, refused {refused or 'none'}; "
          f"{ticks} periods of the minute job, each run once; {time.monotonic() - started:.0f} s")
