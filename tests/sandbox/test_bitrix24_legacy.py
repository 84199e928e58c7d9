"""Old-style invoices on a self-hosted portal (crm.invoice.*), and crm.item's errors as a portal sends them.

Each test names the public doc page (apidocs.bitrix24.com/api-reference/crm/outdated/invoice/...) whose
quirk it pins; bridge/sandbox/bitrix24/legacy.py cites the same pages.
"""
from __future__ import annotations

import pytest

from tests.sandbox.bitrix24_support import ACME, control, install_tokens, rest, start_receiver


@pytest.fixture
def token(sandbox):
    control(sandbox, f"/portals/{ACME}/settings", invoices="both")
    return install_tokens(sandbox)["auth"]["access_token"]


def _company(sandbox, token) -> int:
    return rest(sandbox, ACME, "crm.company.add", token, fields={"TITLE": "Globex Ltd"}).json()["result"]


def _invoice(sandbox, token, **fields) -> int:
    body = {"ORDER_TOPIC": "Consulting", "PERSON_TYPE_ID": 1, "PAY_SYSTEM_ID": 1, **fields}
    reply = rest(sandbox, ACME, "crm.invoice.add", token, fields=body)
    assert reply.status_code == 200, reply.text
    return reply.json()["result"]


def test_a_smart_only_portal_has_no_old_invoices(sandbox):
    token = install_tokens(sandbox)["auth"]["access_token"]
    reply = rest(sandbox, ACME, "crm.invoice.list", token)
    assert (reply.status_code, reply.json()["error"]) == (404, "ERROR_METHOD_NOT_FOUND")
    assert "ONCRMINVOICEADD" not in rest(sandbox, ACME, "events", token).json()["result"]
    assert not [s for s in rest(sandbox, ACME, "crm.status.list", token,
                                filter={"ENTITY_ID": "INVOICE_STATUS"}).json()["result"]]


def test_add_and_get_with_product_rows_inside_the_invoice(sandbox, token):
    company = _company(sandbox, token)
    invoice_id = _invoice(sandbox, token, UF_COMPANY_ID=company, DATE_PAY_BEFORE="2026-12-31", PRODUCT_ROWS=[
        {"ID": 0, "PRODUCT_NAME": "Advice", "QUANTITY": 2, "PRICE": 120, "VAT_RATE": 0.2, "VAT_INCLUDED": "Y"},
        {"ID": 0, "PRODUCT_ID": 103, "QUANTITY": 1, "VAT_RATE": 0.2, "VAT_INCLUDED": "N"}])
    assert isinstance(invoice_id, int)  # crm-invoice-add: the result is the new ID
    invoice = rest(sandbox, ACME, "crm.invoice.get", token, id=invoice_id).json()["result"]
    assert invoice["ORDER_TOPIC"] == "Consulting" and invoice["STATUS_ID"] == "N" and invoice["PAYED"] == "N"
    assert invoice["UF_COMPANY_ID"] == str(company) and invoice["ACCOUNT_NUMBER"] == str(invoice_id)
    assert invoice["DATE_PAY_BEFORE"].startswith("2026-12-31T00:00:00")
    first, second = invoice["PRODUCT_ROWS"]
    assert (first["PRODUCT_NAME"], first["QUANTITY"], first["PRICE"], first["VAT_RATE"]) == \
        ("Advice", "2.0000", "120.00", "0.2000")  # VAT_RATE is a coefficient, not a percent
    assert (second["PRODUCT_NAME"], second["PRICE"], second["PRODUCT_XML_ID"]) == ("Support hour", "95.00", "prod-103")
    # PRICE is the total with tax: 240 (tax inside) + 95 * 1.2; TAX_VALUE 40 + 19.
    assert (invoice["PRICE"], invoice["TAX_VALUE"]) == ("354.00", "59.00")


