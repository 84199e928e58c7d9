"""End to end: the Platform adapter, reconcile and the limits, against the sandbox portal."""
from __future__ import annotations

import logging
from decimal import Decimal

from sqlalchemy import select

from bridge.connectors.bitrix24 import store
from bridge.connectors.bitrix24.platform import Bitrix24Platform
from bridge.connectors.bitrix24.reconcile import reconcile_installation
from bridge.domain import Address, InvoiceStatus, Party, PartyKind, Person
from bridge.extensions import db
from bridge.models import WorkItem
from bridge.ports import KEPT_CANCELLED, UNCHANGED, LedgerDocument, Platform

from .conftest import ACME


def platform(live, installed) -> Bitrix24Platform:
    return Bitrix24Platform.build(store.find(installed["auth"]["member_id"]))


def seed_invoice(live, *, rows=True, **fields):
    company = live.control(f"bitrix24/portals/{ACME}/companies", json={"fields": {
        "TITLE": "Acme Ltd", "EMAIL": [{"VALUE": "billing@acme.test", "VALUE_TYPE": "WORK"}]}})
    contact = live.control(f"bitrix24/portals/{ACME}/contacts", json={"fields": {
        "NAME": "Ada", "LAST_NAME": "Lovelace", "COMPANY_ID": company["ID"],
        "EMAIL": [{"VALUE": "ada@acme.test", "VALUE_TYPE": "WORK"}]}})
    body = {"fields": {"title": "Consulting", "companyId": company["ID"], "contactId": contact["ID"],
                       "accountNumber": "INV-7", **fields}}
    if rows:
        body["rows"] = [{"productName": "Workshop", "price": "120.00", "quantity": 2, "taxRate": 20, "taxIncluded": "Y"},
                        {"productName": "Support hour", "price": "110.00", "quantity": 1, "taxRate": 10,
                         "taxIncluded": "Y", "discountTypeId": 2, "discountRate": 10}]
    return live.control(f"bitrix24/portals/{ACME}/invoices", json=body)["item"], company, contact


def test_get_invoice_reads_rows_company_and_contact_persons(live, installed):
    item, company, contact = seed_invoice(live)
    with live.app.app_context():
        adapter = platform(live, installed)
        assert isinstance(adapter, Platform)
        invoice = adapter.get_invoice(str(item["id"]))
    assert invoice.number == "INV-7" and invoice.prices_include_tax is True
    assert invoice.status is InvoiceStatus.DRAFT and invoice.sync_enabled is True
    assert invoice.party.kind is PartyKind.COMPANY and invoice.party.name == "Acme Ltd"
    assert invoice.party.email == "billing@acme.test"
    assert [p.full_name for p in invoice.party.contact_persons] == ["Ada Lovelace"]
    first, second = invoice.lines
    assert (first.quantity, first.unit_price, first.tax_rate) == (Decimal("2"), Decimal("120.00"), Decimal("20"))
    assert second.discount_rate == Decimal("10.00") and second.unit_price == Decimal("122.22")
    assert invoice.platform_url.endswith(f"/crm/type/31/details/{item['id']}/")


def test_a_deleted_invoice_reads_as_none_and_many_are_batched(live, installed):
    items = [seed_invoice(live, rows=False)[0] for _ in range(3)]
    live.control(f"bitrix24/portals/{ACME}/invoices/{items[1]['id']}", method="DELETE")
    with live.app.app_context():
        found = platform(live, installed).get_invoices([str(i["id"]) for i in items])
    assert found[str(items[1]["id"])] is None
    assert found[str(items[0]["id"])].party.name == "Acme Ltd"


def test_status_and_ledger_reference_are_written_back(live, installed):
    item, *_ = seed_invoice(live, rows=False)
    with live.app.app_context():
        adapter = platform(live, installed)
        adapter.set_invoice_status(str(item["id"]), InvoiceStatus.PAID)
        adapter.set_ledger_reference(str(item["id"]), LedgerDocument(ledger_id="xero-inv-1", number="INV-0001",
                                                                     status=InvoiceStatus.AUTHORISED))
        again = adapter.get_invoice(str(item["id"]))
    state = live.control(f"bitrix24/portals/{ACME}/state", method="GET")
    saved = next(i for i in state["invoices"] if i["id"] == item["id"])
    assert saved["stageId"] == "DT31_1:P" and saved["xmlId"] == "xero-inv-1"
    assert again.status is InvoiceStatus.PAID


def test_a_cancelled_invoice_is_not_moved_out_of_its_failure_stage_by_the_ledgers_status(live, installed):
    item, *_ = seed_invoice(live, rows=False)
    # A person moves it to the failure stage.
    live.control(f"bitrix24/portals/{ACME}/invoices/{item['id']}", json={"fields": {"stageId": "DT31_1:D"}})
    with live.app.app_context():
        adapter = platform(live, installed)
        assert adapter.set_invoice_status(str(item["id"]), InvoiceStatus.PAID) == KEPT_CANCELLED
        assert adapter.set_invoice_status(str(item["id"]), InvoiceStatus.VOIDED) is None  # a cancellation may
    state = live.control(f"bitrix24/portals/{ACME}/state", method="GET")
    assert next(i for i in state["invoices"] if i["id"] == item["id"])["stageId"] == "DT31_1:D"


