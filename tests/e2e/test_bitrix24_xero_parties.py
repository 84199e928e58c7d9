"""Bitrix24 <-> Xero customers, statuses and flow-back end to end (issue 5 items 3 to 7, and
the bad paths: duplicate and out-of-order events, a renamed company, two customers with the
same name and different e-mails), over real HTTP against the sandboxes."""
from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from bridge import faults
from bridge.sync.polling import poll_all
from tests.e2e.test_bitrix24_xero import ACME, deliver_events, new_invoice, stage_of, xero_invoices  # noqa: F401
from tests.e2e.test_bitrix24_xero_invoices import ask, edit_invoice, records, rows, xero_api, xero_flush


def xero_contacts(live) -> list[dict]:
    return live.control(f"xero/orgs/{live.tenant}/state", method="GET")["contacts"]


def portal_state(live) -> dict:
    return live.control(f"bitrix24/portals/{ACME}/state", method="GET")


def add(live, kind: str, **fields) -> dict:
    return live.control(f"bitrix24/portals/{ACME}/{kind}", json={"fields": fields})


def invoice_for(live, **party) -> dict:
    return live.control(f"bitrix24/portals/{ACME}/invoices", json={
        "fields": {"title": "Consulting", "currencyId": "NZD", "closedate": "2026-12-15", **party},
        "rows": rows()})["item"]


def approve(live, invoice_id: str) -> None:
    """Approved and sent to the customer in Xero: what moves the stage to "sent" by default."""
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice_id}/approve")
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice_id}/send")


def emails(row: dict) -> list[str]:
    return [entry["VALUE"] for entry in row.get("EMAIL") or []]


# -- 3. contacts, export ------------------------------------------------------------------

def export_umbrella(live) -> dict:
    """A company with six contact persons, invoiced: its Xero contact."""
    company = add(live, "companies", TITLE="Umbrella Corp", EMAIL=[{"VALUE": "ap@umbrella.test", "VALUE_TYPE": "WORK"}])
    for n in range(6):
        add(live, "contacts", NAME=f"Person{n}", LAST_NAME="Umbrella", COMPANY_ID=company["ID"],
            EMAIL=[{"VALUE": f"p{n}@umbrella.test", "VALUE_TYPE": "WORK"}])
    invoice_for(live, companyId=company["ID"])
    deliver_events(live)
    (invoice,) = xero_invoices(live)
    return next(c for c in xero_contacts(live) if c["ContactID"] == invoice["Contact"]["ContactID"])


def test_company_exports_with_at_most_five_contact_persons(portal):
    contact = export_umbrella(portal)
    assert contact["Name"] == "Umbrella Corp" and contact["EmailAddress"] == "ap@umbrella.test"
    people = [(p["FirstName"], p["LastName"], p["EmailAddress"]) for p in contact["ContactPersons"]]
    assert len(people) == 5
    assert set(people) <= {(f"Person{n}", "Umbrella", f"p{n}@umbrella.test") for n in range(6)}


def test_company_exports_with_its_primary_person_empty(portal):
    contact = export_umbrella(portal)
    assert not contact.get("FirstName") and not contact.get("LastName")


def test_contact_only_invoice_gives_a_person(portal):
    live = portal
    person = add(live, "contacts", NAME="Jane", LAST_NAME="Doe", EMAIL=[{"VALUE": "jane@doe.test", "VALUE_TYPE": "WORK"}])
    invoice_for(live, contactId=person["ID"])
    deliver_events(live)
    (invoice,) = xero_invoices(live)
    contact = next(c for c in xero_contacts(live) if c["ContactID"] == invoice["Contact"]["ContactID"])
    assert (contact["Name"], contact["FirstName"], contact["LastName"]) == ("Jane Doe", "Jane", "Doe")


