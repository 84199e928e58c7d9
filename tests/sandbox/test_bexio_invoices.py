"""/2.0/kb_invoice: totals and rounding, positions, api_reference, status life, send."""
from __future__ import annotations

from decimal import Decimal

import requests

from .bexio_helpers import Api, control, decimal_json


def test_rounding_example_from_the_docs(sandbox):
    """NOTES §8.1: net 17.80 + 7.7 % tax 1.3706 -> total 19.15, difference -0.02."""
    api = Api(sandbox)
    position = api.custom("3.56", tax_code="UN77", amount="5", text="Apples")
    response = api.invoice([position], mwst_type=0, mwst_is_net=True, is_valid_from="2019-06-24")
    assert response.status_code == 201, response.text
    body = decimal_json(response)
    assert body["total_gross"] == "17.800000" and body["total_net"] == "17.800000"
    assert body["total_taxes"] == "1.3706"
    assert body["total"] == "19.150000"
    assert body["total_rounding_difference"] == Decimal("-0.02")
    assert body["taxs"] == [{"percentage": "7.70", "value": "1.3706"}]
    assert body["total_remaining_payments"] == "19.150000"
    assert body["positions"][0]["tax_value"] == "7.70"
    assert body["positions"][0]["position_total"] == "17.800000"


def test_gross_prices_round_the_total_to_five_rappen(sandbox):
    api = Api(sandbox)
    body = api.invoice([api.custom("19.99"), api.custom("5.01", amount="2")]).json()
    assert body["total"] == "30.000000"  # 19.99 + 10.02 = 30.01 -> 30.00
    assert body["total_rounding_difference"] == -0.01
    # Tax is extracted from gross: 30.01 * 8.1 / 108.1
    assert body["total_taxes"] == "2.2487"


def test_mixed_position_types_are_accepted_and_numbered(sandbox):
    api = Api(sandbox)
    article = api.post("/2.0/article", {"intern_code": "SKU-1", "intern_name": "Velo Helm",
                                        "article_type_id": 1, "sale_price": "80.00",
                                        "tax_income_id": api.tax_id("UN81")}).json()
    positions = [
        {"type": "KbPositionText", "text": "Bestellung 1001", "show_pos_nr": False},
        {"type": "KbPositionArticle", "article_id": article["id"], "amount": "2", "unit_price": "80.00",
         "tax_id": api.tax_id("UN81")},
        api.custom("10.00", text="Versand"),
        {"type": "KbPositionSubtotal", "text": "Zwischensumme"},
        {"type": "KbPositionDiscount", "text": "Rabatt", "is_percentual": True, "value": "10"},
        {"type": "KbPositionPagebreak"},
    ]
    response = api.invoice(positions)
    assert response.status_code == 201, response.text
    body = response.json()
    types = [p["type"] for p in body["positions"]]
    assert types == ["KbPositionText", "KbPositionArticle", "KbPositionCustom", "KbPositionSubtotal",
                     "KbPositionDiscount", "KbPositionPagebreak"]
    assert body["positions"][1]["article_id"] == article["id"] and body["positions"][1]["text"] == "Velo Helm"
    assert body["positions"][3]["value"] == "170.000000"
    assert body["total_gross"] == "170.000000" and body["total_net"] == "153.000000"
    assert body["total"] == "153.000000"


def test_only_active_sales_taxes_are_accepted_on_positions(sandbox):
    api = Api(sandbox)
    old = api.tax_id("UN77")
    control(sandbox, f"/companies/alpenblick/taxes/{old}", {"is_active": False})
    response = api.invoice([{"type": "KbPositionCustom", "amount": "1", "unit_price": "10", "tax_id": old}])
    assert response.status_code == 422
    assert set(response.json()) == {"error_code", "message"} and response.json()["error_code"] == 422
    pre_tax = next(t["id"] for t in api.get("/3.0/taxes", types="pre_tax").json())
    assert api.invoice([{"type": "KbPositionCustom", "amount": "1", "unit_price": "10",
                         "tax_id": pre_tax}]).status_code == 422


def test_money_travels_as_strings_and_more_than_six_decimals_is_refused(sandbox):
    api = Api(sandbox)
    assert api.invoice([api.custom("1.1234567")]).status_code == 422
    body = api.invoice([api.custom("1.123456")]).json()
    assert isinstance(body["total"], str) and body["positions"][0]["unit_price"] == "1.123456"