def test_required_fields_unknown_status_and_not_found(sandbox, token):
    refused = rest(sandbox, ACME, "crm.invoice.add", token, fields={"ORDER_TOPIC": "No payer type"})
    assert refused.status_code == 400 and "PERSON_TYPE_ID" in refused.json()["error_description"]
    assert rest(sandbox, ACME, "crm.invoice.add", token).json() == \
        {"error": "", "error_description": "Parameter 'fields' must be array."}
    bad_status = rest(sandbox, ACME, "crm.invoice.add", token, fields={
        "ORDER_TOPIC": "x", "PERSON_TYPE_ID": 1, "PAY_SYSTEM_ID": 1, "STATUS_ID": "DT31_1:P"})
    assert bad_status.status_code == 400
    missing = rest(sandbox, ACME, "crm.invoice.get", token, id=999)
    assert (missing.status_code, missing.json()) == (400, {"error": "", "error_description": "Not found"})
    assert rest(sandbox, ACME, "crm.invoice.get", token).json()["error_description"] == "ID is not defined or invalid."


def test_update_replaces_rows_sets_status_and_xml_id(sandbox, token):
    invoice_id = _invoice(sandbox, token, PRODUCT_ROWS=[{"PRODUCT_NAME": "A", "PRICE": 10, "QUANTITY": 1},
                                                        {"PRODUCT_NAME": "B", "PRICE": 20, "QUANTITY": 1}])
    rows = rest(sandbox, ACME, "crm.invoice.get", token, id=invoice_id).json()["result"]["PRODUCT_ROWS"]
    kept = {"ID": rows[0]["ID"], "QUANTITY": 3}
    reply = rest(sandbox, ACME, "crm.invoice.update", token, id=invoice_id, fields={
        "XML_ID": "xero:INV-0001", "STATUS_ID": "P", "PAY_VOUCHER_NUM": "876",
        "PRODUCT_ROWS": [kept, {"ID": 0, "PRODUCT_NAME": "C", "PRICE": 5}]})
    assert reply.json()["result"] == invoice_id
    invoice = rest(sandbox, ACME, "crm.invoice.get", token, id=invoice_id).json()["result"]
    assert [(r["PRODUCT_NAME"], r["QUANTITY"]) for r in invoice["PRODUCT_ROWS"]] == [("A", "3.0000"), ("C", "1.0000")]
    assert invoice["PRODUCT_ROWS"][0]["ID"] == rows[0]["ID"]
    assert (invoice["XML_ID"], invoice["PAYED"], invoice["PAY_VOUCHER_NUM"], invoice["PRICE"]) == \
        ("xero:INV-0001", "Y", "876", "35.00")
    assert invoice["DATE_PAYED"] and invoice["EMP_PAYED_ID"] == "1"
    assert rest(sandbox, ACME, "crm.invoice.delete", token, id=invoice_id).json()["result"] is True
    assert rest(sandbox, ACME, "crm.invoice.get", token, id=invoice_id).status_code == 400


def test_list_pages_by_fifty_filters_on_date_update_and_selects(sandbox, token):
    sandbox.host.systems["bitrix24"].cloud.portals[ACME].bucket.capacity = 10_000
    ids = [_invoice(sandbox, token, ORDER_TOPIC=f"bulk {i}") for i in range(53)]
    sandbox.host.clock.advance(120)
    rest(sandbox, ACME, "crm.invoice.update", token, id=ids[7], fields={"COMMENTS": "later"})
    first = rest(sandbox, ACME, "crm.invoice.list", token, order={"ID": "ASC"}).json()
    assert (len(first["result"]), first["next"], first["total"]) == (50, 50, 53)
    assert "PRODUCT_ROWS" not in first["result"][0] and "INVOICE_PROPERTIES" not in first["result"][0]
    second = rest(sandbox, ACME, "crm.invoice.list", token, order={"ID": "ASC"}, start=50).json()
    assert [int(r["ID"]) for r in second["result"]] == ids[50:] and "next" not in second
    later = rest(sandbox, ACME, "crm.invoice.get", token, id=ids[7]).json()["result"]["DATE_UPDATE"]
    changed = rest(sandbox, ACME, "crm.invoice.list", token, filter={">=DATE_UPDATE": later},
                   select=["ID", "DATE_UPDATE"]).json()
    assert changed["result"] == [{"ID": str(ids[7]), "DATE_UPDATE": later}]


