"""Bitrix24 -> Xero, end to end over real HTTP: a paid or part-paid invoice cancelled in
Bitrix24 gets one Xero credit note, applied to what is still due; never a second one,
whatever crashes where."""
from __future__ import annotations

from decimal import Decimal

from bridge import faults
from tests.e2e.conftest import ACME
from tests.e2e.test_bitrix24_xero import deliver_events, new_invoice, xero_invoices
from tests.e2e.test_bitrix24_xero_invoices import edit_invoice, records, xero_flush


def credit_notes(live) -> list[dict]:
    return live.control(f"xero/orgs/{live.tenant}/state", method="GET")["creditNotes"]


def approved_and_part_paid(live, amount) -> tuple[dict, dict]:
    item = new_invoice(live)  # 2 x 1,000.00 + 15 % = 2,300.00
    deliver_events(live)
    (invoice,) = xero_invoices(live)
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/approve")
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/pay", json={"amount": amount})
    xero_flush(live)
    return item, invoice


def test_part_paid_invoice_moved_to_the_failure_stage_is_credited_once(portal):
    live = portal
    item, invoice = approved_and_part_paid(live, "800.00")
    edit_invoice(live, item["id"], fields={"stageId": "DT31_1:D"})  # "Declined"
    xero_flush(live)
    deliver_events(live)
    (note,) = credit_notes(live)
    assert note["Total"] == 2300 and note["Status"] == "AUTHORISED" and note["RemainingCredit"] == 800
    assert note["Contact"]["ContactID"] == invoice["Contact"]["ContactID"]
    (after,) = xero_invoices(live)
    assert after["Status"] == "PAID" and after["AmountCredited"] == 1500 and after["AmountDue"] == 0
    assert [c["CreditNoteID"] for c in after["CreditNotes"]] == [note["CreditNoteID"]]
    done = records(live, flow="invoice_cancel", object_id=item["id"])[-1]
    assert done.state == "succeeded" and Decimal(done.received["to_refund"]) == 800
    # the same cancellation again (a repeated event, a "sync now") makes no second credit note
    live.control(f"bitrix24/portals/{ACME}/invoices/{item['id']}", method="DELETE")
    deliver_events(live)
    assert len(credit_notes(live)) == 1


def test_crash_between_credit_note_and_its_allocation_then_late_retry_makes_no_second_one(portal):
    live = portal
    item, _ = approved_and_part_paid(live, "300.00")

    def crash_then_wait() -> None:
        # The worker dies after Xero made the credit note and before it is applied; the
        # retry comes after Xero's 6-minute idempotency window.
        live.control("clock", json={"advance": 400})
        raise faults.InjectedFault("after credit note created")
    faults.arm("after credit note created", crash_then_wait, times=1)
    try:
        edit_invoice(live, item["id"], fields={"stageId": "DT31_1:D"})
        xero_flush(live)
        deliver_events(live)
    finally:
        faults.disarm("after credit note created")
    assert len(credit_notes(live)) == 1 and xero_invoices(live)[0]["AmountCredited"] == 0
    live.control(f"bitrix24/portals/{ACME}/invoices/{item['id']}", method="DELETE")
    deliver_events(live)
    (note,) = credit_notes(live)
    (after,) = xero_invoices(live)
    assert after["AmountCredited"] == 2000 and after["AmountDue"] == 0 and note["RemainingCredit"] == 300


def test_intent_without_the_credit_note_id_adopts_the_one_xero_has(portal):
    """The answer to the create was lost and the retry is past the idempotency window: the
    intent row sends the retry looking (contact, total, unapplied) instead of creating."""
    live = portal
    item, _ = approved_and_part_paid(live, "300.00")

    from bridge.sync import invoice_credit
    original = invoice_credit._remember
    calls = {"n": 0}

    def remember_once_lost(*args, **kwargs):  # the answer never reaches bridge
        calls["n"] += 1
        if calls["n"] == 1:
            live.control("clock", json={"advance": 400})
            raise faults.InjectedFault("answer lost")
        return original(*args, **kwargs)
    invoice_credit._remember = remember_once_lost
    try:
        edit_invoice(live, item["id"], fields={"stageId": "DT31_1:D"})
        xero_flush(live)
        deliver_events(live)
        live.control(f"bitrix24/portals/{ACME}/invoices/{item['id']}", method="DELETE")
        deliver_events(live)
    finally:
        invoice_credit._remember = original
    (note,) = credit_notes(live)
    assert xero_invoices(live)[0]["AmountCredited"] == 2000 and note["RemainingCredit"] == 300