def requests_so_far(live) -> int:
    return live.control(f"bitrix24/portals/{ACME}/state", method="GET")["requests"]


def test_our_write_back_reads_as_unchanged_in_one_request_but_a_users_edit_is_read_whole(live, installed):
    items = [seed_invoice(live)[0] for _ in range(3)]
    ids = [str(i["id"]) for i in items]
    with live.app.app_context():
        adapter = platform(live, installed)
        adapter.get_invoices(ids)
        results = adapter.set_ledger_references([(pid, LedgerDocument(ledger_id=f"xero-{pid}", number=f"INV-{pid}",
                                                                       status=InvoiceStatus.DRAFT)) for pid in ids])
        versions = {pid: r.version for pid, r in results.items()}
    assert all(r.ok and r.version for r in results.values())
    # A user edits one invoice's rows, in the same second as our write-back or not.
    live.control(f"bitrix24/portals/{ACME}/invoices/{ids[1]}", json={
        "rows": [{"productName": "Workshop", "price": "120.00", "quantity": 3, "taxRate": 20, "taxIncluded": "Y"}]})
    with live.app.app_context():
        echo = platform(live, installed)  # the next run's adapter
        before = requests_so_far(live)
        unchanged = echo.read_invoices([ids[0], ids[2]], versions)
        spent_on_echo = requests_so_far(live) - before
        found = echo.read_invoices(ids, versions)
    assert unchanged == {ids[0]: UNCHANGED, ids[2]: UNCHANGED} and spent_on_echo == 1
    assert found[ids[0]] is UNCHANGED and found[ids[2]] is UNCHANGED
    assert found[ids[1]].lines[0].quantity == Decimal("3")  # the edit is read, never taken for our echo


def test_imported_parties_are_found_again_by_origin(live, installed):
    company = Party(key="xero:c1", kind=PartyKind.COMPANY, name="Globex AG", email="ap@globex.test",
                    address=Address(city="Zurich"), contact_persons=[Person("Hank", "Scorpio", "hank@globex.test")])
    person = Party(key="xero:c2", kind=PartyKind.PERSON, name="Jane Doe", first_name="Jane", last_name="Doe",
                   phone="+41 44 000 00 00")
    with live.app.app_context():
        adapter = platform(live, installed)
        ids = adapter.save_parties([(company, None, ("xero", "c1")), (person, None, ("xero", "c2"))])
        member = installed["auth"]["member_id"]
        assert ids[0].startswith(f"b24:{member}:CO:") and ids[1].startswith(f"b24:{member}:C:")
        assert adapter.find_parties("xero", ["c1", "c2", "nope"]) == {"c1": ids[0], "c2": ids[1]}
        before = requests_so_far(live)
        many = adapter.find_parties("xero", ["c2", *(f"n{i}" for i in range(120)), "c1"])  # three lists of 50
        assert many == {"c1": ids[0], "c2": ids[1]} and requests_so_far(live) - before == 1
        assert adapter.save_party(company, ids[0], ("xero", "c1")) == ids[0]  # update: no duplicate e-mail
    state = live.control(f"bitrix24/portals/{ACME}/state", method="GET")
    globex = next(c for c in state["companies"] if c["TITLE"] == "Globex AG")
    assert [e["VALUE"] for e in globex["EMAIL"]] == ["ap@globex.test"]
    assert (globex["ORIGINATOR_ID"], globex["ORIGIN_ID"]) == ("XERO", "c1")
    assert any(c["NAME"] == "Hank" and c["COMPANY_ID"] == globex["ID"] for c in state["contacts"])


def test_reconcile_finds_an_invoice_whose_event_was_dropped(live, installed, placeholder_flows):
    with live.app.app_context():
        installation = store.find(installed["auth"]["member_id"])
        # Without the backup queue, only the listing can find it.
        installation.endpoints = {**installation.endpoints, "setup": {**installation.endpoints["setup"],
                                                                      "offline_events": []}}
        db.session.commit()
        reconcile_installation(installation)  # sets the cursor past the install
    live.control("bitrix24/events/drop", json={"count": 1})
    item, *_ = seed_invoice(live, rows=False)
    live.control("bitrix24/events/wait", json={"timeout": 5})
    log = live.control("bitrix24/events/log", method="GET")
    assert any(d["status"] == "dropped" for d in log)
    with live.app.app_context():
        installation = store.find(installed["auth"]["member_id"])
        assert db.session.scalar(select(WorkItem).where(WorkItem.object_key == f"invoice:{item['id']}")) is None
        live.control("clock", json={"advance": 1})  # the listing begins after the second of the change
        counts = reconcile_installation(installation)
        assert counts["invoices"] >= 1
        assert db.session.scalar(select(WorkItem).where(WorkItem.object_key == f"invoice:{item['id']}")) is not None
        assert reconcile_installation(installation)["invoices"] == 0  # nothing new: nothing asked twice