def test_user_field_prefix_length_labels_and_default(sandbox, token):
    added = rest(sandbox, ACME, "crm.invoice.userfield.add", token, fields={
        "FIELD_NAME": "XERO_SYNC", "USER_TYPE_ID": "boolean", "EDIT_FORM_LABEL": "Sync with Xero",
        "SETTINGS": {"DEFAULT_VALUE": 1}}).json()["result"]
    listed = rest(sandbox, ACME, "crm.invoice.userfield.list", token, filter={"FIELD_NAME": "UF_CRM_XERO_SYNC"}).json()
    assert [(u["ID"], u["ENTITY_ID"], u["EDIT_FORM_LABEL"]) for u in listed["result"]] == \
        [(str(added), "CRM_INVOICE", "Sync with Xero")]
    assert rest(sandbox, ACME, "crm.invoice.userfield.get", token, id=added).json()["result"]["EDIT_FORM_LABEL"]["en"] \
        == "Sync with Xero"
    again = rest(sandbox, ACME, "crm.invoice.userfield.add", token, fields={"FIELD_NAME": "XERO_SYNC",
                                                                           "USER_TYPE_ID": "boolean"})
    assert again.status_code == 400 and "already exists" in again.json()["error_description"]
    too_long = rest(sandbox, ACME, "crm.invoice.userfield.add", token, fields={"FIELD_NAME": "XERO_SYNC_ENABLED",
                                                                              "USER_TYPE_ID": "boolean"})
    assert too_long.json()["error"] == "ERROR_CORE"
    invoice_id = _invoice(sandbox, token)
    assert rest(sandbox, ACME, "crm.invoice.get", token, id=invoice_id).json()["result"]["UF_CRM_XERO_SYNC"] == "1"
    rest(sandbox, ACME, "crm.invoice.update", token, id=invoice_id, fields={"UF_CRM_XERO_SYNC": "N"})
    assert rest(sandbox, ACME, "crm.invoice.list", token, select=["UF_*"]).json()["result"] == \
        [{"ID": str(invoice_id), "UF_CRM_XERO_SYNC": "0"}]
    fields = rest(sandbox, ACME, "crm.invoice.fields", token).json()["result"]
    assert fields["UF_CRM_XERO_SYNC"]["isDynamic"] and fields["PRICE"]["isReadOnly"] and fields["ORDER_TOPIC"]["isRequired"]
    assert rest(sandbox, ACME, "crm.invoice.userfield.delete", token, id=added).json()["result"] is True
    assert "UF_CRM_XERO_SYNC" not in rest(sandbox, ACME, "crm.invoice.get", token, id=invoice_id).json()["result"]


def test_invoice_statuses_come_from_crm_status_list(sandbox, token):
    rows = rest(sandbox, ACME, "crm.status.list", token, filter={"ENTITY_ID": "INVOICE_STATUS"}).json()["result"]
    assert [(r["STATUS_ID"], r["SEMANTICS"]) for r in rows] == [("N", None), ("S", None), ("P", "S"), ("D", "F")]


def test_the_four_events_are_delivered_like_the_others(sandbox, token):
    running, receiver = start_receiver()
    try:
        handler = f"{running.url}/hooks/bitrix24"
        control(sandbox, "/settings", allow_insecure_handlers=True)
        for event in ("ONCRMINVOICEADD", "ONCRMINVOICEUPDATE", "ONCRMINVOICESETSTATUS", "ONCRMINVOICEDELETE"):
            assert rest(sandbox, ACME, "event.bind", token, event=event, handler=handler).json()["result"] is True
        invoice_id = _invoice(sandbox, token)
        rest(sandbox, ACME, "crm.invoice.update", token, id=invoice_id, fields={"COMMENTS": "no status change"})
        rest(sandbox, ACME, "crm.invoice.update", token, id=invoice_id, fields={"STATUS_ID": "S"})
        rest(sandbox, ACME, "crm.invoice.delete", token, id=invoice_id)
        cloud = sandbox.host.systems["bitrix24"].cloud
        assert cloud.dispatcher.wait_idle()
        forms = [c["form"] for c in receiver.calls]
        assert [f["event"] for f in forms] == ["ONCRMINVOICEADD", "ONCRMINVOICEUPDATE", "ONCRMINVOICEUPDATE",
                                               "ONCRMINVOICESETSTATUS", "ONCRMINVOICEDELETE"]
        assert {f["data[FIELDS][ID]"] for f in forms} == {str(invoice_id)}
        assert all(f["auth[application_token]"] and f["auth[member_id]"] for f in forms)
    finally:
        running.stop()


