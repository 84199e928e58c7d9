"""A ledger outage or limit is shown as waiting for the next try, not as a failure; a real
failure still is one. (The slow storm test shows the same end to end.)"""
from __future__ import annotations

from datetime import datetime, timezone

from bridge.web.bitrix24.invoice_state import invoice_state
from bridge.extensions import db
from bridge.models import SyncRecord, WorkItem


def _attempt(installation, state: str, item_state: str, message: str, retry_at=None) -> None:
    item = WorkItem(installation_id=installation.id, flow="invoice_to_ledger", object_key="invoice:7",
                    state=item_state, next_attempt_at=retry_at)
    db.session.add(item)
    db.session.flush()
    db.session.add(SyncRecord(installation_id=installation.id, work_item_id=item.id, flow="invoice_to_ledger",
                              object_kind="invoice", object_id="7", direction="to_ledger", state=state,
                              error_message=message, retry_at=retry_at,
                              finished_at=datetime.now(timezone.utc)))
    db.session.commit()


def test_an_outage_reads_as_waiting_with_the_time_of_the_next_try(app_ctx, installation):
    retry_at = datetime(2026, 11, 22, 14, 5, tzinfo=timezone.utc)
    _attempt(installation, "retrying", "waiting",
             "Xero is offline for maintenance or the organisation is offline; the sync will retry.", retry_at)
    with app_ctx.test_request_context():
        state = invoice_state(installation.id, "7")
    assert state.label.startswith("Waiting, retrying at ")
    assert "2:05" in state.label and "Xero is offline" in state.label
    assert state.tone == "pending" and state.error is None


def test_a_permanent_failure_still_reads_as_one(app_ctx, installation):
    _attempt(installation, "failed", "idle", "The tax rate 7.7 % is not mapped.")
    with app_ctx.test_request_context():
        state = invoice_state(installation.id, "7")
    assert state.tone == "error" and state.error == "The tax rate 7.7 % is not mapped."
