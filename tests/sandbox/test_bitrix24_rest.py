"""The sandbox portal's REST surface: envelopes, errors, paging, batch, limits, webhooks."""
from __future__ import annotations

import requests

from tests.sandbox.bitrix24_support import ACME, GLOBEX, control, install_tokens, rest


def test_envelope_has_result_and_time_block(sandbox):
    token = install_tokens(sandbox)["auth"]["access_token"]
    body = rest(sandbox, ACME, "crm.item.add.json", token, entityTypeId=31, fields={"title": "Rent"}).json()
    assert body["result"]["item"]["title"] == "Rent"
    assert body["result"]["item"]["stageId"] == "DT31_1:N"
    assert set(body["time"]) >= {"start", "finish", "duration", "processing", "date_start", "date_finish",
                                 "operating", "operating_reset_at"}


def test_error_shapes_and_status_codes(sandbox):
    token = install_tokens(sandbox)["auth"]["access_token"]
    missing = rest(sandbox, ACME, "crm.item.list")
    assert (missing.status_code, missing.json()) == (401, {"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"})
    assert rest(sandbox, ACME, "crm.item.list", "nonsense").json()["error"] == "invalid_token"
    unknown = rest(sandbox, ACME, "crm.nothing.here", token)
    assert (unknown.status_code, unknown.json()["error"]) == (404, "ERROR_METHOD_NOT_FOUND")
    old = rest(sandbox, ACME, "crm.item.list", token, entityTypeId=5)
    assert (old.status_code, old.json()["error"]) == (400, "ENTITY_TYPE_NOT_SUPPORTED")
    # A token of one portal is no good on another.
    assert rest(sandbox, GLOBEX, "app.info", token).status_code == 401
    control(sandbox, f"/portals/{ACME}/settings", deleted=True)
    gone = rest(sandbox, ACME, "app.info", token)
    assert (gone.status_code, gone.json()["error"]) == (403, "PORTAL_DELETED")  # error-codes.html


def test_form_body_with_bracket_keys_is_understood(sandbox):
    token = install_tokens(sandbox)["auth"]["access_token"]
    response = requests.post(f"{sandbox.url}/{ACME}/rest/crm.item.add",
                             data={"auth": token, "entityTypeId": "31", "fields[title]": "Form made",
                                   "fields[contactIds][]": []}, timeout=10)
    assert response.json()["result"]["item"]["title"] == "Form made"


def test_paging_with_next_total_and_fast_paging(sandbox):
    token = install_tokens(sandbox)["auth"]["access_token"]
    for i in range(3):
        control(sandbox, f"/portals/{ACME}/invoices", fields={"title": f"seed {i}"})
    sandbox.host.systems["bitrix24"].cloud.portals[ACME].bucket.capacity = 10_000
    for i in range(52):
        control(sandbox, f"/portals/{ACME}/invoices", fields={"title": f"bulk {i}"})
    first = rest(sandbox, ACME, "crm.item.list", token, entityTypeId=31, select=["id", "title"], order={"id": "ASC"}).json()
    assert (len(first["result"]["items"]), first["next"], first["total"]) == (50, 50, 55)
    assert set(first["result"]["items"][0]) == {"id", "title"}
    second = rest(sandbox, ACME, "crm.item.list", token, entityTypeId=31, start=50).json()
    assert len(second["result"]["items"]) == 5 and "next" not in second
    fast = rest(sandbox, ACME, "crm.item.list", token, entityTypeId=31, start=-1,
                order={"id": "ASC"}, filter={">id": 50}).json()
    assert [i["id"] for i in fast["result"]["items"]] == [51, 52, 53, 54, 55]
    assert "total" not in fast and "next" not in fast


def test_filters_on_updated_time_and_boolean_user_field(sandbox):
    token = install_tokens(sandbox)["auth"]["access_token"]
    added = rest(sandbox, ACME, "userfieldconfig.add", token, moduleId="crm", field={
        "entityId": "CRM_SMART_INVOICE", "fieldName": "UF_CRM_SMART_INVOICE_XERO_SYNC", "userTypeId": "boolean",
        "settings": {"DEFAULT_VALUE": 1}})
    assert added.status_code == 200
    again = rest(sandbox, ACME, "userfieldconfig.add", token, moduleId="crm", field={
        "entityId": "CRM_SMART_INVOICE", "fieldName": "UF_CRM_SMART_INVOICE_XERO_SYNC", "userTypeId": "boolean"})
    assert again.status_code == 400 and again.json()["error"] == "" and "already exists" in again.json()["error_description"]
    one = rest(sandbox, ACME, "crm.item.add", token, entityTypeId=31, fields={"title": "a"}).json()["result"]["item"]
    assert one["ufCrmSmartInvoiceXeroSync"] == "Y"
    rest(sandbox, ACME, "crm.item.add", token, entityTypeId=31, fields={"title": "b", "ufCrmSmartInvoiceXeroSync": "N"})
    by_bool = rest(sandbox, ACME, "crm.item.list", token, entityTypeId=31, filter={"ufCrmSmartInvoiceXeroSync": 1}).json()
    assert [i["title"] for i in by_bool["result"]["items"]] == ["a"]
    by_letter = rest(sandbox, ACME, "crm.item.list", token, entityTypeId=31, filter={"ufCrmSmartInvoiceXeroSync": "Y"}).json()
    assert by_letter["result"]["items"] == []  # NOTES s7: Y/N do not work in filters
    sandbox.host.clock.advance(120)
    rest(sandbox, ACME, "crm.item.update", token, entityTypeId=31, id=one["id"], fields={"stageId": "DT31_1:P"})
    recent = rest(sandbox, ACME, "crm.item.list", token, entityTypeId=31,
                  filter={">updatedTime": one["updatedTime"]}).json()["result"]["items"]
    assert [(i["id"], i["stageId"], i["previousStageId"]) for i in recent] == [(one["id"], "DT31_1:P", "DT31_1:N")]