def test_same_name_different_email_is_never_merged(portal):
    live = portal
    theirs = xero_api(live, "PUT", "Contacts", {"Contacts": [{"Name": "Globex Ltd", "EmailAddress": "boss@other.test"}]})
    assert theirs.status_code == 200, theirs.text
    item = new_invoice(live)  # Globex Ltd, ap@globex.test
    deliver_events(live)
    (invoice,) = xero_invoices(live)
    globexes = {c["ContactID"]: (c["Name"], c.get("EmailAddress")) for c in xero_contacts(live) if "Globex" in c["Name"]}
    assert len(globexes) == 2
    assert globexes[theirs.json()["Contacts"][0]["ContactID"]] == ("Globex Ltd", "boss@other.test")  # untouched
    ours_name, ours_email = globexes[invoice["Contact"]["ContactID"]]
    assert ours_name != "Globex Ltd" and ours_name.startswith("Globex Ltd") and ours_email == "ap@globex.test"
    exports = records(live, object_id=item["id"])
    assert [r.state for r in exports if r.state not in ("succeeded", "skipped")] == []  # no rename war after
    (created,) = [r for r in exports if r.state == "succeeded"]
    assert ours_name in created.warning


def test_renamed_company_updates_its_xero_contact(portal):
    live = portal
    item = new_invoice(live)
    deliver_events(live)
    (invoice,) = xero_invoices(live)
    company_id = next(i for i in portal_state(live)["invoices"] if int(i["id"]) == int(item["id"]))["companyId"]
    live.control(f"bitrix24/portals/{ACME}/companies/{company_id}", json={"fields": {"TITLE": "Globex Corporation"}})
    deliver_events(live)
    xero_flush(live)
    deliver_events(live)
    contact = next(c for c in xero_contacts(live) if c["ContactID"] == invoice["Contact"]["ContactID"])
    assert contact["Name"] == "Globex Corporation"
    assert not [c for c in xero_contacts(live) if c["Name"] == "Globex Ltd"]
    assert [c["TITLE"] for c in portal_state(live)["companies"] if "Globex" in c["TITLE"]] == ["Globex Corporation"]


def test_a_person_joining_a_company_in_xero_reaches_its_xero_contact_by_the_reconcile(portal):
    """A new contact asks for nothing and the company's change time does not move when a
    person joins it: the reconcile's run for the person asks for the company's."""
    live = portal
    item = new_invoice(live)
    deliver_events(live)
    (invoice,) = xero_invoices(live)
    company_id = next(i for i in portal_state(live)["invoices"] if int(i["id"]) == int(item["id"]))["companyId"]
    drain(live)  # the reconcile has read the company
    add(live, "contacts", NAME="Grace", LAST_NAME="Hopper", COMPANY_ID=company_id,
        EMAIL=[{"VALUE": "grace@globex.test", "VALUE_TYPE": "WORK"}])
    add(live, "contacts", NAME="Alan", LAST_NAME="Turing", EMAIL=[{"VALUE": "alan@people.test", "VALUE_TYPE": "WORK"}])
    start = log_position(live)
    drain(live)
    contact = next(c for c in xero_contacts(live) if c["ContactID"] == invoice["Contact"]["ContactID"])
    assert "Grace" in [p["FirstName"] for p in contact.get("ContactPersons") or []]
    assert len(xero_writes(live, start)) == 1  # the company's contact, once; Alan is in no Xero company
    assert not [c for c in xero_contacts(live) if "Turing" in c["Name"] or "Hopper" in c["Name"]]


# -- 4. status back: webhook lost, the poll catches it -----------------------------------

def test_status_reaches_bitrix24_by_the_poll_when_webhooks_are_lost(portal):
    live = portal
    live.control("xero/settings", json={"webhooks_enabled": False})  # Xero's events never arrive
    item = new_invoice(live)
    deliver_events(live)
    (invoice,) = xero_invoices(live)
    approve(live, invoice["InvoiceID"])
    live.run_jobs()
    assert stage_of(live, item["id"]).endswith(":N")  # nothing arrived
    with live.app.app_context():
        assert poll_all()["requested"] == 1
    live.run_jobs()
    assert stage_of(live, item["id"]).endswith(":S")
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/pay", json={})
    live.run_jobs()
    assert stage_of(live, item["id"]).endswith(":S")
    with live.app.app_context():
        poll_all()
    live.run_jobs()
    assert stage_of(live, item["id"]).endswith(":P")


