"""Bitrix24 -> Xero through the real flows, end to end over real HTTP against the sandboxes,
as the seed describes it: a new invoice becomes a Xero draft with its company as the
contact; an edit updates the draft; approving and paying in Xero move the Bitrix24
invoice to its "sent" and "paid" stages; duplicated events change nothing."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from bridge.extensions import db
from bridge.models import SyncRecord
from tests.e2e.conftest import ACME


def new_invoice(live, quantity=2) -> dict:
    """A net invoice: 1,000.00 a day plus 15 % GST. (A product row's ``price`` is after
    discount and with tax in Bitrix24, whatever taxIncluded says: NOTES section 6.)"""
    company = live.control(f"bitrix24/portals/{ACME}/companies", json={"fields": {
        "TITLE": "Globex Ltd", "EMAIL": [{"VALUE": "ap@globex.test", "VALUE_TYPE": "WORK"}]}})
    body = {"fields": {"title": "Workshop November", "companyId": company["ID"], "accountNumber": "B24-101",
                       "currencyId": "NZD", "closedate": "2026-12-15"},
            "rows": [{"productName": "Workshop day", "price": "1150.00", "quantity": quantity, "taxRate": 15,
                      "taxIncluded": "N"}]}
    return live.control(f"bitrix24/portals/{ACME}/invoices", json=body)["item"]


def deliver_events(live) -> None:
    live.control("bitrix24/events/wait", json={"timeout": 10})
    live.run_jobs()


def xero_invoices(live) -> list[dict]:
    state = live.control(f"xero/orgs/{live.tenant}/state", method="GET")
    return [i for i in state["invoices"] if i["Type"] == "ACCREC"]


def portal_invoice(live, item_id) -> dict:
    state = live.control(f"bitrix24/portals/{ACME}/state", method="GET")
    return next(i for i in state["invoices"] if int(i["id"]) == int(item_id))


def stage_of(live, item_id) -> str:
    return portal_invoice(live, item_id)["stageId"]


def test_invoice_life_create_edit_approve_pay(portal):
    live = portal
    item = new_invoice(live)
    deliver_events(live)
    (invoice,) = xero_invoices(live)
    assert invoice["Status"] == "DRAFT"
    assert invoice["Contact"]["Name"] == "Globex Ltd"
    assert [(line["Description"], Decimal(str(line["Quantity"])), line["TaxType"], line["AccountCode"])
            for line in invoice["LineItems"]] == [("Workshop day", Decimal(2), "OUTPUT2", "200")]
    assert Decimal(str(invoice["Total"])) == Decimal("2300.00")

    # an edit in Bitrix24 updates the same draft
    live.control(f"bitrix24/portals/{ACME}/invoices/{item['id']}",
                 json={"rows": [{"productName": "Workshop day", "price": "1150.00", "quantity": 3, "taxRate": 15,
                                 "taxIncluded": "N"}]})
    deliver_events(live)
    (invoice,) = xero_invoices(live)
    assert Decimal(str(invoice["Total"])) == Decimal("3450.00")

    # approved in Xero: the stage stays until Xero marks it sent to the customer (the
    # default of "Move the invoice to 'sent' when"), then "sent"; paid -> "paid" (success)
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/approve")
    live.control("xero/webhooks/flush")
    live.run_jobs()
    assert stage_of(live, item["id"]).endswith(":N")
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/send")
    live.control("xero/webhooks/flush")
    live.run_jobs()
    sent_stage = stage_of(live, item["id"])
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/pay", json={})
    live.control("xero/webhooks/flush")
    live.run_jobs()
    paid_stage = stage_of(live, item["id"])
    assert sent_stage.endswith(":S")  # the portal's "Sent", the first stage after "New"
    assert paid_stage.endswith(":P")  # the portal's success stage

    # the stage changes come back as Bitrix24 events, our Xero writes as webhooks: nothing
    # is written twice, no customer is duplicated on either side
    deliver_events(live)
    live.control("xero/webhooks/flush")
    live.run_jobs()
    deliver_events(live)
    assert len(xero_invoices(live)) == 1
    contacts = live.control(f"xero/orgs/{live.tenant}/state", method="GET")["contacts"]
    assert [c["Name"] for c in contacts if "Globex" in c["Name"]] == ["Globex Ltd"]
    companies = live.control(f"bitrix24/portals/{ACME}/state", method="GET")["companies"]
    assert [c["TITLE"] for c in companies if "Globex" in c["TITLE"]] == ["Globex Ltd"]
    with live.app.app_context():
        failed = db.session.scalars(select(SyncRecord).where(SyncRecord.state.in_(("failed", "conflict")))).all()
    assert [(r.flow, r.error_message) for r in failed] == []


def test_approval_in_xero_writes_nothing_back_to_the_bitrix24_invoice(portal):
    """The README tour's invoice: a title, no due date (Xero gets the default terms).
    Approving it in Xero changes nothing the user wrote: the title is no Xero field (the
    Reference is the user's there), and the due date bridge filled in is no edit."""
    live = portal
    company = live.control(f"bitrix24/portals/{ACME}/companies", json={"fields": {"TITLE": "Tour Ltd"}})
    item = live.control(f"bitrix24/portals/{ACME}/invoices", json={
        "fields": {"title": "Tour invoice", "companyId": company["ID"], "currencyId": "NZD"},
        "rows": [{"productName": "Consulting", "price": "115.00", "quantity": 1, "taxRate": 15}]})["item"]
    deliver_events(live)
    (invoice,) = xero_invoices(live)
    since = live.control("requests", method="GET")["next"]
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/approve")
    live.control("xero/webhooks/flush")
    live.run_jobs()
    after = portal_invoice(live, item["id"])
    assert (after["title"], after["closedate"]) == ("Tour invoice", item["closedate"])
    calls = live.control(f"requests?since={since}", method="GET")["requests"]
    # The only write is bridge's own field: Xero's online invoice link (docs/sync.md).
    assert [c["body"] for c in calls if ("crm.item.update" in c["path"] + c["body"]
                                         and "ufCrmSmartInvoiceOnlineLink" not in c["body"])
            or "productrow.set" in c["path"] + c["body"]] == []

    # a due date the Xero user then changes is copied back, and the title still stays
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/edit", json={"DueDate": "2027-01-31"})
    live.control("xero/webhooks/flush")
    live.run_jobs()
    after = portal_invoice(live, item["id"])
    assert (after["title"], after["closedate"]) == ("Tour invoice", "2027-01-31")


def test_sync_switched_off_sends_nothing(portal):
    live = portal
    company = live.control(f"bitrix24/portals/{ACME}/companies", json={"fields": {"TITLE": "Initech"}})
    live.control(f"bitrix24/portals/{ACME}/invoices", json={
        "fields": {"title": "Not for Xero", "companyId": company["ID"], "currencyId": "NZD", "ufCrmSmartInvoiceXeroSync": "N"},
        "rows": [{"productName": "Thing", "price": "10.00", "quantity": 1, "taxRate": 15, "taxIncluded": "N"}]})
    deliver_events(live)
    assert xero_invoices(live) == []