def test_product_rows_compute_prices_and_invoice_sum(sandbox):
    token = install_tokens(sandbox)["auth"]["access_token"]
    item = rest(sandbox, ACME, "crm.item.add", token, entityTypeId=31, fields={"title": "rows"}).json()["result"]["item"]
    rows = rest(sandbox, ACME, "crm.item.productrow.set", token, ownerType="SI", ownerId=item["id"], productRows=[
        {"productId": 103, "price": 120, "quantity": 2, "taxRate": 20, "taxIncluded": "Y"},
        {"productName": "Setup", "price": 50, "quantity": 1, "discountTypeId": 2, "discountRate": 50},
    ]).json()["result"]["productRows"]
    assert rows[0]["productName"] == "Support hour" and rows[0]["priceExclusive"] == 100 and rows[0]["taxRate"] == 20
    assert rows[1]["priceNetto"] == 100 and rows[1]["discountSum"] == 50
    listed = rest(sandbox, ACME, "crm.item.productrow.list", token,
                  filter={"=ownerType": "SI", "=ownerId": item["id"]}).json()["result"]["productRows"]
    assert len(listed) == 2
    again = rest(sandbox, ACME, "crm.item.get", token, entityTypeId=31, id=item["id"]).json()["result"]["item"]
    assert (again["opportunity"], again["taxValue"]) == (290, 40)


def test_contacts_companies_with_multifields_and_links(sandbox):
    token = install_tokens(sandbox)["auth"]["access_token"]
    company = rest(sandbox, ACME, "crm.company.add", token, fields={"TITLE": "Globex Ltd", "ORIGINATOR_ID": "XERO",
                                                                     "ORIGIN_ID": "c-1"}).json()["result"]
    contact = rest(sandbox, ACME, "crm.contact.add", token, fields={
        "NAME": "Ann", "LAST_NAME": "Lee", "EMAIL": [{"VALUE": "ann@example.com", "VALUE_TYPE": "WORK"}]}).json()["result"]
    assert rest(sandbox, ACME, "crm.contact.company.add", token, id=contact,
                fields={"COMPANY_ID": company, "IS_PRIMARY": "Y"}).json()["result"] is True
    got = rest(sandbox, ACME, "crm.contact.get", token, id=contact).json()["result"]
    assert got["COMPANY_ID"] == str(company) and got["EMAIL"][0]["VALUE"] == "ann@example.com"
    listed = rest(sandbox, ACME, "crm.contact.list", token, filter={"EMAIL": "ann@example.com"}, select=["ID", "NAME"]).json()
    assert listed["result"] == [{"ID": str(contact), "NAME": "Ann"}] and listed["total"] == 1
    by_origin = rest(sandbox, ACME, "crm.company.list", token, filter={"ORIGINATOR_ID": "XERO", "ORIGIN_ID": "c-1"}).json()
    assert [c["ID"] for c in by_origin["result"]] == [str(company)]


def test_stages_carry_semantics(sandbox):
    token = install_tokens(sandbox, GLOBEX)["auth"]["access_token"]
    categories = rest(sandbox, GLOBEX, "crm.category.list", token, entityTypeId=31).json()["result"]["categories"]
    assert categories[0]["id"] == 5 and categories[0]["isDefault"] == "Y"
    stages = rest(sandbox, GLOBEX, "crm.status.list", token, filter={"ENTITY_ID": "SMART_INVOICE_STAGE_5"}).json()["result"]
    semantics = {s["STATUS_ID"]: s["SEMANTICS"] for s in stages}
    assert semantics["DT31_5:P"] == "S" and semantics["DT31_5:D"] == "F" and semantics["DT31_5:N"] is None


