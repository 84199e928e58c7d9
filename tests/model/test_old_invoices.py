"""Old Bitrix24 invoices (crm.invoice.*) in the model: explicit histories of the model's
rules on a portal with both kinds of invoices, ended like any random history (at rest,
every invariant checked, old invoices included: links, money, statuses, writes and their
causes). The random histories draw the same rules (``b24_add_old_invoice``...)."""
from __future__ import annotations

import pytest

from tests.model.machine import BridgeHistory


@pytest.fixture
def history(world):
    BridgeHistory.world = world
    BridgeHistory.replay_hint = "pytest tests/model/test_old_invoices.py"
    machine = BridgeHistory()
    machine.fresh_world()
    return machine


def test_an_old_invoice_exported_edited_approved_sent_and_paid(history):
    history.b24_add_company(name=1, email=True)
    history.b24_add_old_invoice(party=0, to_person=False, lines=2, rate=15, sync=True)
    history.b24_add_invoice(party=0, to_person=False, lines=1, discount=False, currency=0, rate=15, sync=True)
    history.b24_events_delivered(count=None, duplicate=True, run=True)
    history.b24_events_delivered(count=None, duplicate=False, run=True)  # our write-backs' echoes
    history.b24_edit_old_invoice_lines(which=0, quantity=3)
    history.b24_events_delivered(count=None, duplicate=False, run=True)
    old = next(i for i in history._xero_invoices() if "/crm/invoice/show/" in (i.get("Url") or ""))
    which = [i["InvoiceID"] for i in history._xero_invoices(("DRAFT", "SUBMITTED"))].index(old["InvoiceID"])
    history.xero_approve(which=which)
    history.xero_mark_sent(which=[i["InvoiceID"] for i in history._xero_invoices(("AUTHORISED",))]
                           .index(old["InvoiceID"]))
    history.xero_webhooks_delivered(count=None, duplicate=False, run=True)
    history.xero_pay(which=[i["InvoiceID"] for i in history._xero_invoices(("AUTHORISED",))].index(old["InvoiceID"]),
                     full=True)
    history.xero_webhooks_delivered(count=None, duplicate=False, run=True)
    history.periodic_passes()
    history.b24_events_delivered(count=None, duplicate=False, run=True)
    (paid,) = [i for i in history.w.portal()["legacy_invoices"] if f"L{i['ID']}" == history.old_invoices[0]]
    assert paid["STATUS_ID"] == "P"
    history.finish()


def test_an_old_invoice_whose_event_was_lost_and_one_deleted(history):
    history.b24_add_company(name=0, email=False)
    history.b24_add_old_invoice(party=0, to_person=False, lines=1, rate=0, sync=True)
    history.b24_event_lost()
    history.b24_add_old_invoice(party=0, to_person=False, lines=1, rate=15, sync=False)
    history.b24_add_old_invoice(party=0, to_person=False, lines=1, rate=15, sync=True)
    history.b24_events_delivered(count=None, duplicate=False, run=True)
    history.periodic_passes()
    history.worker_runs()
    history.b24_delete_old_invoice(which=2)
    history.b24_events_delivered(count=None, duplicate=False, run=True)
    history.b24_old_sync_now(which=0)
    history.finish()
