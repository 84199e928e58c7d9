"""PostgreSQL restarted under load: nothing answered 2xx is lost, what was refused is recovered.

bridge runs on its own throwaway PostgreSQL cluster (tests/support/pg_cluster.py) while the
sandbox portal creates invoices without pause, each firing its events at bridge, and a
worker drains the queue. The cluster is stopped, kept down, and started again; bridge is
not restarted. Then:

- every callback bridge answered 2xx is in the inbox and processed, and every invoice is
  in Xero exactly once (one link each, no duplicate, no failure shown to the user);
- while the database was down bridge answered 503 with Retry-After, never a 500 or a stack;
- what it refused then is found by the recovery paths alone: Bitrix24 events (never
  re-sent by Bitrix24) by the reconcile, Xero webhooks (their retries spent during the
  outage) by the ledger poll.
"""
from __future__ import annotations

import threading
from collections import Counter
import time
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select

from bridge import engine
from bridge.engine import limits
from bridge.connectors.bitrix24 import store
from bridge.connectors.bitrix24.reconcile import reconcile_all
from bridge.extensions import db, huey
from bridge.models import InboxEvent, Link, SyncRecord, WorkItem
from bridge.settings import save_section
from bridge.sync.polling import poll_all
from tests.conftest import require
from tests.support import pg_cluster, xero_spec
from tests.support.live import start_live

pytestmark = pytest.mark.slow

ACME = "acme.bitrix24.com"


@pytest.fixture
def pg():
    ok, why = pg_cluster.usable()
    require(ok, why)
    with pg_cluster.Cluster() as cluster:
        yield cluster


@pytest.fixture
def portal(pg, tmp_path, monkeypatch):
    """bridge on the throwaway cluster, installed in the portal, Xero connected."""
    from tests.connectors.xero.test_end_to_end import _connect_in_browser, _org

    require(xero_spec.spec_dir() is not None, "Xero specs not found (XERO_SPEC_DIR)")
    # Leases short enough that the sweeper, run by the test once the worker has stopped,
    # revives what a task killed by the outage left "running" (in production: 10 minutes).
    monkeypatch.setattr(limits, "WORK_LEASE", timedelta(seconds=2))
    monkeypatch.setattr(limits, "INBOX_LEASE", timedelta(seconds=2))
    live = start_live(tmp_path, pg.url)
    try:
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
        live.member_id = auth["member_id"]
        yield live
    finally:
        live.stop()
        with live.app.app_context():
            db.session.remove()
            db.engine.dispose()
        huey.flush()


def new_invoice(live, n: int, company_id: str) -> dict:
    return live.control(f"bitrix24/portals/{ACME}/invoices", json={
        "fields": {"title": f"Order {n}", "companyId": company_id, "accountNumber": f"PG-{n:04d}",
                   "currencyId": "NZD", "closedate": "2026-12-15"},
        "rows": [{"productName": "Consulting hour", "price": "115.00", "quantity": 1, "taxRate": 15,
                  "taxIncluded": "N"}]})["item"]


class Worker(threading.Thread):
    """A consumer draining the queue without pause; a task that dies with the database is
    simply gone, as in a real consumer (the sweeper finds its work later). ``crashes``
    counts them (Huey's "error" signal)."""

    def __init__(self, live) -> None:
        super().__init__(daemon=True)
        self.live, self.stopping, self.crashes = live, threading.Event(), 0

    def _crashed(self, signal, task, *args) -> None:
        self.crashes += 1

    def run(self) -> None:
        huey.signal("error")(self._crashed)
        try:
            while not self.stopping.is_set():
                try:
                    if self.live.run_jobs() == 0:
                        time.sleep(0.1)
                except Exception:  # the database went away outside a task
                    time.sleep(0.2)
        finally:
            huey.disconnect_signal(self._crashed)