def test_batch_reports_failing_command_next_to_good_ones(sandbox):
    token = install_tokens(sandbox)["auth"]["access_token"]
    body = rest(sandbox, ACME, "batch", token, halt=0, cmd={
        "add": "crm.item.add?entityTypeId=31&fields[title]=Batch",
        "bad": "crm.item.get?entityTypeId=31&id=999",
        "again": "crm.item.get?entityTypeId=31&id=$result[add][item][id]",
    }).json()
    assert body["result"]["result"]["again"]["item"]["title"] == "Batch"
    assert body["result"]["result_error"] == {"bad": {"error": "NOT_FOUND", "error_description": "Element not found"}}
    assert set(body["result"]["result_time"]) == {"add", "again"}
    halted = rest(sandbox, ACME, "batch", token, halt=1, cmd={"bad": "crm.item.get?entityTypeId=31&id=999",
                                                             "never": "app.info"}).json()["result"]
    assert "never" not in (halted["result"] or {})
    too_many = rest(sandbox, ACME, "batch", token, cmd={str(i): "app.info" for i in range(51)})
    assert (too_many.status_code, too_many.json()["error"]) == (400, "ERROR_BATCH_LENGTH_EXCEEDED")


def test_leaky_bucket_gives_503_then_drains_with_the_clock(sandbox):
    token = install_tokens(sandbox)["auth"]["access_token"]
    statuses = [rest(sandbox, ACME, "app.info", token).status_code for _ in range(52)]
    assert statuses.count(200) <= 50 and statuses[-1] == 503
    assert rest(sandbox, ACME, "app.info", token).json() == {"error": "QUERY_LIMIT_EXCEEDED",
                                                             "error_description": "Too many requests"}
    # Another portal has its own bucket.
    assert rest(sandbox, GLOBEX, "app.info").status_code == 401
    sandbox.host.clock.advance(5)  # 2/s drain -> room for ~10
    assert [rest(sandbox, ACME, "app.info", token).status_code for _ in range(5)] == [200] * 5


def test_operation_time_limit_blocks_one_method(sandbox):
    token = install_tokens(sandbox)["auth"]["access_token"]
    control(sandbox, f"/portals/{ACME}/settings", operation_time_limit={"method": "crm.item.list", "seconds": 60})
    blocked = rest(sandbox, ACME, "crm.item.list", token, entityTypeId=31)
    assert (blocked.status_code, blocked.json()["error"]) == (429, "OPERATION_TIME_LIMIT")
    assert rest(sandbox, ACME, "app.info", token).status_code == 200
    sandbox.host.clock.advance(61)
    assert rest(sandbox, ACME, "crm.item.list", token, entityTypeId=31).status_code == 200


def test_webhook_mode_works_for_crm_but_not_for_bindings(sandbox):
    hook = f"{sandbox.url}/{ACME}/rest/1/acmewebhooksecret1"
    assert requests.post(f"{hook}/crm.item.list.json", json={"entityTypeId": 31}, timeout=10).status_code == 200
    denied = requests.post(f"{hook}/placement.bind", json={"PLACEMENT": "LEFT_MENU", "HANDLER": "https://x.example/"}, timeout=10)
    assert (denied.status_code, denied.json()["error"]) == (403, "WRONG_AUTH_TYPE")
    assert requests.post(f"{hook}/event.bind", json={"event": "ONCRMCONTACTADD", "handler": "https://x.example/"},
                         timeout=10).json()["error"] == "WRONG_AUTH_TYPE"
    wrong = requests.post(f"{sandbox.url}/{ACME}/rest/1/wrongsecret/app.info", timeout=10)
    assert (wrong.status_code, wrong.json()["error"]) == (401, "INVALID_CREDENTIALS")  # error-codes.html


def test_vat_rates_are_listed_as_crm_vat_list_answers(sandbox):
    token = install_tokens(sandbox)["auth"]["access_token"]
    every = rest(sandbox, ACME, "crm.vat.list", token).json()
    assert every["total"] == len(every["result"]) == 6
    no_vat = every["result"][0]
    assert (no_vat["NAME"], no_vat["RATE"], no_vat["ACTIVE"]) == ("No VAT", None, "Y")
    assert set(no_vat) == {"ID", "TIMESTAMP_X", "ACTIVE", "C_SORT", "NAME", "RATE"} and isinstance(no_vat["ID"], str)
    active = rest(sandbox, ACME, "crm.vat.list", token, filter={"ACTIVE": "Y"}, select=["ID", "NAME", "RATE"],
                  order={"ID": "ASC"}).json()["result"]
    assert [r["RATE"] for r in active] == [None, "0.00", "9.00", "15.00", "19.00"]
    assert set(active[1]) == {"ID", "NAME", "RATE"}
    one = rest(sandbox, ACME, "crm.vat.get", token, id=active[3]["ID"]).json()["result"]
    assert one["NAME"] == "VAT 15%"
    missing = rest(sandbox, ACME, "crm.vat.get", token, id="999")
    assert (missing.status_code, missing.json()["error"]) == (400, "NOT_FOUND")