def test_an_old_invoice_only_portal_has_no_smart_invoices(sandbox):
    control(sandbox, f"/portals/{ACME}/settings", invoices="legacy")
    token = install_tokens(sandbox)["auth"]["access_token"]
    smart = rest(sandbox, ACME, "crm.item.list", token, entityTypeId=31)
    assert (smart.status_code, smart.json()["error"]) == (400, "NOT_FOUND")
    placements = rest(sandbox, ACME, "placement.list", token).json()["result"]
    assert "CRM_INVOICE_DETAIL_TOOLBAR" in placements and "CRM_SMART_INVOICE_DETAIL_TAB" not in placements
    events = rest(sandbox, ACME, "events", token).json()["result"]
    assert "ONCRMINVOICESETSTATUS" in events and "ONCRMDYNAMICITEMADD" not in events
    assert "crm.invoice.list" in rest(sandbox, ACME, "methods", token).json()["result"]


# ---- crm.item errors as the portal sends them ------------------------------------------------------

def test_a_missing_parameter_is_the_numeric_code_100(sandbox):
    token = install_tokens(sandbox)["auth"]["access_token"]
    no_id = rest(sandbox, ACME, "crm.item.get", token, entityTypeId=31)
    assert (no_id.status_code, no_id.json()) == (400, {"error": 100, "error_description": "Could not find value for parameter {id}"})
    no_fields = rest(sandbox, ACME, "crm.item.add", token, entityTypeId=31)
    assert no_fields.status_code == 400 and no_fields.json()["error"] == 100
    assert rest(sandbox, ACME, "crm.item.list", token, entityTypeId=31).json()["result"]["items"] == []


def test_an_unknown_entity_type_is_not_found_and_old_invoices_not_supported(sandbox):
    token = install_tokens(sandbox)["auth"]["access_token"]
    unknown = rest(sandbox, ACME, "crm.item.get", token, entityTypeId=1268, id=1)
    assert (unknown.status_code, unknown.json()) == (400, {"error": "NOT_FOUND", "error_description": "SPA not found"})
    old = rest(sandbox, ACME, "crm.item.get", token, entityTypeId=5, id=1)
    assert old.json()["error"] == "ENTITY_TYPE_NOT_SUPPORTED"


def test_a_portal_user_changes_old_invoices_and_offline_events_queue_them(sandbox, token):
    assert rest(sandbox, ACME, "event.bind", token, event="ONCRMINVOICESETSTATUS", event_type="offline").json()["result"]
    made = control(sandbox, f"/portals/{ACME}/legacy-invoices",
                   fields={"ORDER_TOPIC": "Made in the portal", "PERSON_TYPE_ID": 1, "PAY_SYSTEM_ID": 1})
    paid = control(sandbox, f"/portals/{ACME}/legacy-invoices/{made['ID']}", fields={"STATUS_ID": "P"})
    assert paid["PAYED"] == "Y"
    state = control(sandbox, f"/portals/{ACME}/state", method="get")
    assert state["invoice_mode"] == "both" and [i["ID"] for i in state["legacy_invoices"]] == [made["ID"]]
    assert [(r["EVENT_NAME"], r["EVENT_DATA"]["FIELDS"]["ID"]) for r in state["offline_queue"]] == \
        [("ONCRMINVOICESETSTATUS", int(made["ID"]))]