def test_document_nr_cannot_be_sent_with_automatic_numbering(sandbox):
    api = Api(sandbox)
    assert api.invoice([api.custom("5")], document_nr="X-1").status_code == 422
    numbers = [api.invoice([api.custom("5")]).json()["document_nr"] for _ in range(2)]
    assert numbers == ["RE-00001", "RE-00002"]
    control(sandbox, "/companies", {"name": "Manual AG", "use_automatic_enumeration": False})
    manual = Api(sandbox, "manual-ag")
    assert manual.invoice([manual.custom("5")]).status_code == 422
    assert manual.invoice([manual.custom("5")], document_nr="M-7").json()["document_nr"] == "M-7"


def test_search_by_api_reference_with_equal_versus_like(sandbox):
    api = Api(sandbox)
    contact_id = api.contact()["id"]
    for ref in ("dg1:t1:s1:12", "dg1:t1:s1:123"):
        assert api.invoice([api.custom("5")], contact_id=contact_id, api_reference=ref).status_code == 201
    exact = api.post("/2.0/kb_invoice/search", [{"field": "api_reference", "value": "dg1:t1:s1:12",
                                                 "criteria": "="}]).json()
    assert [i["api_reference"] for i in exact] == ["dg1:t1:s1:12"]
    like = api.post("/2.0/kb_invoice/search", [{"field": "api_reference", "value": "dg1:t1:s1:12"}]).json()
    assert len(like) == 2  # the default criteria is like
    assert "positions" not in exact[0]
    bad = api.post("/2.0/kb_invoice/search", [{"field": "network_link", "value": "x"}])
    assert bad.status_code == 400 and bad.json()["error_code"] == 400


def test_invoice_life_issue_partial_payment_paid(sandbox):
    api = Api(sandbox)
    inv = api.invoice([api.custom("100.00")]).json()
    assert inv["kb_item_status_id"] == 7 and inv["network_link"] == ""
    early = api.post(f"/2.0/kb_invoice/{inv['id']}/payment", {"value": "10.00", "date": "2024-03-02"})
    assert early.status_code == 422  # issue before paying
    assert api.post(f"/2.0/kb_invoice/{inv['id']}/issue").status_code == 200
    assert api.post(f"/2.0/kb_invoice/{inv['id']}/issue").status_code == 422
    paid = api.post(f"/2.0/kb_invoice/{inv['id']}/payment", {"value": "40.00", "date": "2024-03-02"})
    assert paid.status_code == 201 and paid.json()["title"] == "Received Payment"
    now = api.get(f"/2.0/kb_invoice/{inv['id']}").json()
    assert now["kb_item_status_id"] == 16 and now["total_remaining_payments"] == "60.000000"
    api.post(f"/2.0/kb_invoice/{inv['id']}/payment", {"value": "60.00"})
    now = api.get(f"/2.0/kb_invoice/{inv['id']}").json()
    assert now["kb_item_status_id"] == 9 and now["total_received_payments"] == "100.000000"
    assert len(api.get(f"/2.0/kb_invoice/{inv['id']}/payment").json()) == 2
    assert api.post(f"/2.0/kb_invoice/{inv['id']}/cancel").status_code == 422  # paid: manual handling


def test_cancel_needs_an_issued_invoice_and_is_final(sandbox):
    api = Api(sandbox)
    inv = api.invoice([api.custom("20.00")]).json()
    assert api.post(f"/2.0/kb_invoice/{inv['id']}/cancel").status_code == 422
    api.post(f"/2.0/kb_invoice/{inv['id']}/issue")
    assert api.post(f"/2.0/kb_invoice/{inv['id']}/cancel").status_code == 200
    assert api.get(f"/2.0/kb_invoice/{inv['id']}").json()["kb_item_status_id"] == 19
    assert api.post(f"/2.0/kb_invoice/{inv['id']}/revert_issue").status_code == 422


