"""A crash between the Xero write of a batch and its link writes makes no second invoice.

The default numbering leaves the invoice number to Xero, and the Reference is the user's:
the invoice's identity in Xero is its Url (the link back to the Bitrix24 invoice). The retry
must find the invoices the crashed run made (one optimised lookup: the customers'
ContactIDs, createdByMyApp, If-Modified-Since), in the batched path too, and bind them
instead of creating them again.
"""
from __future__ import annotations

from collections import Counter

from sqlalchemy import update

from bridge import faults, engine
from bridge.extensions import db, huey
from bridge.models import WorkItem
from tests.e2e.conftest import portal  # noqa: F401  (fixture)
from tests.e2e.test_bitrix24_xero import ACME, deliver_events, xero_invoices


def test_a_crash_after_the_batch_write_makes_no_second_invoice_on_retry(portal):  # noqa: F811
    live = portal
    company = live.control(f"bitrix24/portals/{ACME}/companies", json={"fields": {"TITLE": "Initech Ltd"}})
    for n in range(3):
        live.control(f"bitrix24/portals/{ACME}/invoices", json={
            "fields": {"title": f"Order {n}", "companyId": company["ID"], "accountNumber": f"CR-{n}",
                       "currencyId": "NZD", "closedate": "2026-12-15"},
            "rows": [{"productName": "Thing", "price": "115.00", "quantity": 1, "taxRate": 15, "taxIncluded": "N"}]})
    faults.arm("before link write", "raise", times=1)
    try:
        deliver_events(live)  # the batch is written to Xero, then the worker "crashes"
    finally:
        faults.disarm()
    assert len(xero_invoices(live)) == 3
    with live.app.app_context():  # later: the retry is due
        db.session.execute(update(WorkItem).where(WorkItem.state == "waiting").values(next_attempt_at=engine.now()))
        db.session.commit()
        huey.flush()
        engine.sweep_once()
    live.run_jobs()
    deliver_events(live)

    urls = Counter(i["Url"] for i in xero_invoices(live))
    assert len(urls) == 3
    assert [url for url, n in urls.items() if n > 1] == []
    assert {i["Reference"] for i in xero_invoices(live)} == {""}
    assert all(i["InvoiceNumber"].startswith("INV-") for i in xero_invoices(live))  # Xero numbered them
