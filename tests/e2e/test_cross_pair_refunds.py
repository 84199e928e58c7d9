"""The cross pair DG1 -> Xero, end to end over real HTTP: a refunded order becomes one Xero
credit note over the refund, applied to the invoice, through the same flow that makes
Bexio's "credit it in Bexio" task (the ledger's port says which)."""
from __future__ import annotations

from decimal import Decimal

from tests.e2e.test_cross_pairs import kiwi_shop  # noqa: F401  (the fixture)
from tests.e2e.test_dg1_bexio_settings import deadline_wait


def test_a_refunded_dg1_order_is_one_xero_credit_note(kiwi_shop):  # noqa: F811
    live = kiwi_shop
    order = live.control("dg1/tenants/kiwi/orders", json={
        "site": "nz", "items": [{"sku": "FERN-1", "quantity": 2}],
        "payments": [{"method": "invoice", "status": "pending"}]})
    deadline_wait(live, "kiwi")
    live.run_jobs()
    state = live.control(f"xero/orgs/{live.tenant}/state", method="GET")
    (invoice,) = [i for i in state["invoices"] if i["Type"] == "ACCREC"]
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/approve")
    live.control(f"dg1/tenants/kiwi/orders/{order['id']}/pay")
    deadline_wait(live, "kiwi")
    live.run_jobs()
    live.control(f"dg1/tenants/kiwi/orders/{order['id']}/refund", json={"lines": [{"sku": "FERN-1", "quantity": 1}]})
    deadline_wait(live, "kiwi")
    live.run_jobs()
    deadline_wait(live, "kiwi")  # the refund delivered twice changes nothing
    live.run_jobs()
    state = live.control(f"xero/orgs/{live.tenant}/state", method="GET")
    (note,) = state["creditNotes"]
    (after,) = [i for i in state["invoices"] if i["Type"] == "ACCREC"]
    assert Decimal(str(note["Total"])) == Decimal("115.00")  # one print, 15 % GST included
    assert Decimal(str(after["AmountCredited"])) == Decimal("115.00")
    assert [c["CreditNoteID"] for c in after["CreditNotes"]] == [note["CreditNoteID"]]