def settle(live, timeout: float = 120) -> None:
    """What the sweeper and the queue do over the next minutes, compressed: revive work of
    dead tasks, run everything, until nothing is pending or waiting."""
    deadline = time.monotonic() + timeout
    history: list[tuple[int, int, int, int]] = []  # per pass: tasks run, open inbox, open work, scheduled
    while time.monotonic() < deadline:
        live.control("bitrix24/events/wait", json={"timeout": 10})
        live.run_jobs()
        with live.app.app_context():
            for task in huey.read_schedule(huey._get_timestamp() + timedelta(days=7)):  # beyond any backoff
                task.eta = None  # retries waiting for their time: due now (Huey puts a task whose
                huey.enqueue(task)  # time has not come back in the schedule instead of running it)
            db.session.execute(WorkItem.__table__.update().where(WorkItem.state == "waiting")
                               .values(next_attempt_at=engine.now()))
            db.session.commit()
            engine.sweep_once()
            open_inbox = db.session.scalar(select(func.count()).select_from(InboxEvent).where(
                InboxEvent.state.in_(("pending", "processing"))))
            open_work = db.session.scalar(select(func.count()).select_from(WorkItem).where(
                WorkItem.state.in_(("queued", "running", "waiting"))))
        ran = live.run_jobs()
        history.append((ran, open_inbox, open_work, len(huey.scheduled())))
        if ran == 0 and not open_inbox and not open_work and not huey.scheduled():
            return
        time.sleep(0.5)
    with live.app.app_context():
        still_open = db.session.execute(select(WorkItem.flow, WorkItem.state, WorkItem.object_key, WorkItem.lease_until,
                                               WorkItem.next_attempt_at).where(
            WorkItem.state.in_(("queued", "running", "waiting")))).all()
        inbox = db.session.execute(select(InboxEvent.source, InboxEvent.state, InboxEvent.last_error).where(
            InboxEvent.state.in_(("pending", "processing")))).all()
    raise AssertionError(f"work still open after the outage: {still_open[:10]} inbox: {inbox[:5]}; "
                         f"last passes (ran, inbox, work, scheduled): {history[-8:]}; "
                         f"scheduled: {[t.name for t in huey.scheduled()][:5]}")


def poll_as_its_periodic_job_would(live, timeout: float = 120) -> None:
    """The ledger poll, again on its next round while Xero's minute (spent by the recovery's
    exports) holds it back: one round alone met the limit in one run of nine."""
    deadline = time.monotonic() + timeout
    while True:
        with live.app.app_context():
            outcome = poll_all()
        if not outcome["failed"]:
            return
        assert time.monotonic() < deadline, f"the poll never got through: {outcome}"
        time.sleep(5)


def xero_invoices(live) -> list[dict]:
    state = live.control(f"xero/orgs/{live.tenant}/state", method="GET")
    return [i for i in state["invoices"] if i["Type"] == "ACCREC"]


def stage_of(live, item_id) -> str:
    state = live.control(f"bitrix24/portals/{ACME}/state", method="GET")
    return next(i for i in state["invoices"] if int(i["id"]) == int(item_id))["stageId"]


def outage(live, pg, loading, loader, before: list[dict]) -> None:
    """Under load for a while; the cluster stopped, requests refused while it is down, Xero
    approvals whose webhooks find bridge down; started again; under load again."""
    time.sleep(3)
    pg.stop()
    try:
        time.sleep(1)
        # While it is down: every kind of request gets a 503 with Retry-After, no stack.
        callback = requests.post(f"{live.app_url}/hooks/bitrix24", timeout=10, data={
            "event": "ONCRMDYNAMICITEMUPDATE", "data[FIELDS][ID]": "1", "data[FIELDS][ENTITY_TYPE_ID]": "31",
            "ts": str(int(time.time())), "auth[member_id]": live.member_id,
            "auth[application_token]": "whatever-it-is"})
        assert callback.status_code == 503
        assert callback.headers["Retry-After"].isdigit()
        assert "Traceback" not in callback.text and "OperationalError" not in callback.text
        assert requests.get(f"{live.app_url}/healthz", timeout=10).status_code == 503
        for item in before:  # approved in Xero now: the webhooks find bridge down
            invoice = next(i for i in xero_invoices(live) if i["Url"].endswith(f"/details/{item['id']}/"))
            live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/approve")
            live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/send")
        live.control("xero/webhooks/flush")
        time.sleep(3)  # the sandbox's webhook retries (0.2 + 0.5 + 1 s) are spent
    finally:
        pg.start()
    time.sleep(3)  # under load again, on the restarted server: no restart of bridge
    loading.set()
    loader.join(timeout=30)
    live.control("bitrix24/events/wait", json={"timeout": 30})


