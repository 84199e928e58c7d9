"""A worker killed at each step of the Bitrix24 -> Xero invoice flow leaves no duplicate.

The flow runs in a separate process that is killed outright (SIGKILL, as a power cut or the
OOM killer would) at a named fault point: after the customer was created in Xero, before
and after the invoice write, before the link write, before and after the Xero reference is
written back to the Bitrix24 invoice, and, on the way back, after the Bitrix24 invoice was
moved to its "sent" stage. The sweeper then finds the abandoned work once its lease has
run out and a healthy worker finishes it. Whatever the point, Xero ends up with one contact
and one draft invoice, the Bitrix24 invoice carries the Xero InvoiceID, the stage follows
Xero, and the sync log shows no attempt still "running" and no failure.
"""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bridge import engine
from bridge.extensions import db, huey
from bridge.models import InboxEvent, SyncRecord, WorkItem, utcnow
from tests.e2e.conftest import portal  # noqa: F401  (fixture)
from tests.e2e.test_bitrix24_xero import deliver_events, new_invoice, portal_invoice, stage_of, xero_invoices
from tests.faults.test_killed_worker import run_worker_killed_at

EXPORT_POINTS = ["after customer create", "before ledger write", "after ledger create", "before link write",
                 "before reference write-back", "after reference write-back"]


def queue_work_unstarted(live, flow: str) -> int:
    """Translate every stored event into work without running it (the killed worker's
    task), and return the work item of ``flow``."""
    with live.app.app_context():
        for event_id in db.session.scalars(select(InboxEvent.id).where(InboxEvent.state == "pending")).all():
            engine.translate_inbox_events(event_id)
        item_id = db.session.scalar(select(WorkItem.id).where(WorkItem.flow == flow, WorkItem.state == "queued"))
    huey.flush()  # those tasks are the killed worker's
    assert item_id is not None, f"no queued {flow} work"
    return item_id


def kill_then_recover(live, point: str, item_id: int) -> None:
    died = run_worker_killed_at(live, point, item_id)
    assert died.returncode == -9, died.stdout + died.stderr
    with live.app.app_context():  # later: the lease has run out, the sweeper revives the work
        item = db.session.get(WorkItem, item_id)
        assert item.state == "running"
        db.session.execute(update(WorkItem).where(WorkItem.id == item_id)
                           .values(lease_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        assert engine.sweep_once()["work"] >= 1
    live.run_jobs()


def xero_contacts(live) -> list[dict]:
    return live.control(f"xero/orgs/{live.tenant}/state", method="GET")["contacts"]


def sync_log(live) -> list[SyncRecord]:
    with live.app.app_context():
        return list(db.session.scalars(select(SyncRecord).order_by(SyncRecord.id)))


def assert_no_attempt_left_running_or_failed(live) -> None:
    log = [(r.flow, r.state, r.error_message, r.ledger_messages) for r in sync_log(live)]
    assert [entry for entry in log if entry[1] in ("running", "failed", "conflict")] == [], log


@pytest.mark.parametrize("point", EXPORT_POINTS)
def test_a_worker_killed_at_each_export_step_leaves_one_contact_and_one_invoice(portal, point):  # noqa: F811
    live = portal
    item = new_invoice(live)
    live.control("bitrix24/events/wait", json={"timeout": 10})
    kill_then_recover(live, point, queue_work_unstarted(live, "invoice_to_ledger"))
    deliver_events(live)  # what the recovery wrote back comes round as events: nothing more happens

    assert_no_attempt_left_running_or_failed(live)
    (invoice,) = xero_invoices(live)
    assert invoice["Status"] == "DRAFT"
    assert Counter(c["Name"] for c in xero_contacts(live))["Globex Ltd"] == 1, point
    assert portal_invoice(live, item["id"])["xmlId"] == invoice["InvoiceID"], point


def test_a_worker_killed_after_moving_the_stage_leaves_the_invoice_at_sent(portal):  # noqa: F811
    live = portal
    item = new_invoice(live)
    deliver_events(live)
    (invoice,) = xero_invoices(live)
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/approve")
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/send")  # "sent" needs SentToContact
    live.control("xero/webhooks/flush")
    kill_then_recover(live, "after stage move", queue_work_unstarted(live, "ledger_invoice_changed"))
    deliver_events(live)

    assert stage_of(live, item["id"]).endswith(":S")
    assert [i["Status"] for i in xero_invoices(live)] == ["AUTHORISED"]
    assert_no_attempt_left_running_or_failed(live)
