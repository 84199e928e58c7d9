"""A lone invoice, end to end over the sandbox: what it costs and that the savings lose nothing.

Counted from the sandbox's request log (every API call bridge makes), not timed:

- a known customer's invoice: one Xero call (the PUT of the invoice) besides the contact
  index's own refresh (amortised over every invoice of its freshness window, reported apart);
- a new customer's: two (PUT contact, PUT invoice), the index aside;
- Bitrix24: the read and the write-back of the Xero id, and nothing for the echo of that
  write-back (``connectors/bitrix24/echoes.py``);
- a worker stopped between the Xero create and the recording of its outcome: the retry looks
  the invoice up (its intent has no outcome) and binds it, no second invoice;
- a user's edit in the same second as our write-back, whose event is taken for our echo: the
  reconcile re-checks the skipped echo and the edit reaches Xero.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select, update

from bridge import faults
from bridge.connectors.bitrix24 import store
from bridge.connectors.bitrix24.reconcile import reconcile_installation
from bridge.engine import run_work
from bridge.extensions import db
from bridge.models import WorkItem, utcnow
from tests.e2e.conftest import ACME
from tests.e2e.test_bitrix24_xero import deliver_events, xero_invoices

INDEX_READ = ("GET", "Contacts")  # the contact index's refresh: amortised, counted apart


def mark(live) -> int:
    return live.control("requests", method="GET")["next"]


def calls(live, since: int) -> dict[str, list[tuple[str, str]]]:
    """The API calls since ``since`` made by the invoice's own work (the first Bitrix24 read
    names it), by system: [(method, path after the API root)]. Calls of other work (the
    webhooks Xero sends for our own writes) are under "other"."""
    log = live.control(f"requests?since={since}", method="GET")["requests"]
    own = next(c["cause"] for c in log if c["path"].startswith(f"/{ACME}/rest/") and c["cause"])
    out: dict[str, list[tuple[str, str]]] = {"xero": [], "bitrix24": [], "index": [], "other": []}
    for c in log:
        if c["path"].startswith("/api.xero.com/api.xro/2.0/"):
            call = (c["method"], c["path"].rsplit("/2.0/", 1)[1])
            out["other" if c["cause"] != own else "index" if call == INDEX_READ else "xero"].append(call)
        elif c["path"].startswith(f"/{ACME}/rest/"):
            out["bitrix24" if c["cause"] == own else "other"].append((c["method"], c["path"].rsplit("/rest/", 1)[1]))
    return out


def company(live, title: str) -> str:
    return live.control(f"bitrix24/portals/{ACME}/companies", json={"fields": {"TITLE": title}})["ID"]


def invoice(live, company_id: str, quantity: int = 1) -> dict:
    return live.control(f"bitrix24/portals/{ACME}/invoices", json={
        "fields": {"title": "Consulting", "companyId": company_id, "currencyId": "NZD"},
        "rows": [{"productName": "Consulting", "price": "115.00", "quantity": quantity, "taxRate": 15,
                  "taxIncluded": "N"}]})["item"]


def test_a_lone_invoice_costs_one_xero_call_for_a_known_customer_and_two_for_a_new_one(portal):
    live = portal
    known = company(live, "Known Ltd")
    invoice(live, known)
    deliver_events(live)  # the customer is in Xero now
    since = mark(live)
    invoice(live, known)
    deliver_events(live)
    known_calls = calls(live, since)

    new = company(live, "New Ltd")
    deliver_events(live)
    since = mark(live)
    invoice(live, new)
    deliver_events(live)
    new_calls = calls(live, since)

    assert known_calls["xero"] == [("PUT", "Invoices")]
    assert new_calls["xero"] == [("PUT", "Contacts"), ("PUT", "Invoices")]
    assert len(known_calls["index"]) <= 1 and len(new_calls["index"]) <= 1
    # one batch reads the invoice, its rows and its customer; one writes the Xero id back;
    # the event of that write-back costs nothing
    for counted in (known_calls, new_calls):
        assert counted["bitrix24"] == [("POST", "batch")] * 2, counted["bitrix24"]
        assert not [call for call in counted["other"] if "batch" in call[1]]
    assert len(xero_invoices(live)) == 3


def test_a_worker_stopped_between_the_xero_create_and_its_outcome_makes_no_second_invoice(portal):
    live = portal
    customer = company(live, "Crash Ltd")
    invoice(live, customer)
    live.control("bitrix24/events/wait", json={"timeout": 10})
    faults.arm("after ledger create", times=1)
    try:
        live.run_jobs()  # the invoice is made in Xero, then the worker stops before the outcome
    finally:
        faults.disarm()
    assert len(xero_invoices(live)) == 1
    since = mark(live)
    with live.app.app_context():
        db.session.execute(update(WorkItem).where(WorkItem.flow == "invoice_to_ledger")
                           .values(state="queued", next_attempt_at=utcnow()))
        db.session.commit()
        for item_id in db.session.scalars(select(WorkItem.id).where(WorkItem.flow == "invoice_to_ledger")):
            run_work(item_id)
    live.run_jobs()
    deliver_events(live)
    (made,) = xero_invoices(live)  # found by the lookup the open intent asked for, and linked
    assert ("GET", "Invoices") in calls(live, since)["xero"]
    assert ("PUT", "Invoices") not in calls(live, since)["xero"]
    state = live.control(f"bitrix24/portals/{ACME}/state", method="GET")
    assert [i["xmlId"] for i in state["invoices"]] == [made["InvoiceID"]]


def test_a_user_edit_in_the_same_second_as_our_write_back_reaches_xero_through_the_reconcile(portal):
    live = portal
    frozen = live.control("clock", method="GET")["time"]
    live.control("clock", json={"freeze": int(frozen) + 0.5})  # every step below: one Bitrix24 second
    with live.app.app_context():
        installation = store.find(live.member_id)
        # A portal without offline events (installed by a non-administrator): the queue that
        # would also carry the edit is not there, only the re-check of skipped echoes is.
        endpoints = dict(installation.endpoints or {})
        endpoints["setup"] = {**(endpoints.get("setup") or {}), "offline_events": False}
        installation.endpoints = endpoints
        db.session.commit()
        reconcile_installation(installation)  # the cursor starts here
    customer = company(live, "Same Second Ltd")
    item = invoice(live, customer)
    live.control("bitrix24/events/wait", json={"timeout": 10})
    live.control("bitrix24/events/drop", json={"count": 1})  # our write-back's own event is lost
    live.run_jobs()
    live.control("bitrix24/events/drop", json={"count": 0})
    with live.app.app_context():
        reconcile_installation(store.find(live.member_id))  # sees the invoice at this second: ours
    live.run_jobs()
    (made,) = xero_invoices(live)
    assert Decimal(str(made["Total"])) == Decimal("115.00")

    # the user's edit, in that same second: its event looks like our echo and is skipped
    live.control(f"bitrix24/portals/{ACME}/invoices/{item['id']}", json={"rows": [
        {"productName": "Consulting", "price": "115.00", "quantity": 2, "taxRate": 15, "taxIncluded": "N"}]})
    deliver_events(live)
    (made,) = xero_invoices(live)
    assert Decimal(str(made["Total"])) == Decimal("115.00")

    with live.app.app_context():
        reconcile_installation(store.find(live.member_id))  # re-checks the skipped echo
    live.run_jobs()
    (made,) = xero_invoices(live)
    assert Decimal(str(made["Total"])) == Decimal("230.00")
