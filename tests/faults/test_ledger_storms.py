"""The ledger answering 503 and then 429 for minutes during a bulk run.

Xero: 60 Bitrix24 invoices are waiting when Xero goes offline (503, plain text) for three
minutes of sandbox time, then refuses with 429 and Retry-After for two more. Bexio: DG1
orders meet a run of 503s and then 429s (RateLimit-Reset, no Retry-After). Time is moved
on both sides (the sandbox clock; bridge's due retries and paused budgets) instead of
waited for. Afterwards everything is in the ledger once, nothing failed, bridge never
retried sooner than the ledger asked, and meanwhile the user saw "waiting, retrying at ...".
"""
from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text, update

from bridge import engine
from bridge.extensions import db, huey
from bridge.models import Link, SyncRecord, WorkItem
from tests.connectors.bexio.live_support import state as bexio_state
from tests.connectors.dg1.test_live import order_state, place_order, wait_delivered
from tests.e2e.conftest import portal, shop  # noqa: F401  (fixtures)
from tests.e2e.test_bitrix24_xero import ACME, xero_invoices

pytestmark = pytest.mark.slow

INVOICES = 60


def time_passes(live, seconds: float) -> None:
    """``seconds`` pass for everyone: the sandbox clock moves, and in bridge the retries
    and paused budgets that would be due by then are due now."""
    live.control("clock", json={"advance": seconds})
    with live.app.app_context():
        db.session.execute(update(WorkItem).where(WorkItem.state == "waiting").values(next_attempt_at=engine.now()))
        db.session.execute(text("UPDATE rate_budgets SET paused_until = NULL"))
        db.session.commit()
        for task in huey.read_schedule(huey._get_timestamp() + timedelta(seconds=seconds + 86400)):
            task.eta = None  # due now (Huey puts a task whose time has not come back in the schedule)
            huey.enqueue(task)
        engine.sweep_once()


def run_until_quiet(live, rounds: int = 30) -> None:
    for _ in range(rounds):
        live.control("bitrix24/events/wait", json={"timeout": 10})
        if live.run_jobs() == 0:
            return


def retrying_records(live) -> list[SyncRecord]:
    with live.app.app_context():
        records = db.session.scalars(select(SyncRecord).where(SyncRecord.state == "retrying")).all()
        db.session.expunge_all()
        return list(records)


def as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def invoice_tab_label(live, invoice_id: str) -> tuple[str, str]:
    from bridge.connectors.bitrix24 import store
    from bridge.web.bitrix24.invoice_state import invoice_state

    with live.app.app_context(), live.app.test_request_context():
        state = invoice_state(store.find(live.member_id).id, invoice_id)
        return state.label, state.tone


