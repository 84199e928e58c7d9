"""Invoices, payments and bank transactions: numbering, statuses, lines, rounding, filters."""
from __future__ import annotations

import uuid
from email.utils import format_datetime

from tests.sandbox.xero_fixtures import xero, xero_spec  # noqa: F401


def messages(resp) -> list[str]:
    return [e["Message"] for el in resp.json()["Elements"] for e in el["ValidationErrors"]]


def test_auto_numbering_and_unique_accrec_number(xero):
    contact = xero.contact()
    first = xero.invoice(contact["ContactID"])
    assert first["InvoiceNumber"] == "INV-0001" and first["Status"] == "DRAFT"
    assert xero.invoice(contact["ContactID"])["InvoiceNumber"] == "INV-0002"
    xero.invoice(contact["ContactID"], InvoiceNumber="B24-100")
    dup = xero.call("PUT", "Invoices", json={"Invoices": [{"Type": "ACCREC", "InvoiceNumber": "B24-100",
                                                          "Contact": {"ContactID": contact["ContactID"]},
                                                          "LineItems": [{"Description": "x", "Quantity": 1,
                                                                         "UnitAmount": 1}]}]})
    assert dup.status_code == 400 and messages(dup) == ["Invoice # must be unique."]
    # bills (ACCPAY) may repeat a supplier's number
    for _ in range(2):
        resp = xero.call("PUT", "Invoices", json={"Invoices": [{"Type": "ACCPAY", "InvoiceNumber": "SUP-1",
                                                               "Contact": {"ContactID": contact["ContactID"]},
                                                               "LineItems": [{"Description": "x", "Quantity": 1,
                                                                              "UnitAmount": 5, "AccountCode": "429"}]}]})
        assert resp.status_code == 200


def test_per_line_tax_rounding_and_line_amount_types(xero):
    contact = xero.contact()
    lines = [{"Description": f"L{i}", "Quantity": 1, "UnitAmount": "0.33", "AccountCode": "200"} for i in range(3)]
    inv = xero.invoice(contact["ContactID"], lines=lines)
    # 15% of 0.33 = 0.0495 -> 0.05 per line, so 0.15 in total (not 0.99 * 15% = 0.1485 -> 0.15 by luck)
    assert [l["TaxAmount"] for l in inv["LineItems"]] == [0.05, 0.05, 0.05]
    assert inv["SubTotal"] == 0.99 and inv["TotalTax"] == 0.15 and inv["Total"] == 1.14
    lines = [{"Description": f"L{i}", "Quantity": 1, "UnitAmount": "1.01", "AccountCode": "200"} for i in range(3)]
    inc = xero.invoice(contact["ContactID"], lines=lines, LineAmountTypes="Inclusive")
    # 1.01 * 15/115 = 0.1317 -> 0.13 per line
    assert inc["TotalTax"] == 0.39 and inc["Total"] == 3.03 and inc["SubTotal"] == 2.64
    none = xero.invoice(contact["ContactID"], lines=lines, LineAmountTypes="NoTax")
    assert none["TotalTax"] == 0 and none["Total"] == 3.03


def test_tax_type_and_account_code_checked_against_the_org(xero):
    contact = xero.contact()
    bad = xero.call("PUT", "Invoices", json={"Invoices": [{
        "Type": "ACCREC", "Contact": {"ContactID": contact["ContactID"]},
        "LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 1, "AccountCode": "999"},
                      {"Description": "y", "Quantity": 1, "UnitAmount": 1, "AccountCode": "200", "TaxType": "OUTPUT"},
                      {"Description": "z", "Quantity": 1, "UnitAmount": 1, "AccountCode": "200", "TaxType": "INPUT2"}]}]})
    assert bad.status_code == 400
    text = " | ".join(messages(bad))
    assert "'999'" in text and "'OUTPUT'" in text and "cannot be used with account code '200'" in text


def test_status_transitions(xero):
    contact = xero.contact()
    inv = xero.invoice(contact["ContactID"])
    iid = inv["InvoiceID"]

    def set_status(status):
        return xero.call("POST", f"Invoices/{iid}", json={"Invoices": [{"InvoiceID": iid, "Status": status}]})

    assert set_status("SUBMITTED").status_code == 200
    assert set_status("DRAFT").status_code == 200
    assert set_status("AUTHORISED").status_code == 200
    for illegal in ("DRAFT", "DELETED", "PAID"):
        resp = set_status(illegal)
        assert resp.status_code == 400
        assert messages(resp) == ["Invoice not of valid status for modification"]
    assert set_status("VOIDED").json()["Invoices"][0]["Status"] == "VOIDED"
    assert set_status("AUTHORISED").status_code == 400
    draft = xero.invoice(contact["ContactID"])
    resp = xero.call("POST", "Invoices", json={"Invoices": [{"InvoiceID": draft["InvoiceID"], "Status": "DELETED"}]})
    assert resp.json()["Invoices"][0]["Status"] == "DELETED"