def test_send_requires_the_network_link_placeholder(sandbox):
    api = Api(sandbox)
    inv = api.invoice([api.custom("20.00")]).json()
    path = f"/2.0/kb_invoice/{inv['id']}/send"
    missing = api.post(path, {})
    assert missing.status_code == 422 and missing.json()["message"] == "missing data"
    no_link = api.post(path, {"recipient_email": "kundin@example.ch", "subject": "Rechnung",
                              "message": "Ihre Rechnung"})
    assert no_link.status_code == 422 and no_link.json()["message"] == "missing_network_placeholder"
    assert control(sandbox, "/companies/alpenblick/state", method="GET").json()["sent_emails"] == []
    ok = api.post(path, {"recipient_email": "kundin@example.ch", "subject": "Rechnung",
                         "message": "Ihre Rechnung: [Network Link]", "mark_as_open": True, "attach_pdf": True})
    assert ok.status_code == 200 and ok.json() == {"success": True}
    state = control(sandbox, "/companies/alpenblick/state", method="GET").json()
    mail = state["sent_emails"][0]
    assert mail["to"] == "kundin@example.ch" and "[Network Link]" not in mail["message"]
    assert "/office.bexio.com/share/invoice/" in mail["message"]
    assert state["invoices"][0]["kb_item_status_id"] == 8
    assert requests.get(mail["network_link"], timeout=5).status_code == 200


def test_header_edit_uses_post_and_put_fails_with_bare_422(sandbox):
    api = Api(sandbox)
    inv = api.invoice([api.custom("20.00")]).json()
    put = api.call("PUT", f"/2.0/kb_invoice/{inv['id']}", {"title": "x"})
    assert put.status_code == 422 and put.json()["message"].endswith("errors:.")
    assert api.post(f"/2.0/kb_invoice/{inv['id']}", {"title": "Neu", "total": "1"}).status_code == 422
    edited = api.post(f"/2.0/kb_invoice/{inv['id']}", {"title": "Neu"})
    assert edited.status_code == 200 and edited.json()["title"] == "Neu"


def test_position_endpoints_add_positions_to_a_draft(sandbox):
    api = Api(sandbox)
    inv = api.invoice([api.custom("20.00")]).json()
    added = api.post(f"/2.0/kb_invoice/{inv['id']}/kb_position_custom",
                     {"amount": "1", "unit_price": "5.00", "tax_id": api.tax_id("UN81"), "text": "Gebühr"})
    assert added.status_code == 201 and added.json()["type"] == "KbPositionCustom"
    assert api.get(f"/2.0/kb_invoice/{inv['id']}").json()["total"] == "25.000000"


def test_mark_paid_control_books_a_full_payment(sandbox):
    api = Api(sandbox)
    inv = api.invoice([api.custom("33.33")]).json()
    api.post(f"/2.0/kb_invoice/{inv['id']}/issue")
    response = control(sandbox, f"/companies/alpenblick/invoices/{inv['id']}/mark_paid")
    assert response.status_code == 200 and response.json()["kb_item_status_id"] == 9
    assert response.json()["payment"]["value"] == "33.350000"  # the rounded total
    status = api.post("/2.0/kb_invoice/search", [{"field": "kb_item_status_id", "value": "9", "criteria": "="}])
    assert [i["id"] for i in status.json()] == [inv["id"]]


def test_there_is_no_3_0_kb_invoice(sandbox):
    api = Api(sandbox)
    response = api.get("/3.0/kb_invoice")
    assert response.status_code == 404 and response.json() == {"error_code": 404, "message": "Page not found"}
    assert api.get("/2.0/currencies").status_code == 404 and api.get("/2.0/users").status_code == 404


def test_daily_pull_finds_invoices_updated_since_a_timestamp(sandbox):
    api = Api(sandbox)
    old = api.invoice([api.custom("10.00")]).json()
    requests.post(f"{sandbox.url}/_sandbox/clock", json={"advance": 600}, timeout=5)
    fresh = api.invoice([api.custom("10.00")]).json()
    assert fresh["updated_at"] > old["updated_at"]
    since = api.post("/2.0/kb_invoice/search", [{"field": "updated_at", "value": fresh["updated_at"],
                                                 "criteria": ">="}]).json()
    assert [i["id"] for i in since] == [fresh["id"]]


def test_more_than_150_positions_on_create_is_refused(sandbox):
    api = Api(sandbox)
    line = api.custom("1.00")
    assert api.invoice([line] * 151).status_code == 422
    assert api.invoice([line] * 150).status_code == 201


def test_sandbox_reset_forgets_bexio_documents(sandbox):
    api = Api(sandbox)
    api.invoice([api.custom("1.00")])
    requests.post(f"{sandbox.url}/_sandbox/reset", timeout=5)
    state = control(sandbox, "/companies/alpenblick/state", method="GET").json()
    assert state["invoices"] == [] and state["contacts"] == []