def test_voided_in_xero_moves_the_invoice_to_the_failure_stage_and_cancels_nothing_more(portal):
    live = portal
    item = new_invoice(live)
    deliver_events(live)
    (invoice,) = xero_invoices(live)
    approve(live, invoice["InvoiceID"])
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/void")
    xero_flush(live)
    deliver_events(live)  # the stage move comes back as an event
    assert stage_of(live, item["id"]) == "DT31_1:D"
    assert [i["Status"] for i in xero_invoices(live)] == ["VOIDED"]
    assert [r for r in records(live, flow=None) if r.state in ("failed", "conflict")] == []


# -- bad path: duplicate and out-of-order events ------------------------------------------

def test_duplicate_and_out_of_order_webhooks_never_move_a_stage_back(portal):
    live = portal
    item = new_invoice(live)
    deliver_events(live)
    (invoice,) = xero_invoices(live)
    approve(live, invoice["InvoiceID"])
    xero_flush(live)
    approved = live.control("xero/webhooks/deliveries", method="GET")["deliveries"][-1]
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/pay", json={})
    xero_flush(live)
    paid = live.control("xero/webhooks/deliveries", method="GET")["deliveries"][-1]
    assert stage_of(live, item["id"]).endswith(":P")
    for delivery in (paid, approved, approved):  # a duplicate, then the older event, twice
        answer = requests.post(live.app_url + "/hooks/xero", data=delivery["body"].encode(), timeout=10,
                               headers={"x-xero-signature": delivery["signature"],
                                        "Content-Type": "application/json"})
        assert answer.status_code == 200
        live.run_jobs()
    assert stage_of(live, item["id"]).endswith(":P")
    # a Bitrix24 event delivered twice changes nothing either
    event = next(e for e in reversed(live.control("bitrix24/events/log", method="GET"))
                 if e["event"].startswith("ONCRMDYNAMICITEMUPDATE"))
    for _ in range(2):
        assert requests.post(live.app_url + "/hooks/bitrix24", data=event["form"], timeout=10).status_code == 200
        live.run_jobs()
    assert len(xero_invoices(live)) == 1 and xero_invoices(live)[0]["Status"] == "PAID"
    assert [r for r in records(live, flow=None) if r.state in ("failed", "conflict")] == []


# -- 5. import Xero -> Bitrix24 -----------------------------------------------------------

def seed_xero_contacts(live) -> dict[str, str]:
    """Two customers made in Xero: contacts, each then invoiced there (Xero makes a contact
    a customer with its first sales invoice, NOTES section 2)."""
    reply = xero_api(live, "PUT", "Contacts", {"Contacts": [
        {"Name": "Jane Doe", "FirstName": "Jane", "LastName": "Doe", "EmailAddress": "jane@doe.test",
         "Phones": [{"PhoneType": "DEFAULT", "PhoneNumber": "555 0101"}]},
        {"Name": "Wayne Enterprises", "FirstName": "Bruce", "LastName": "Wayne", "EmailAddress": "bruce@wayne.test",
         "Phones": [{"PhoneType": "DEFAULT", "PhoneNumber": "555 0199"}],
         "ContactPersons": [{"FirstName": "Alfred", "LastName": "Pennyworth", "EmailAddress": "alfred@wayne.test"}]},
    ]})
    assert reply.status_code == 200, reply.text
    ids = {c["Name"]: c["ContactID"] for c in reply.json()["Contacts"]}
    for contact_id in ids.values():
        enter_in_xero(live, "ACCREC", contact_id)
    return ids


def enter_in_xero(live, kind: str, contact_id: str) -> dict:
    """A sales invoice (ACCREC) or a bill (ACCPAY) a person enters in Xero."""
    return live.control(f"xero/orgs/{live.tenant}/invoices", json={
        "Type": kind, "Contact": {"ContactID": contact_id}, "Date": "2026-11-02", "DueDate": "2026-11-30",
        "LineItems": [{"Description": "Made in Xero", "Quantity": 1, "UnitAmount": "10.00",
                       "AccountCode": "200" if kind == "ACCREC" else "429"}]})


def imported(live) -> tuple[list[dict], list[dict]]:
    state = portal_state(live)
    return ([c for c in state["companies"] if c.get("ORIGINATOR_ID") == "XERO"],
            [c for c in state["contacts"] if c.get("ORIGINATOR_ID") == "XERO"])