def test_xero_503_then_429_for_minutes_during_a_bulk_run(portal):  # noqa: F811
    live = portal
    companies = [live.control(f"bitrix24/portals/{ACME}/companies", json={"fields": {
        "TITLE": f"Customer {n} Ltd", "EMAIL": [{"VALUE": f"ap{n}@customer.test", "VALUE_TYPE": "WORK"}]}})
        for n in range(6)]
    items = [live.control(f"bitrix24/portals/{ACME}/invoices", json={
        "fields": {"title": f"Order {n}", "companyId": companies[n % 6]["ID"], "accountNumber": f"ST-{n:03d}",
                   "currencyId": "NZD", "closedate": "2026-12-15"},
        "rows": [{"productName": "Consulting hour", "price": "115.00", "quantity": 1 + n % 3, "taxRate": 15,
                  "taxIncluded": "N"}]})["item"] for n in range(INVOICES)]
    live.control("bitrix24/events/wait", json={"timeout": 30})
    live.control("xero/outage", json={"status": 503, "seconds": 180})
    live.control("xero/outage", json={"status": 429, "seconds": 120, "retry_after": 60})

    # Minute 0: Xero is offline. Every batch waits for its retry; none is a failure.
    started = time.time()
    run_until_quiet(live)
    assert xero_invoices(live) == []
    waiting = retrying_records(live)
    assert waiting and all(r.error_message.startswith("Xero is offline") for r in waiting)
    # Without a Retry-After, a 503 waits Xero's rule (5 minutes), never the 30 s first backoff.
    assert all((as_utc(r.retry_at) - as_utc(r.finished_at)).total_seconds() >= 299 for r in waiting)
    label, tone = invoice_tab_label(live, str(items[0]["id"]))
    assert label.startswith("Waiting, retrying at ") and "Xero is offline" in label and tone == "pending"

    # Minute 3: 429 with Retry-After 60 s: honoured, and still waiting rather than failed.
    time_passes(live, 181)
    run_until_quiet(live)
    limited = [r for r in retrying_records(live) if r.error_code == "minute"]
    assert limited, "no retry met the 429"
    assert all((as_utc(r.retry_at) - as_utc(r.finished_at)).total_seconds() >= 59 for r in limited)
    assert "Waiting, retrying at " in invoice_tab_label(live, str(items[0]["id"]))[0]

    # Minute 5: the storm is over. Everything syncs, once.
    time_passes(live, 121)
    run_until_quiet(live)
    for _ in range(5):  # the stragglers a 429 rescheduled
        time_passes(live, 61)
        run_until_quiet(live)
    references = Counter(i["Url"] for i in xero_invoices(live))  # the link back: one per invoice
    assert [ref for ref, n in references.items() if n > 1] == []
    assert len(references) == INVOICES
    with live.app.app_context():
        linked = db.session.scalar(select(func.count()).select_from(Link).where(Link.kind == "invoice"))
        failed = db.session.scalars(select(SyncRecord).where(SyncRecord.state.in_(("failed", "conflict")))).all()
    assert linked == INVOICES
    assert [(r.object_id, r.error_message) for r in failed] == []
    assert invoice_tab_label(live, str(items[0]["id"]))[1] == "ok"
    # Not hammered: per outage window, a handful of refused calls (one per batch and try),
    # not one per invoice or per second.
    outages = live.control("xero/outage", method="GET")["outages"]
    assert [o["status"] for o in outages] == [503, 429]
    assert all(0 < o["refused"] <= 6 for o in outages), outages
    assert time.time() - started < 600
    print(f"\nFIGURES Xero storm: {INVOICES} invoices, calls refused: {outages[0]['refused']} in the 503 window, "
          f"{outages[1]['refused']} in the 429 window; {len(waiting)} records waiting after the first run; "
          f"{time.time() - started:.0f} s wall time")


ORDERS = 6


def test_bexio_503_then_429_during_a_run_of_orders(shop):  # noqa: F811
    live = shop
    orders = [place_order(live) for _ in range(ORDERS)]
    wait_delivered(live, ORDERS)
    live.control("bexio/companies/seeland/faults", json={"status": 503, "count": 8})
    live.control("bexio/companies/seeland/faults", json={"status": 429, "count": 4})

    live.run_jobs()
    waiting = retrying_records(live)
    assert waiting and all(r.retry_at is not None for r in waiting)
    with live.app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SyncRecord).where(SyncRecord.state == "failed")) == 0
    for _ in range(30):  # minutes pass; each round the due retries meet what is left of the storm
        time_passes(live, 61)
        live.run_jobs()
        with live.app.app_context():
            open_work = db.session.scalar(select(func.count()).select_from(WorkItem).where(
                WorkItem.state.in_(("queued", "running", "waiting"))))
        if not open_work:
            break

    company = bexio_state(live)
    assert len(company["invoices"]) == ORDERS
    assert len({i["api_reference"] for i in company["invoices"]}) == ORDERS  # one per order
    assert all(i["kb_item_status_id"] == 9 and len(i["payments"]) == 1 for i in company["invoices"])
    assert len(company["sent_emails"]) == ORDERS
    by_id = {str(i["id"]) for i in company["invoices"]}
    assert {order_state(live, o["id"])["external_refs"]["bexio_invoice_id"] for o in orders} == by_id
    with live.app.app_context():
        failed = db.session.scalars(select(SyncRecord).where(SyncRecord.state.in_(("failed", "conflict")))).all()
        limited = db.session.scalars(select(SyncRecord).where(SyncRecord.error_code.in_(("http_429", "rate_limited")))).all()
    assert [(r.object_id, r.error_message) for r in failed] == []
    # A 429 says when the window resets (RateLimit-Reset): the retry is never sooner.
    assert all(r.retry_at is None or r.retry_at > r.finished_at for r in limited)
