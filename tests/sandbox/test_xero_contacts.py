"""Contacts: unique names, ContactPersons, ContactNumber, batches, paging, filters."""
from __future__ import annotations

from email.utils import format_datetime

from tests.sandbox.xero_fixtures import xero, xero_spec  # noqa: F401


def test_contact_name_unique_among_active_contacts(xero):
    first = xero.contact("Acme Ltd")
    resp = xero.call("PUT", "Contacts", json={"Contacts": [{"Name": "acme ltd"}]})
    assert resp.status_code == 400
    body = resp.json()
    assert body["ErrorNumber"] == 10 and body["Type"] == "ValidationException"
    assert body["Message"] == "A validation exception occurred"
    assert "is already assigned to another contact" in body["Elements"][0]["ValidationErrors"][0]["Message"]
    # archiving frees the name
    archived = xero.call("POST", f"Contacts/{first['ContactID']}", json={"ContactStatus": "ARCHIVED"})
    assert archived.status_code == 200
    assert xero.call("PUT", "Contacts", json={"Contacts": [{"Name": "Acme Ltd"}]}).status_code == 200
    names = [c["Name"] for c in xero.call("GET", "Contacts").json()["Contacts"]]
    assert names == ["Acme Ltd"]
    with_archived = xero.call("GET", "Contacts", params={"includeArchived": "true"}).json()["Contacts"]
    assert len(with_archived) == 2


def test_contact_persons_capped_at_five_and_replaced_whole(xero):
    people = [{"FirstName": f"P{i}", "EmailAddress": f"p{i}@example.com"} for i in range(6)]
    too_many = xero.call("PUT", "Contacts", json={"Contacts": [{"Name": "Big Co", "ContactPersons": people}]})
    assert too_many.status_code == 400
    contact = xero.contact("Big Co", ContactPersons=people[:3])
    resp = xero.call("POST", f"Contacts/{contact['ContactID']}", json={"ContactPersons": [people[5]]})
    assert resp.status_code == 200
    got = xero.call("GET", f"Contacts/{contact['ContactID']}").json()["Contacts"][0]
    assert [p["FirstName"] for p in got["ContactPersons"]] == ["P5"]
    assert got["Name"] == "Big Co"  # omitted fields keep their value


def test_contact_number_max_50_and_path_lookup(xero):
    assert xero.call("PUT", "Contacts", json={"Contacts": [{"Name": "Long", "ContactNumber": "x" * 51}]}).status_code == 400
    contact = xero.contact("Numbered", ContactNumber="B24-C-77")
    got = xero.call("GET", "Contacts/B24-C-77").json()["Contacts"][0]
    assert got["ContactID"] == contact["ContactID"]
    assert xero.call("GET", "contacts/NOPE-1").status_code == 404


def test_batch_with_bad_element_in_both_summarize_modes(xero):
    batch = {"Contacts": [{"Name": "Good One"}, {"Name": ""}, {"Name": "Good Two"}]}
    summarized = xero.call("PUT", "Contacts", json=batch)
    assert summarized.status_code == 400
    assert len(summarized.json()["Elements"]) == 1
    # the valid ones were created anyway, their IDs not returned (Lesson 2)
    names = {c["Name"] for c in xero.call("GET", "Contacts").json()["Contacts"]}
    assert names == {"Good One", "Good Two"}
    batch = {"Contacts": [{"Name": "Good Three"}, {"Name": "Good One"}]}
    detailed = xero.call("PUT", "Contacts", params={"summarizeErrors": "false"}, json=batch)
    assert detailed.status_code == 200
    first, second = detailed.json()["Contacts"]
    assert first["StatusAttributeString"] == "OK" and first["ContactID"]
    assert second["StatusAttributeString"] == "ERROR" and second["ValidationErrors"][0]["Message"]


def test_paging_where_search_ids_and_if_modified_since(xero):
    contacts = [{"Name": f"Customer {i:03d}", "EmailAddress": f"c{i}@example.com"} for i in range(250)]
    assert xero.call("PUT", "Contacts", json={"Contacts": contacts}).status_code == 200
    page3 = xero.call("GET", "Contacts", params={"page": 3, "pageSize": 100}).json()
    assert page3["pagination"] == {"page": 3, "pageSize": 100, "pageCount": 3, "itemCount": 250}
    assert len(page3["Contacts"]) == 50
    big = xero.call("GET", "Contacts", params={"page": 1, "pageSize": 5000}).json()
    assert big["pagination"]["pageSize"] == 1000 and len(big["Contacts"]) == 250
    hit = xero.call("GET", "Contacts", params={"where": 'EmailAddress=="C7@example.com"'}).json()["Contacts"]
    assert [c["Name"] for c in hit] == ["Customer 007"]
    assert len(xero.call("GET", "Contacts", params={"searchTerm": "customer 01"}).json()["Contacts"]) == 10
    ids = ",".join(c["ContactID"] for c in hit)
    assert len(xero.call("GET", "Contacts", params={"IDs": ids}).json()["Contacts"]) == 1
    bad = xero.call("GET", "Contacts", params={"where": "ContactID==" + hit[0]["ContactID"]})
    assert bad.status_code == 400 and bad.json()["ErrorNumber"] == 16
    xero.advance(5)
    since = xero.system.host.clock.now()
    xero.call("POST", f"Contacts/{hit[0]['ContactID']}", json={"FirstName": "Seven"})
    changed = xero.call("GET", "Contacts", headers={"If-Modified-Since": format_datetime(since, usegmt=True)})
    assert [c["Name"] for c in changed.json()["Contacts"]] == ["Customer 007"]


def test_paths_answer_in_any_case_and_xml_without_accept(xero):
    xero.contact("Case Co")
    assert xero.call("GET", "CONTACTS").status_code == 200
    resp = xero.session.get(f"{xero.url}/api.xero.com/API.XRO/2.0/contacts", timeout=5,
                            headers={"Authorization": f"Bearer {xero.token['access_token']}",
                                     "xero-tenant-id": xero.tenant_id})
    assert resp.status_code == 200 and resp.text.startswith("<Response") and "<Name>Case Co</Name>" in resp.text