def test_import_by_the_seed_rule_twice_creates_nothing_new(portal):
    live = portal
    live.control("xero/settings", json={"webhooks_enabled": False})  # the button starts it
    ids = seed_xero_contacts(live)
    ask(live, "party_import", "import:parties")
    companies, contacts = imported(live)
    assert [(c["TITLE"], c["ORIGIN_ID"], emails(c)) for c in companies] == [
        ("Wayne Enterprises", ids["Wayne Enterprises"], ["bruce@wayne.test"])]
    people = {(c["NAME"], c["LAST_NAME"]): c for c in contacts}
    assert set(people) == {("Jane", "Doe"), ("Bruce", "Wayne"), ("Alfred", "Pennyworth")}
    jane = people[("Jane", "Doe")]
    assert (jane["ORIGIN_ID"], emails(jane), [p["VALUE"] for p in jane["PHONE"]], jane.get("COMPANY_ID")) == (
        ids["Jane Doe"], ["jane@doe.test"], ["555 0101"], None)
    assert people[("Bruce", "Wayne")]["COMPANY_ID"] == companies[0]["ID"]
    assert people[("Alfred", "Pennyworth")]["COMPANY_ID"] == companies[0]["ID"]
    assert emails(people[("Alfred", "Pennyworth")]) == ["alfred@wayne.test"]
    # Each person is bound to its Xero contact too, under an id of its own.
    wayne = ids["Wayne Enterprises"]
    assert people[("Alfred", "Pennyworth")]["ORIGIN_ID"] == f"{wayne}/alfred@wayne.test"
    assert people[("Bruce", "Wayne")]["ORIGIN_ID"] == f"{wayne}/bruce@wayne.test"
    assert records(live, flow="party_import")[-1].received == {"done": 2, "created": 2, "updated": 0}

    ask(live, "party_import", "import:parties")
    assert imported(live) == (companies, contacts)
    again = records(live, flow="party_import")[-1]
    assert again.state == "succeeded" and again.received["created"] == 0


def test_import_crashed_after_writing_resumes_without_duplicates(portal):
    live = portal
    live.control("xero/settings", json={"webhooks_enabled": False})
    seed_xero_contacts(live)
    faults.arm("party import before link write", times=1)
    try:
        ask(live, "party_import", "import:parties")
    finally:
        faults.disarm("party import before link write")
    assert records(live, flow="party_import")[0].state != "succeeded"
    written = imported(live)
    assert len(written[0]) == 1 and len(written[1]) == 3
    ask(live, "party_import", "import:parties")
    assert records(live, flow="party_import")[-1].state == "succeeded"
    companies, contacts = imported(live)
    assert [c["ID"] for c in companies] == [c["ID"] for c in written[0]]
    assert sorted(c["ID"] for c in contacts) == sorted(c["ID"] for c in written[1])


# -- 6. Xero-side invoice edits -----------------------------------------------------------

def test_due_date_edited_in_xero_on_an_approved_invoice_flows_back(portal):
    live = portal
    item = new_invoice(live)
    deliver_events(live)
    (invoice,) = xero_invoices(live)
    approve(live, invoice["InvoiceID"])
    xero_flush(live)
    deliver_events(live)
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/edit", json={"DueDate": "2027-01-31"})
    xero_flush(live)
    deliver_events(live)  # our own write to Bitrix24 comes back as an event: not echoed
    xero_flush(live)
    current = next(i for i in portal_state(live)["invoices"] if int(i["id"]) == int(item["id"]))
    assert current["closedate"].startswith("2027-01-31")
    assert [(i["Status"], i["DueDateString"][:10]) for i in xero_invoices(live)] == [("AUTHORISED", "2027-01-31")]
    assert [r for r in records(live, flow=None) if r.state in ("failed", "conflict")] == []


def test_xero_edit_of_a_draft_is_a_conflict_not_copied_not_overwritten(portal):
    live = portal
    item = new_invoice(live)
    deliver_events(live)
    (invoice,) = xero_invoices(live)
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/edit", json={"DueDate": "2027-02-28"})
    xero_flush(live)
    current = next(i for i in portal_state(live)["invoices"] if int(i["id"]) == int(item["id"]))
    assert current["closedate"].startswith("2026-12-15")
    assert xero_invoices(live)[0]["DueDateString"][:10] == "2027-02-28"
    (conflict,) = [r for r in records(live, flow="ledger_invoice_changed") if r.state == "conflict"]
    assert "header" in conflict.error_message
    assert "2026-12-15" in str(conflict.received["ours"]) and "2027-02-28" in str(conflict.received["theirs"])