def test_postgres_restarted_under_load_loses_nothing_and_duplicates_nothing(pg, portal):
    live = portal
    company = live.control(f"bitrix24/portals/{ACME}/companies", json={"fields": {
        "TITLE": "Globex Ltd", "EMAIL": [{"VALUE": "ap@globex.test", "VALUE_TYPE": "WORK"}]}})
    # Two invoices in Xero before the outage: they are approved there while bridge's
    # database is down, so their webhooks are refused.
    before = [new_invoice(live, n, company["ID"]) for n in range(2)]
    settle(live)
    assert len(xero_invoices(live)) == 2

    created: list[dict] = []
    loading = threading.Event()

    def load() -> None:
        n = 100
        while not loading.is_set():
            created.append(new_invoice(live, n, company["ID"]))
            n += 1
            time.sleep(0.05)

    worker = Worker(live)
    worker.start()
    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    try:
        outage(live, pg, loading, loader, before)
    finally:  # whatever happened, no thread of this test outlives it
        loading.set()
        worker.stopping.set()
        loader.join(timeout=30)
        worker.join(timeout=120)
    assert not worker.is_alive(), "the worker did not stop"

    deliveries = [d for d in live.control("bitrix24/events/log", method="GET")
                  if d["member_id"] == live.member_id and dict(map(tuple, d["form"])).get("event", "")
                  .startswith("ONCRMDYNAMICITEM")]
    answered = [d for d in deliveries if d["http_status"] and d["http_status"] < 300]
    refused = [d for d in deliveries if d not in answered]
    assert {d["http_status"] for d in refused} == {503}, [(d["http_status"], d["error"]) for d in refused]
    assert refused, "the outage refused no event: it did not happen under load"
    assert any(int(dict(map(tuple, d["form"]))["data[FIELDS][ID]"]) in {int(i["id"]) for i in created}
               for d in answered[-5:]), "nothing was answered after the restart"
    webhooks = live.control("xero/webhooks/deliveries", method="GET")["deliveries"]
    assert any(w["status"] == 503 and not w["delivered"] for w in webhooks), "no Xero webhook was refused"

    settle(live)
    with live.app.app_context():  # every event answered 2xx was stored and processed
        rows = {(e.topic, e.object_key): e.state for e in db.session.scalars(select(InboxEvent))}
    for delivery in answered:
        form = dict(map(tuple, delivery["form"]))
        assert rows.get((form["event"], f"invoice:{form['data[FIELDS][ID]']}")) == "done", form

    # The recovery paths, as their periodic jobs run them: Bitrix24 reconcile, ledger poll.
    with live.app.app_context():
        reconcile_all()
    poll_as_its_periodic_job_would(live)
    settle(live)

    in_portal = {f"b24:{live.member_id}:SI:{i['id']}"
                 for i in live.control(f"bitrix24/portals/{ACME}/state", method="GET")["invoices"]}
    assert len(in_portal) >= len(before) + len(created)
    # Each Xero invoice's Url is the link back to its Bitrix24 invoice: one per invoice.
    references = Counter(f"b24:{live.member_id}:SI:{i['Url'].rstrip('/').rsplit('/', 1)[-1]}"
                         for i in xero_invoices(live))
    assert [ref for ref, n in references.items() if n > 1] == [], "duplicates in Xero"
    assert set(references) == in_portal, f"lost: {sorted(in_portal - set(references))}"
    with live.app.app_context():
        linked = {f"b24:{live.member_id}:SI:{pid}" for pid in db.session.scalars(
            select(Link.platform_id).where(Link.kind == "invoice"))}
        failed = db.session.scalars(select(SyncRecord).where(SyncRecord.state.in_(("failed", "conflict")))).all()
        unlinked = sorted(in_portal - linked)
        history = [(r.object_id, r.state, r.error_code, r.error_message) for r in db.session.scalars(
            select(SyncRecord).where(SyncRecord.object_id.in_([ref.rsplit(":", 1)[1] for ref in unlinked[:3]]))
            .order_by(SyncRecord.id))]
    assert [(r.flow, r.object_id, r.error_message) for r in failed] == []
    assert unlinked == [], history
    for item in before:  # approved in Xero during the outage: found by the poll
        with live.app.app_context():
            link = db.session.scalar(select(Link).where(Link.kind == "invoice", Link.platform_id == str(item["id"])))
            history = [(r.flow, r.object_id, r.state, r.error_message, r.warning) for r in db.session.scalars(
                select(SyncRecord).where(SyncRecord.object_id.in_([str(item["id"]), link.ledger_id]))
                .order_by(SyncRecord.id))]
        assert stage_of(live, item["id"]).endswith(":S"), (link.ledger_status, history)
    print(f"\nFIGURES postgres restart: {len(deliveries)} invoice events sent, {len(answered)} answered 2xx "
          f"(all processed), {len(refused)} refused with 503 and recovered by the reconcile; "
          f"{sum(1 for w in webhooks if not w['delivered'])} Xero webhook deliveries refused, recovered by the poll; "
          f"{len(in_portal)} invoices, each once in Xero; {worker.crashes} tasks died with the database (their work revived by the sweeper)")
    assert "database system is shut down" in pg.log() or "shutting down" in pg.log()
