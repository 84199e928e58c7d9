"""The seven findings of issue 16, and issue 20's refunds, as explicit histories of the model's rules.

Each is the short history that showed the bug, replayed step by step on the live world
and ended like any random history (at rest, every invariant checked): it fails, naming
the invariant and the step, while the bug is there. Each failed on the code before its
fix (docs/RELIABILITY.md "Model-based histories" says how that was checked).
"""
from __future__ import annotations

import pytest

from tests.model.invariants import balances_agree, refund_tasks
from tests.model.machine import BridgeHistory


@pytest.fixture
def history(world):
    BridgeHistory.world = world
    BridgeHistory.replay_hint = "pytest tests/model/test_regressions.py"
    machine = BridgeHistory()
    machine.fresh_world()
    return machine


def test_finding_1_importing_from_xero_writes_nothing_back(history):
    """Import from Xero, then the events of the records it made in Bitrix24: no write to
    Xero (b), and the persons' IncludeInEmails untouched (e)."""
    history.xero_add_contact(name=0, role="customer", with_person=True)
    history.xero_add_contact(name=2, role="customer", with_person=True, owner=True)
    history.xero_webhook_lost()  # webhooks aside (finding 4): only the button imports here
    history.xero_webhook_lost()
    history.import_from_xero()
    history.worker_runs()
    history.b24_events_delivered(count=None, duplicate=False, run=True)
    history.periodic_passes()  # the reconcile reads the records the import made
    history.xero_webhooks_delivered(count=None, duplicate=False, run=True)
    history.b24_events_delivered(count=None, duplicate=False, run=True)
    history.finish()


def test_finding_2_invoicing_an_imported_person_renames_no_one(history):
    """A Xero contact with a primary person, imported; an invoice for that person alone:
    the company's Xero contact keeps its name (c), no SQL on the invoice (f)."""
    history.xero_add_contact(name=2, role="customer", with_person=False, owner=True)
    history.xero_webhook_lost()
    history.import_from_xero()
    history.worker_runs()
    people = [p for p in history.w.portal()["contacts"] if p.get("NAME") == "Owen"]
    assert people, "the import made no Bitrix24 contact for the primary person"
    history.b24_add_invoice(party=history.people.index(people[0]["ID"]), to_person=True, lines=1, discount=False,
                            currency=0, rate=15, sync=True)
    history.b24_events_delivered(count=None, duplicate=False, run=True)
    history.finish()


def test_finding_3_a_wrong_tax_mapping_never_reads_synced(history):
    """9 % mapped to OUTPUT2 (15 %): refused, or the invoice reads "amounts differ" (d)."""
    history.map_tax(rate="9", code="OUTPUT2")
    history.b24_add_company(name=1, email=True)
    history.b24_add_invoice(party=0, to_person=False, lines=1, discount=False, currency=0, rate=9, sync=True)
    history.b24_events_delivered(count=None, duplicate=False, run=True)
    history.finish()


def test_finding_4_a_xero_contact_webhook_imports_nothing(history):
    """A supplier added in Xero, its webhook delivered: nothing is written to Bitrix24,
    since no one pressed Import (b)."""
    history.xero_add_contact(name=3, role="supplier", with_person=False)
    history.xero_webhooks_delivered(count=None, duplicate=False, run=True)
    history.b24_events_delivered(count=None, duplicate=False, run=True)
    history.finish()


def test_finding_5_no_bridge_key_on_the_customers_invoice(history):
    """An invoice synced: its Xero Reference carries nothing of bridge's (h)."""
    history.b24_add_company(name=0, email=True)
    history.b24_add_invoice(party=0, to_person=False, lines=2, discount=True, currency=0, rate=15, sync=True)
    history.b24_events_delivered(count=None, duplicate=False, run=True)
    history.finish()


def test_finding_6_approved_is_not_sent(history):
    """Approved in Xero, not sent: the Bitrix24 invoice does not move to "sent" (i)."""
    history.b24_add_company(name=1, email=True)
    history.b24_add_invoice(party=0, to_person=False, lines=1, discount=False, currency=0, rate=15, sync=True)
    history.b24_events_delivered(count=None, duplicate=False, run=True)
    history.xero_approve(which=0)
    history.xero_webhooks_delivered(count=None, duplicate=False, run=True)
    history.finish()


@pytest.fixture
def shop_history(world):
    BridgeHistory.world = world
    BridgeHistory.replay_hint = "pytest tests/model/test_regressions.py"
    machine = BridgeHistory()
    machine.with_shop = True
    machine.fresh_world()
    return machine