def test_our_own_writes_are_not_echoed(portal):
    live = portal
    item = new_invoice(live)
    deliver_events(live)
    xero_flush(live)
    deliver_events(live)
    xero_flush(live)
    # The webhook for our own write is dropped at the door (its event is not newer than the
    # version our write returned) or, if it gets through, recognised by the flow.
    changed = records(live, flow="ledger_invoice_changed")
    assert {r.warning for r in changed} <= {"Our own change coming back: nothing to do."}
    exports = records(live, object_id=item["id"])
    assert [r.state for r in exports if r.state == "succeeded"] == ["succeeded"]  # one write, then only skips
    assert len(xero_invoices(live)) == 1


# -- 7. Xero-side contact changes ---------------------------------------------------------

def test_contact_edited_in_xero_flows_back_to_the_company(portal):
    live = portal
    item = new_invoice(live)
    deliver_events(live)
    xero_flush(live)
    (invoice,) = xero_invoices(live)
    live.control(f"xero/orgs/{live.tenant}/contacts/{invoice['Contact']['ContactID']}/edit",
                 json={"EmailAddress": "billing@globex.test"})
    xero_flush(live)
    deliver_events(live)  # the company update comes back as a Bitrix24 event: not sent again
    xero_flush(live)
    company_id = next(i for i in portal_state(live)["invoices"] if int(i["id"]) == int(item["id"]))["companyId"]
    company = next(c for c in portal_state(live)["companies"] if int(c["ID"]) == int(company_id))
    assert emails(company) == ["billing@globex.test"]
    assert [c["Name"] for c in xero_contacts(live) if "Globex" in c["Name"]] == ["Globex Ltd"]
    assert [r for r in records(live, flow=None) if r.state in ("failed", "conflict")] == []


def test_a_group_bitrix24_masters_keeps_its_value_and_the_xero_edit_is_a_conflict(portal):
    """E-mail and phone mastered by Bitrix24, the address by Xero: an edit of both in Xero
    brings the address across and shows the e-mail change as a conflict with both versions."""
    from tests.e2e.test_bitrix24_xero_invoices import settings

    live = portal
    settings(live, "invoices", {"contact_master": "platform"})
    item = new_invoice(live)
    deliver_events(live)
    xero_flush(live)
    (invoice,) = xero_invoices(live)
    live.control(f"xero/orgs/{live.tenant}/contacts/{invoice['Contact']['ContactID']}/edit", json={
        "EmailAddress": "billing@globex.test",
        "Addresses": [{"AddressType": "POBOX", "AddressLine1": "1 Harbour Road", "City": "Auckland",
                       "PostalCode": "1010", "Country": "NZ"}]})
    xero_flush(live)
    deliver_events(live)
    xero_flush(live)
    company_id = next(i for i in portal_state(live)["invoices"] if int(i["id"]) == int(item["id"]))["companyId"]
    company = next(c for c in portal_state(live)["companies"] if int(c["ID"]) == int(company_id))
    assert "billing@globex.test" not in emails(company)  # Bitrix24 is the master of e-mail
    assert (company.get("ADDRESS"), company.get("ADDRESS_CITY")) == ("1 Harbour Road", "Auckland")
    (conflict,) = [r for r in records(live, flow=None) if r.state == "conflict"]
    assert conflict.flow == "ledger_party_changed"  # the contact's own flow-back, not an import
    assert "contact" in conflict.error_message and "not copied" in conflict.error_message
    assert conflict.received["theirs"]["contact"]["email"] == "billing@globex.test"
    assert conflict.received["ours"]["contact"]["email"] != "billing@globex.test"
    # The same Xero version seen again (an import's pass) raises no second conflict.
    ask(live, "party_import", "import:parties")
    assert len([r for r in records(live, flow=None) if r.state == "conflict"]) == 1


# -- link conflicts: a person imported as part of a company, invoiced alone ----------------

SQL_OR_CLASS = ("IntegrityError", "UNIQUE", "INSERT INTO", "SELECT ", "Traceback", "sqlalchemy", "[SQL")