def test_a_change_in_the_second_the_reconcile_listed_in_is_found_by_the_next_one(live, installed, placeholder_flows):
    """Change times have whole seconds. The reconcile lists an invoice at second S while S
    is still going on; the user changes it again within S and that event is lost: the next
    reconcile must not take it for the change it has already seen."""
    live.control("clock", json={"freeze": int(live.control("clock", method="GET")["time"]) + 0.5})
    with live.app.app_context():
        installation = store.find(installed["auth"]["member_id"])
        installation.endpoints = {**installation.endpoints, "setup": {**installation.endpoints["setup"],
                                                                      "offline_events": []}}
        db.session.commit()
        reconcile_installation(installation)  # the cursor starts here
    live.control("bitrix24/events/drop", json={"count": 1000})  # every event of this test is lost
    item, *_ = seed_invoice(live, rows=False)
    with live.app.app_context():
        assert reconcile_installation(store.find(installed["auth"]["member_id"]))["invoices"] == 1
    live.control(f"bitrix24/portals/{ACME}/invoices/{item['id']}", json={"fields": {"title": "Consulting, day 2"}})
    live.control("clock", json={"advance": 2})
    with live.app.app_context():
        assert reconcile_installation(store.find(installed["auth"]["member_id"]))["invoices"] == 1  # asked again
        # This listing began after that second: what it saw there is skipped from now on.
        assert reconcile_installation(store.find(installed["auth"]["member_id"]))["invoices"] == 0
    live.control("bitrix24/events/drop", json={"count": 0})


def test_offline_events_are_drained_into_work(live, installed, placeholder_flows):
    live.control("bitrix24/events/drop", json={"count": 5})
    item, company, contact = seed_invoice(live, rows=False)
    with live.app.app_context():
        counts = reconcile_installation(store.find(installed["auth"]["member_id"]))
        keys = set(db.session.scalars(select(WorkItem.object_key)))
    assert counts["offline"] >= 1  # the invoice's event (a new company or contact asks for nothing)
    assert {f"invoice:{item['id']}", f"party:CO:{company['ID']}", f"party:C:{contact['ID']}"} <= keys
    assert live.control(f"bitrix24/portals/{ACME}/state", method="GET")["offline_queue"] == []


def test_the_real_limits_are_never_exceeded(live, installed, caplog):
    item, *_ = seed_invoice(live, rows=False)
    caplog.set_level(logging.INFO)
    with live.app.app_context():
        client = store.client_for(store.find(installed["auth"]["member_id"]))
        for _ in range(58):  # beyond the burst of 50: the shared bucket must pace them
            assert client.call("crm.item.get", {"entityTypeId": 31, "id": item["id"]}).result["item"]["id"] == item["id"]
    assert "QUERY_LIMIT_EXCEEDED" not in caplog.text


def test_webhook_mode_syncs_without_the_app(live, placeholder_flows):
    """Self-hosted portals without the app: an inbound webhook reads and reconciles (NOTES s1)."""
    invoice = live.control(f"bitrix24/portals/{ACME}/invoices", json={"fields": {"title": "Hook"}})["item"]
    contact = live.control(f"bitrix24/portals/{ACME}/contacts", json={"fields": {"NAME": "Wanda"}})
    live.control(f"bitrix24/portals/{ACME}/invoices/{invoice['id']}", json={"fields": {"contactId": contact["ID"]}})
    with live.app.app_context():
        installation = store.save_webhook(f"{live.sandbox_url}/{ACME}/rest/1/acmewebhooksecret1/")
        adapter = Bitrix24Platform.build(installation)
        read = adapter.get_invoice(str(invoice["id"]))
        assert read.party.name == "Wanda" and read.sync_enabled is True
        installation.created_at = installation.created_at.replace(year=2000)
        counts = reconcile_installation(installation)
        assert counts["invoices"] >= 1 and counts["offline"] == 0


def test_the_administrator_is_notified_inside_the_portal(live, installed):
    """The platform's "notify admin" capability: a system notification from the app to the
    user who installed it (im.notify), which is how alerts reach a Bitrix24 administrator."""
    from bridge.vault import vault_for_app

    with live.app.app_context():
        installation = store.find(installed["auth"]["member_id"])
        installer = vault_for_app(live.app).read(installation.credential_id).data["user_id"]
        assert Bitrix24Platform.notify_admin(installation, "bridge (acme): the connection must be renewed.")
    (note,) = live.control(f"bitrix24/portals/{ACME}/state", method="GET")["notifications"]
    assert note["message"] == "bridge (acme): the connection must be renewed." and note["type"] == "SYSTEM"
    assert str(note["to"]) == str(installer)