def test_finding_7_a_paid_dg1_order_is_no_conflict(shop_history):
    """A DG1 order paid by card: its Bexio invoice is paid at once; its products become
    Bexio articles, the order is shipped: no conflict, and nothing names an invoice tab (j)."""
    history = shop_history
    history.dg1_place_order(paid=True, quantity=2)
    history.dg1_webhooks_delivered(run=True)
    history.dg1_products_sync()
    history.dg1_ship_order(which=1)  # the order just placed (the demo shop has one open before it)
    history.dg1_webhooks_delivered(run=True)
    history.daily_status()
    history.dg1_webhooks_delivered(run=True)
    history.finish()


# -- found by the random histories ----------------------------------------------------------

def test_found_a_second_customer_of_one_name_carries_no_bridge_key(history):
    """A Xero contact "Globex Ltd" typed in Xero, then a Bitrix24 company of that name,
    without an e-mail, invoiced: its Xero contact's name (printed on the invoice) must not
    carry bridge's key "b24:<member_id>:CO:1" (h)."""
    history.xero_add_contact(name=0, role="contact", with_person=False)
    history.b24_add_company(name=0, email=False)
    history.b24_add_invoice(party=0, to_person=False, lines=1, discount=False, currency=0, rate=15, sync=True)
    history.b24_events_delivered(count=None, duplicate=False, run=True)
    history.finish()


def test_money_after_the_invoice_keeps_both_balances(history):
    """Issue 20: part payments and a credit note in Xero, some webhooks repeated: each is one
    timeline comment, and the last one's balance is Xero's (d, k); then the paid invoice is
    deleted in Bitrix24 and credited once (k)."""
    history.b24_add_company(name=1, email=True)
    history.b24_add_invoice(party=0, to_person=False, lines=2, discount=False, currency=0, rate=15, sync=True)
    history.b24_events_delivered(count=None, duplicate=False, run=True)
    history.xero_approve(which=0)
    history.xero_pay(which=0, full=False)
    history.xero_webhooks_delivered(count=None, duplicate=True, run=True)
    history.xero_credit(which=0)
    history.xero_pay(which=0, full=False)
    history.xero_webhooks_delivered(count=None, duplicate=True, run=True)
    history.periodic_passes()
    history.state_is_sound()
    history._fail(balances_agree(history.w, history.w.portal(), history.w.xero()))  # before the deletion below
    assert len(history.w.portal()["timeline"]) == 3
    history.b24_delete_invoice(which=0)
    history.b24_events_delivered(count=None, duplicate=True, run=True)
    history.b24_events_delivered(count=None, duplicate=True, run=True)
    assert len(history.w.xero()["creditNotes"]) == 2  # the user's goodwill credit and ours
    history.finish()


def test_paid_invoice_cancelled_in_bitrix24_is_credited_once(history):
    """Issue 20: a part-paid invoice moved to the failure stage in Bitrix24, its event
    delivered twice, then an hour later the reconcile and a Sync now: one credit note of ours, applied,
    nothing left due (k, l), and the stage stays the user's (i): before the fix, the credit
    made Xero's invoice PAID and that moved the cancelled invoice to the paid stage."""
    history.b24_add_company(name=1, email=True)
    history.b24_add_invoice(party=0, to_person=False, lines=2, discount=False, currency=0, rate=15, sync=True)
    history.b24_events_delivered(count=None, duplicate=False, run=True)
    history.xero_approve(which=0)
    history.xero_pay(which=0, full=False)
    history.xero_webhooks_delivered(count=None, duplicate=False, run=True)
    history.b24_refund_invoice(which=0, full=False, at_once=False)
    history.b24_events_delivered(count=None, duplicate=True, run=True)
    history.clock_moves(seconds=3600)  # past Xero's idempotency window: only bridge's own row prevents a second
    history.periodic_passes()
    history.b24_sync_now(which=0)
    history.worker_runs()
    history.finish()