def invoice_tab(live, invoice_id) -> str:
    from tests.connectors.bitrix24.test_iframe_e2e import launch

    response = launch(live, live.installed, options={"ID": str(invoice_id)})
    assert response.status_code == 200
    return response.text


def test_an_imported_person_invoiced_alone_gets_a_xero_contact_of_its_own(portal):
    """Issue 16 finding 2: "Bruce Wayne" came in from Xero as the primary person of "Wayne
    Enterprises" (same e-mail). Invoiced alone, he is a person contact in Xero of his own
    (the seed's rule); the company's contact keeps its name, and nothing shows SQL."""
    live = portal
    live.control("xero/settings", json={"webhooks_enabled": False})
    ids = seed_xero_contacts(live)
    ask(live, "party_import", "import:parties")
    deliver_events(live)  # the import's own Bitrix24 events
    _, contacts = imported(live)
    bruce = next(c for c in contacts if (c["NAME"], c["LAST_NAME"]) == ("Bruce", "Wayne"))
    assert bruce.get("COMPANY_ID")  # part of the company in Bitrix24, and in bridge's links:
    from sqlalchemy import select

    from bridge.extensions import db
    from bridge.models import Link
    with live.app.app_context():
        person = db.session.scalar(select(Link).where(Link.kind == "party_person",
                                                      Link.platform_id.endswith(f":C:{bruce['ID']}")))
        assert person.ledger_id == f"{ids['Wayne Enterprises']}#person:bruce@wayne.test"
    item = invoice_for(live, contactId=bruce["ID"])
    deliver_events(live)

    by_id = {c["ContactID"]: c for c in xero_contacts(live)}
    assert by_id[ids["Wayne Enterprises"]]["Name"] == "Wayne Enterprises"  # never renamed
    (invoice,) = [i for i in xero_invoices(live) if i["LineItems"][0]["Description"] != "Made in Xero"]
    own = by_id[invoice["Contact"]["ContactID"]]
    assert own["ContactID"] not in ids.values()
    assert (own["Name"], own.get("EmailAddress")) == ("Bruce Wayne", "bruce@wayne.test")
    exports = records(live, object_id=item["id"])
    assert [r.state for r in exports if r.state != "skipped"] == ["succeeded"]
    assert [r for r in records(live, flow=None) if r.state in ("failed", "retrying", "conflict")] == []
    shown = " ".join(f"{r.error_message} {r.error_fix} {r.warning}" for r in records(live, flow=None))
    assert not [word for word in SQL_OR_CLASS if word in shown]
    html = invoice_tab(live, item["id"])
    assert not [word for word in SQL_OR_CLASS if word in html]


# -- Import from Xero writes nothing back (issue 16, findings 1 and 4) ---------------------

def xero_writes(live, since: int = 0, resource: str = "contacts") -> list[dict]:
    """bridge's PUT/POST calls to a Xero resource, from the sandbox's request log (the
    control routes a person's actions go through are not in it)."""
    rows = live.control(f"requests?since={since}", method="GET")["requests"]
    return [r for r in rows if r["method"] in ("PUT", "POST")
            and f"/api.xro/2.0/{resource}" in r["path"].lower()]


def log_position(live) -> int:
    return live.control("requests", method="GET")["next"]


def drain(live, rounds: int = 3) -> None:
    """Every event of both sides delivered and every job run, and the Bitrix24 reconcile
    (every 10 minutes in production: it lists what changed, the records an import created
    included, as updates), until nothing is left."""
    from bridge.connectors.bitrix24.reconcile import reconcile_all

    for _ in range(rounds):
        deliver_events(live)
        xero_flush(live)
        with live.app.app_context():
            reconcile_all()
        deliver_events(live)