def test_authorised_invoice_lines_are_locked_but_reference_is_not(xero):
    contact = xero.contact()
    inv = xero.invoice(contact["ContactID"], status="AUTHORISED")
    iid = inv["InvoiceID"]
    lines = xero.call("POST", f"Invoices/{iid}", json={"LineItems": [{"Description": "new", "Quantity": 1,
                                                                      "UnitAmount": 9, "AccountCode": "200"}]})
    assert lines.status_code == 400
    ref = xero.call("POST", f"Invoices/{iid}", json={"Reference": "PO-7"})
    assert ref.status_code == 200 and ref.json()["Invoices"][0]["Reference"] == "PO-7"


def test_line_items_replaced_by_line_item_id(xero):
    contact = xero.contact()
    inv = xero.invoice(contact["ContactID"], lines=[
        {"Description": "keep", "Quantity": 1, "UnitAmount": 10, "AccountCode": "200"},
        {"Description": "drop", "Quantity": 1, "UnitAmount": 20, "AccountCode": "200"}])
    keep = inv["LineItems"][0]
    resp = xero.call("POST", f"Invoices/{inv['InvoiceID']}", json={"LineItems": [
        {"LineItemID": keep["LineItemID"], "Quantity": 3},
        {"Description": "added", "Quantity": 1, "UnitAmount": 5, "AccountCode": "200"}]})
    assert resp.status_code == 200
    got = resp.json()["Invoices"][0]["LineItems"]
    assert [(l["Description"], l["LineAmount"]) for l in got] == [("keep", 30), ("added", 5)]
    assert got[0]["LineItemID"] == keep["LineItemID"]
    assert resp.json()["Invoices"][0]["SubTotal"] == 35


def test_filters_and_ids_limit(xero):
    a, b = xero.contact("Alpha"), xero.contact("Beta")
    one = xero.invoice(a["ContactID"], Reference="B24-9")
    xero.invoice(b["ContactID"], status="AUTHORISED")
    get = lambda **p: xero.call("GET", "Invoices", params=p)  # noqa: E731
    assert [i["InvoiceID"] for i in get(InvoiceNumbers=one["InvoiceNumber"]).json()["Invoices"]] == [one["InvoiceID"]]
    assert [i["InvoiceID"] for i in get(where='Reference=="B24-9"').json()["Invoices"]] == [one["InvoiceID"]]
    assert len(get(Statuses="AUTHORISED").json()["Invoices"]) == 1
    assert len(get(ContactIDs=b["ContactID"]).json()["Invoices"]) == 1
    assert len(get(where=f'Contact.ContactID==Guid("{a["ContactID"]}")').json()["Invoices"]) == 1
    assert len(get(IDs=",".join([one["InvoiceID"]] + [str(uuid.uuid4()) for _ in range(49)])).json()["Invoices"]) == 1
    assert get(IDs=",".join(str(uuid.uuid4()) for _ in range(51))).status_code == 404
    unpaged = get().json()["Invoices"][0]
    paged = get(page=1).json()["Invoices"][0]
    assert "LineItems" not in unpaged and paged["LineItems"]
    assert xero.call("GET", f"Invoices/{one['InvoiceNumber']}").json()["Invoices"][0]["InvoiceID"] == one["InvoiceID"]


def test_invoice_batch_bad_element_both_modes(xero):
    contact = xero.contact()
    good = {"Type": "ACCREC", "Contact": {"ContactID": contact["ContactID"]},
            "LineItems": [{"Description": "ok", "Quantity": 1, "UnitAmount": 1, "AccountCode": "200"}]}
    bad = {**good, "LineItems": [{"Description": "bad", "Quantity": 1, "UnitAmount": 1, "AccountCode": "nope"}]}
    resp = xero.call("PUT", "Invoices", json={"Invoices": [good, bad]})
    assert resp.status_code == 400 and len(resp.json()["Elements"]) == 1
    assert len(xero.call("GET", "Invoices").json()["Invoices"]) == 1
    resp = xero.call("PUT", "Invoices", params={"summarizeErrors": "false"}, json={"Invoices": [bad, good]})
    assert resp.status_code == 200
    first, second = resp.json()["Invoices"]
    assert first["StatusAttributeString"] == "ERROR" and first["HasErrors"] and first["ValidationErrors"]
    assert second["StatusAttributeString"] == "OK" and second["InvoiceID"]