def test_shop_refunds_are_tasks_until_a_person_credits_them_in_bexio(shop_history):
    """Issue 20: an order paid by card, refunded in half (its webhook delivered twice):
    bridge books nothing in Bexio and shows the task (l, k); a person books the credit
    voucher, the rest is refunded: a task again, and Bexio's total - credits - payments is
    its balance (d)."""
    history = shop_history
    history.dg1_place_order(paid=True, quantity=2)
    history.dg1_webhooks_delivered(run=True)
    order = next(o for o in history.w.dg1()["orders"] if o["status"] == "PAID")
    which = [o["id"] for o in history._orders("PAID", "SHIPPED", "COMPLETED")].index(order["id"])
    history.dg1_refund_order(which=which, full=False)
    history.dg1_webhooks_delivered(run=True)
    history.w.dg1_release()  # the same delivery again, as DG1's "resend" sends it
    history.worker_runs()
    history.state_is_sound()
    history._fail(refund_tasks(history.w, history.book))
    history.bexio_credit_voucher(which=0)
    history.dg1_refund_order(which=which, full=True)
    history.dg1_webhooks_delivered(run=True)
    history.finish()


def test_a_cancellation_not_yet_read_is_not_overwritten_by_xeros_status(history):
    """Issue 20: an invoice paid in full in Xero, then moved to the failure stage in
    Bitrix24 while Xero's webhook is on its way (here also in the second of bridge's
    write-back, so its event reads as our echo). Bridge followed PAID into the paid stage
    before it read the cancellation: the user's "Declined" became "Paid" and no credit note
    was ever made (l, i). Now the stage move reads the invoice first: a cancelled one stays
    cancelled and its cancellation goes to Xero (one credit note)."""
    history.b24_add_company(name=1, email=True)
    history.b24_add_invoice(party=0, to_person=False, lines=1, discount=False, currency=0, rate=15, sync=True)
    history.b24_events_delivered(count=None, duplicate=False, run=True)
    history.xero_approve(which=0)
    history.xero_pay(which=0, full=True)
    history.w.step("Bitrix24: invoice 1 moved to the failure stage, Xero's webhooks still on their way", "invoice:1")
    history._b24("invoices/1", fields={"stageId": "DT31_1:D"})
    history.book.refunded["1"] = len(history.w.history.steps)
    history.book.cancelled.add("1")
    history.finish()


def test_an_edited_cancelled_invoice_does_not_read_synced(history):
    """Issue 20: a part-paid invoice cancelled in Bitrix24 and credited; then a user changes
    its quantity. Nothing is sent (it is cancelled); the invoice tab read "Synced." with 345.00
    in Bitrix24 and 115.00 in Xero (d). It now says the invoice is cancelled here and later
    changes are not sent."""
    history.b24_add_company(name=1, email=True)
    history.b24_add_invoice(party=0, to_person=False, lines=1, discount=False, currency=0, rate=15, sync=True)
    history.b24_events_delivered(count=None, duplicate=False, run=True)
    history.b24_refund_invoice(which=0, full=False, at_once=False)
    history.b24_events_delivered(count=None, duplicate=False, run=True)
    history.clock_moves(seconds=30)
    history.b24_edit_invoice_lines(which=0, quantity=3)
    history.finish()


def test_a_person_added_to_a_company_in_xero_reaches_its_xero_contact(history):
    """Found by a random history (seed 4122959434): a person added in Bitrix24 to a company
    that is in Xero, after the reconcile had read the company, the events after the add
    lost. Nothing sent them: a new contact asks for nothing, a contact that is no Xero
    contact of its own was skipped without a read, and a company's change time does not
    move when a person joins it, so the reconcile did not list it; only reading every
    company again wrote them (b: a re-read wrote). Now the reconcile's run for the person
    asks for their companies in Xero."""
    history.b24_refund_invoice(which=0, full=False, at_once=False)
    history.b24_edit_in_the_write_back_second(quantity=1, which=0)
    history.b24_event_lost()
    history.b24_event_lost()
    history.b24_add_contact(person=0, company=0)
    history.b24_event_lost()
    history.b24_event_lost()
    history.finish()


def test_a_cancellation_while_xeros_payment_is_on_its_way_notes_the_payment_then_the_credit(history):
    """Found by a random history (seed 3741378572) once the refund rule also cancels while
    Xero's webhooks are on their way: bridge notes the payment, then makes the credit note,
    then notes the credit in the next pass. The product was right (each noted once, k); the
    checker took the credit's note for a write without a change, since the user's last
    change came before the payment's note. It now counts bridge's allocation, made for the
    user's cancellation, as the change the note follows."""
    history.b24_refund_invoice(which=0, full=False, at_once=True)
    history.b24_sync_now(which=0)
    history.periodic_passes()
    history.periodic_passes()
    assert [t["COMMENT"].split(" ", 1)[0] for t in history.w.portal()["timeline"]] == ["Payment", "Credit"]
    history.finish()