def seed_customers(live, n: int) -> dict[str, dict]:
    """N contacts a person made in Xero, half companies with a person (IncludeInEmails on
    for some, off for others), half people, each invoiced there once (a customer)."""
    made = {}
    for i in range(n):
        body = ({"Name": f"Company {i:02d} Ltd", "FirstName": "Owner", "LastName": f"{i:02d}",
                 "EmailAddress": f"ap{i}@company.test", "Phones": [{"PhoneType": "DEFAULT", "PhoneNumber": f"555 01{i:02d}"}],
                 "Addresses": [{"AddressType": "STREET", "AddressLine1": f"{i} Main St", "City": "Auckland",
                                "Region": "Auckland", "PostalCode": "1010", "Country": "NZ"}],
                 "ContactPersons": [{"FirstName": "Clerk", "LastName": f"{i:02d}", "EmailAddress": f"clerk{i}@company.test",
                                     "IncludeInEmails": bool(i % 4)}]}
                if i % 2 == 0 else
                {"Name": f"Person {i:02d}", "FirstName": "Person", "LastName": f"{i:02d}",
                 "EmailAddress": f"person{i}@people.test"})
        contact = live.control(f"xero/orgs/{live.tenant}/contacts", json=body)
        enter_in_xero(live, "ACCREC", contact["ContactID"])
        made[contact["ContactID"]] = contact
    return made


def contacts_now(live) -> dict[str, dict]:
    return {c["ContactID"]: c for c in xero_contacts(live)}


def test_import_from_xero_then_every_event_writes_nothing_to_xero(portal):
    """Finding 1: after "Import from Xero" every Bitrix24 record created fired an event, and
    bridge wrote 202 contacts back to Xero (adding people, turning IncludeInEmails on). Now
    the records come in linked, their events are known as ours, and Xero is untouched."""
    live = portal
    made = seed_customers(live, 8)
    xero_flush(live)
    live.run_jobs()
    before, start = contacts_now(live), log_position(live)
    ask(live, "party_import", "import:parties")
    drain(live)
    companies, contacts = imported(live)
    assert len(companies) == 4 and len(contacts) == 4 + 4 * 2  # people, and each company's two
    assert xero_writes(live, start) == []  # zero PUT/POST /Contacts
    after = contacts_now(live)
    assert {i: after[i] for i in made} == {i: before[i] for i in made}  # IncludeInEmails and all, unchanged
    assert [(r.flow, r.state) for r in records(live, flow=None) if r.state not in ("succeeded", "skipped")] == []


def test_a_supplier_is_imported_only_when_the_setting_includes_suppliers(portal):
    from tests.e2e.test_bitrix24_xero_invoices import settings

    live = portal
    customer = live.control(f"xero/orgs/{live.tenant}/contacts", json={"Name": "Buyer Ltd"})
    supplier = live.control(f"xero/orgs/{live.tenant}/contacts", json={"Name": "Paper Supplies Ltd"})
    live.control(f"xero/orgs/{live.tenant}/contacts", json={"Name": "Just A Contact Ltd"})  # neither yet
    enter_in_xero(live, "ACCREC", customer["ContactID"])
    enter_in_xero(live, "ACCPAY", supplier["ContactID"])
    ask(live, "party_import", "import:parties")
    assert [c["TITLE"] for c in imported(live)[0]] == ["Buyer Ltd"]
    settings(live, "party_import", {"include_suppliers": True})
    ask(live, "party_import", "import:parties")
    assert sorted(c["TITLE"] for c in imported(live)[0]) == ["Buyer Ltd", "Paper Supplies Ltd"]


def test_a_contact_invoiced_in_xero_after_an_import_comes_with_the_next_import(portal):
    """Xero makes a contact a customer with its first sales invoice and leaves the
    contact's UpdatedDateUTC as it was: the next import finds it through the invoice."""
    live = portal
    later = live.control(f"xero/orgs/{live.tenant}/contacts", json={"Name": "Late Customer Ltd"})
    seed_xero_contacts(live)
    ask(live, "party_import", "import:parties")
    assert "Late Customer Ltd" not in [c["TITLE"] for c in imported(live)[0]]
    live.control("clock", json={"advance": 60})
    enter_in_xero(live, "ACCREC", later["ContactID"])
    ask(live, "party_import", "import:parties")
    assert "Late Customer Ltd" in [c["TITLE"] for c in imported(live)[0]]


def test_a_xero_contact_webhook_imports_nothing(portal):
    """Finding 4: any CONTACT webhook ran the import of every Xero contact."""
    live = portal
    seed_xero_contacts(live)  # customers, with webhooks on: their events reach bridge
    xero_flush(live)
    live.run_jobs()
    drain(live)
    assert imported(live) == ([], [])
    assert records(live, flow="party_import") == []


