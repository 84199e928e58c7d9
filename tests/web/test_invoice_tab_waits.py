"""Why an invoice waits: the tab names what goes before it, since when, and about how long
at the installation's recent rate, instead of "Waiting to sync."."""
from __future__ import annotations

from datetime import timedelta

from bridge.extensions import db
from bridge.models import WorkItem, utcnow

from .conftest import launch

TAB = "/bitrix24/placement/invoice"


def _items(portal, n: int, *, state: str, at, priority: int = 0, prefix: str = "invoice:1", spread=None) -> None:
    for i in range(n):
        when = at + (spread * i if spread else timedelta(0))
        db.session.add(WorkItem(installation_id=portal.id, flow="invoice_to_ledger", object_key=f"{prefix}{i:03}",
                                state=state, priority=priority, created_at=when, updated_at=when,
                                last_run_at=when if state == "idle" else None))


def test_an_invoice_behind_120_others_says_so_and_about_how_long(client, portal):
    t = utcnow()
    _items(portal, 60, state="idle", at=t - timedelta(seconds=60), prefix="invoice:5", spread=timedelta(seconds=1))
    _items(portal, 120, state="queued", at=t - timedelta(minutes=5))  # a burst, queued before it
    db.session.add(WorkItem(installation_id=portal.id, flow="invoice_to_ledger", object_key="invoice:7",
                            state="queued", created_at=t - timedelta(minutes=1), updated_at=t - timedelta(minutes=1)))
    db.session.commit()
    html = launch(client, TAB, {"ID": "7"}).get_data(as_text=True)
    assert "Waiting to sync: behind 120 items of invoices being sent to the ledger started" in html
    assert "about 2 min." in html  # 60 runs in the last minute: one a second
    assert "Waiting to sync.<" not in html


def test_without_a_measured_rate_it_says_nothing_about_time(client, portal):
    t = utcnow()
    _items(portal, 3, state="queued", at=t - timedelta(minutes=5))
    db.session.add(WorkItem(installation_id=portal.id, flow="invoice_to_ledger", object_key="invoice:7",
                            state="queued", created_at=t, updated_at=t))
    db.session.commit()
    html = launch(client, TAB, {"ID": "7"}).get_data(as_text=True)
    assert "behind 3 items of invoices being sent to the ledger started" in html and " min." not in html


def test_bulk_work_queued_before_it_does_not_count_as_ahead(client, portal):
    t = utcnow()
    _items(portal, 800, state="queued", at=t - timedelta(minutes=5), priority=1)  # a backfill's invoices
    db.session.add(WorkItem(installation_id=portal.id, flow="invoice_to_ledger", object_key="invoice:7",
                            state="queued", created_at=t, updated_at=t))
    db.session.commit()
    html = launch(client, TAB, {"ID": "7"}).get_data(as_text=True)
    assert "Waiting to sync; it goes next." in html


def test_a_retry_in_the_sync_log_says_what_it_waits_behind(client, portal):
    from bridge.models import SyncRecord
    t = utcnow()
    _items(portal, 3, state="queued", at=t - timedelta(minutes=5))
    record = SyncRecord(installation_id=portal.id, flow="invoice_to_ledger", object_kind="invoice", object_id="9",
                        direction="to_ledger", state="failed", error_message="Xero is down")
    db.session.add(record)
    db.session.commit()
    main = launch(client, "/bitrix24/app").get_data(as_text=True)
    token = main.split("/bitrix24/app/log?token=")[1].split('"')[0]
    body = client.post(f"/bitrix24/app/log/retry/{record.id}", data={"token": token}).get_data(as_text=True)
    assert "Retry of invoice 9 requested. Waiting to sync: behind 3 items of invoices being sent to the ledger" in body