def test_payments_pay_the_invoice_and_are_listed(xero):
    contact = xero.contact()
    inv = xero.invoice(contact["ContactID"], status="AUTHORISED")
    draft = xero.invoice(contact["ContactID"])
    pay = lambda iid, amount: xero.call("PUT", "Payments", json={"Payments": [  # noqa: E731
        {"Invoice": {"InvoiceID": iid}, "Account": {"Code": "090"}, "Amount": amount, "Date": "2030-01-05"}]})
    assert pay(draft["InvoiceID"], 10).status_code == 400
    assert pay(inv["InvoiceID"], 1000).status_code == 400  # more than is due
    part = pay(inv["InvoiceID"], 100)
    assert part.status_code == 200
    after = xero.call("GET", f"Invoices/{inv['InvoiceID']}").json()["Invoices"][0]
    assert after["Status"] == "AUTHORISED" and after["AmountDue"] == 130 and after["AmountPaid"] == 100
    void = xero.call("POST", f"Invoices/{inv['InvoiceID']}", json={"Status": "VOIDED"})
    assert void.status_code == 400  # payments applied
    pay(inv["InvoiceID"], 130)
    paid = xero.call("GET", f"Invoices/{inv['InvoiceID']}").json()["Invoices"][0]
    assert paid["Status"] == "PAID" and paid["AmountDue"] == 0 and len(paid["Payments"]) == 2
    listed = xero.call("GET", "Payments", params={"page": 1, "pageSize": 1}).json()
    assert listed["pagination"]["itemCount"] == 2 and len(listed["Payments"]) == 1


def test_contacts_seeded_half_companies_with_a_person_half_people(xero):
    assert xero.control("POST", f"orgs/{xero.tenant_id}/seed", json={"contacts": 4}).json()["contacts"] == 4 + 5
    listed = [c for c in xero.call("GET", "Contacts").json()["Contacts"] if not c["Name"].startswith("Seed Customer")]
    companies = [c for c in listed if c["Name"].endswith("Ltd")]
    assert len(companies) == 2 and all(len(c["ContactPersons"]) == 1 for c in companies)
    assert sorted(c["Name"] for c in listed if c not in companies) == ["Person 00001", "Person 00003"]


def test_bank_transactions_seeded_paged_filtered_and_incremental(xero):
    seeded = xero.control("POST", f"orgs/{xero.tenant_id}/seed", json={"bank_transactions": 1200, "payments": 30})
    assert seeded.json() == {"bank_transactions": 1200, "payments": 30, "contacts": 5}  # 5 counterparties
    page = xero.call("GET", "BankTransactions", params={"page": 2, "pageSize": 1000}).json()
    assert page["pagination"]["itemCount"] == 1200 and len(page["BankTransactions"]) == 200
    spend = xero.call("GET", "BankTransactions", params={"where": 'Type=="SPEND" AND Status=="AUTHORISED"'}).json()
    assert 0 < len(spend["BankTransactions"]) < 1200
    assert {b["Type"] for b in spend["BankTransactions"]} == {"SPEND"}
    xero.advance(10)
    since = xero.system.host.clock.now()
    bank = xero.call("GET", "Accounts", params={"where": 'Type=="BANK" AND Status=="ACTIVE"'}).json()["Accounts"]
    created = xero.call("PUT", "BankTransactions", json={"BankTransactions": [{
        "Type": "RECEIVE", "Contact": {"Name": "Walk-in"}, "BankAccount": {"AccountID": bank[0]["AccountID"]},
        "LineItems": [{"Description": "Cash sale", "Quantity": 1, "UnitAmount": 50, "AccountCode": "200"}]}]})
    assert created.status_code == 200 and created.json()["BankTransactions"][0]["Total"] == 57.5
    newer = xero.call("GET", "BankTransactions", headers={"If-Modified-Since": format_datetime(since, usegmt=True)})
    assert [b["Reference"] for b in newer.json()["BankTransactions"]] == [""]
    payments = xero.call("GET", "Payments", params={"page": 1}).json()
    assert payments["pagination"]["itemCount"] == 30


def test_reference_data_is_regional(xero):
    rates = {t["TaxType"]: t for t in xero.call("GET", "TaxRates").json()["TaxRates"]}
    assert rates["OUTPUT2"]["EffectiveRate"] == 15
    uk = xero.new_org("UK Ltd", "UK")
    xero.token = xero.mint([xero.tenant_id, uk])
    xero.tenant_id = uk
    uk_rates = {t["TaxType"] for t in xero.call("GET", "TaxRates").json()["TaxRates"]}
    assert {"OUTPUT2", "RROUTPUT", "ZERORATEDOUTPUT"} <= uk_rates
    org = xero.call("GET", "Organisation").json()["Organisations"][0]
    assert org["BaseCurrency"] == "GBP" and org["OrganisationID"] == uk
    assert xero.call("GET", "Currencies").json()["Currencies"][0]["Code"] == "GBP"
    assert xero.call("GET", "TaxRates/RROUTPUT").json()["TaxRates"][0]["EffectiveRate"] == 5