def test_a_linked_contact_edited_in_xero_flows_back_and_writes_nothing_to_xero(portal):
    live = portal
    ids = seed_xero_contacts(live)
    ask(live, "party_import", "import:parties")
    drain(live)
    start = log_position(live)
    live.control(f"xero/orgs/{live.tenant}/contacts/{ids['Wayne Enterprises']}/edit",
                 json={"EmailAddress": "accounts@wayne.test"})
    drain(live)
    (wayne,) = imported(live)[0]
    assert emails(wayne)[0] == "accounts@wayne.test"
    assert xero_writes(live, start) == []  # the company's own event after the flow-back: ours
    states = [r.state for r in records(live, flow="ledger_party_changed")]
    assert states.count("succeeded") == 1 and set(states) == {"succeeded", "skipped"}  # the rest: echoes


def test_a_bitrix24_rename_of_an_imported_company_is_one_xero_update_of_its_name_only(portal):
    live = portal
    ids = seed_xero_contacts(live)
    ask(live, "party_import", "import:parties")
    drain(live)
    before = contacts_now(live)[ids["Wayne Enterprises"]]
    start = log_position(live)
    (wayne,) = imported(live)[0]
    live.control(f"bitrix24/portals/{ACME}/companies/{wayne['ID']}", json={"fields": {"TITLE": "Wayne Holdings"}})
    drain(live)
    (write,) = xero_writes(live, start)
    assert write["method"] == "POST" and write["cause"].startswith("work=")
    import json
    assert json.loads(write["body"]) == {"Contacts": [{"ContactID": ids["Wayne Enterprises"], "Name": "Wayne Holdings"}]}
    after = contacts_now(live)[ids["Wayne Enterprises"]]
    assert after["Name"] == "Wayne Holdings"
    assert {k: v for k, v in after.items() if k not in ("Name", "UpdatedDateUTC")} == \
        {k: v for k, v in before.items() if k not in ("Name", "UpdatedDateUTC")}


def test_an_import_that_hands_over_goes_on_from_its_mark_against_xero(portal, monkeypatch):
    """120 customers a person loaded into Xero in one go (one change instant for all), an
    import that yields after its first batch of 50: its next run lists Xero's contacts from
    its mark (oldest change first, If-Modified-Since a second before) and passes over the 50 it
    wrote, so each customer reaches Bitrix24 once, "read" says 120, and nothing goes to Xero."""
    from sqlalchemy import select, update

    from bridge.extensions import db
    from bridge.models import Cursor, WorkItem
    from bridge.sync import party_import

    live = portal
    reply = xero_api(live, "PUT", "Contacts", {"Contacts": [{"Name": f"Bulk {i:03d} Ltd"} for i in range(120)]})
    assert reply.status_code == 200, reply.text
    for contact in reply.json()["Contacts"]:
        enter_in_xero(live, "ACCREC", contact["ContactID"])
    xero_flush(live)
    live.run_jobs()
    handed_over = []

    def once(ctx):
        """Fairer work waits after the first batch (as ``engine.hand_over`` finds it): the
        item is marked to run again, and its run goes on later."""
        if handed_over:
            return False
        handed_over.append(ctx.item.id)
        db.session.execute(update(WorkItem).where(WorkItem.id == ctx.item.id).values(dirty=True))
        return True
    monkeypatch.setattr(party_import, "hand_over", once)
    start = log_position(live)
    ask(live, "party_import", "import:parties")

    titles = [c["TITLE"] for c in imported(live)[0]]
    assert sorted(titles) == [f"Bulk {i:03d} Ltd" for i in range(120)]  # each once
    listings = [r for r in live.control(f"requests?since={start}", method="GET")["requests"]
                if r["method"] == "GET" and r["path"].lower().endswith("/api.xro/2.0/contacts")]
    # the first page, then the resumed run's page from its mark, oldest change first
    assert [r["if_modified_since"] is not None for r in listings] == [False, True]
    assert all("order=UpdatedDateUTC+ASC" in r["query"] for r in listings)
    assert xero_writes(live, start) == []
    with live.app.app_context():
        progress = db.session.scalar(select(Cursor.value).where(Cursor.name.like("party_import:%")))
    assert (progress["done"], progress["created"], progress["running"]) == (120, 120, False)
