"""Contacts, articles and stock, taxes by date and the other reference endpoints."""
from __future__ import annotations

from .bexio_helpers import Api, control


def test_contact_create_requires_the_documented_fields(sandbox):
    api = Api(sandbox)
    uid = api.user_id()
    missing = api.post("/2.0/contact", {"contact_type_id": 2, "name_1": "Muster"})
    assert missing.status_code == 422 and missing.json()["error_code"] == 422
    no_street = api.post("/2.0/contact", {"contact_type_id": 1, "name_1": "Firma", "user_id": uid,
                                          "owner_id": uid, "house_number": "3"})
    assert no_street.status_code == 422
    contact = api.contact(address="ignored", country_id=1)
    assert contact["address"] == "Seestrasse 12" and contact["postcode"] == "8000"
    assert contact["nr"] and contact["updated_at"][4] == "-" and "T" not in contact["updated_at"]
    assert api.get(f"/2.0/contact/{contact['id']}").json()["mail"] == "kundin@example.ch"


def test_contact_search_by_mail_equal_and_like(sandbox):
    api = Api(sandbox)
    api.contact("anna@example.ch")
    api.contact("hanna@example.ch")
    exact = api.post("/2.0/contact/search", [{"field": "mail", "value": "anna@example.ch", "criteria": "="}])
    assert [c["mail"] for c in exact.json()] == ["anna@example.ch"]
    like = api.post("/2.0/contact/search", [{"field": "mail", "value": "anna@example.ch"}])
    assert len(like.json()) == 2
    both = api.post("/2.0/contact/search", [{"field": "mail", "value": "anna", "criteria": "like"},
                                            {"field": "name_2", "value": "Anna", "criteria": "="}])
    assert len(both.json()) == 2
    listed = api.post("/2.0/contact/search", [{"field": "mail", "value": ["anna@example.ch"],
                                               "criteria": "in"}])
    assert len(listed.json()) == 1
    too_long = api.post("/2.0/contact/search", [{"field": "mail", "value": "x" * 256, "criteria": "="}])
    assert too_long.status_code == 400


def test_deleting_a_contact_archives_it(sandbox):
    api = Api(sandbox)
    contact = api.contact()
    assert api.call("DELETE", f"/2.0/contact/{contact['id']}").status_code == 200
    assert api.get("/2.0/contact").json() == []
    assert len(api.get("/2.0/contact", show_archived="true").json()) == 1
    assert api.call("PATCH", f"/2.0/contact/{contact['id']}/restore").status_code == 200
    assert len(api.get("/2.0/contact").json()) == 1


def test_article_create_search_by_intern_code_and_update(sandbox):
    api = Api(sandbox)
    body = {"intern_code": "SKU-42", "intern_name": "Trinkflasche", "article_type_id": 1,
            "sale_price": "12.50", "tax_income_id": api.tax_id("UN81")}
    created = api.post("/2.0/article", body)
    assert created.status_code == 201 and created.json()["sale_price"] == "12.500000"
    api.post("/2.0/article", {**body, "intern_code": "SKU-420"})
    found = api.post("/2.0/article/search", [{"field": "intern_code", "value": "SKU-42", "criteria": "="}])
    assert [a["intern_code"] for a in found.json()] == ["SKU-42"]
    assert api.post("/2.0/article/search", [{"field": "sale_price", "value": "1"}]).status_code == 400
    article_id = created.json()["id"]
    updated = api.post(f"/2.0/article/{article_id}", {**body, "sale_price": "13.00"})
    assert updated.status_code == 200 and updated.json()["sale_price"] == "13.000000"
    assert api.post("/2.0/article", {"intern_code": "X"}).status_code == 422


def test_stock_fields_need_stock_edit_and_bookings_freeze_stock_nr(sandbox):
    limited = Api(sandbox, scope="openid article_edit kb_invoice_edit contact_edit accounting")
    body = {"intern_code": "SKU-1", "intern_name": "Helm", "article_type_id": 1, "is_stock": True,
            "stock_nr": 10}
    assert limited.post("/2.0/article", body).status_code == 403
    api = Api(sandbox)
    article = api.post("/2.0/article", {**body, "sale_price": "50.00"}).json()
    assert article["stock_nr"] == 10 and article["stock_available_nr"] == 10
    inv = api.invoice([{"type": "KbPositionArticle", "article_id": article["id"], "amount": "3",
                        "tax_id": api.tax_id("UN81")}]).json()
    api.post(f"/2.0/kb_invoice/{inv['id']}/issue")
    after = api.get(f"/2.0/article/{article['id']}").json()
    assert after["stock_nr"] == 7 and after["stock_available_nr"] == 7
    frozen = api.post(f"/2.0/article/{article['id']}", {**body, "stock_nr": 20})
    assert frozen.status_code == 422
    counted = control(sandbox, f"/companies/alpenblick/articles/{article['id']}/stock",
                      {"stock_nr": "25", "stock_reserved_nr": "5"})
    assert counted.status_code == 200
    assert api.get(f"/2.0/article/{article['id']}").json()["stock_available_nr"] == 20


def test_taxes_by_type_scope_and_date(sandbox):
    api = Api(sandbox)
    in_2023 = api.get("/3.0/taxes", types="sales_tax", scope="active", date="2023-12-31").json()
    in_2024 = api.get("/3.0/taxes", types="sales_tax", scope="active", date="2024-01-01").json()
    normal = lambda rows: [(t["code"], t["value"]) for t in rows if t["code"].startswith("UN")]  # noqa: E731
    assert normal(in_2023) == [("UN77", 7.7)]
    assert normal(in_2024) == [("UN81", 8.1)]
    assert all(t["type"] == "sales_tax" and t["is_active"] for t in in_2024)
    un81 = next(t for t in in_2024 if t["code"] == "UN81")
    assert un81["start_year"] == 2024 and un81["end_year"] is None and un81["digit"] == "303"
    assert un81["name"] == "lib.model.tax.ch.sales_8_1.name"
    control(sandbox, f"/companies/alpenblick/taxes/{un81['id']}", {"is_active": False})
    assert un81["id"] not in [t["id"] for t in api.get("/3.0/taxes", scope="active").json()]
    assert un81["id"] in [t["id"] for t in api.get("/3.0/taxes", scope="inactive").json()]


def test_reference_endpoints_on_their_versions(sandbox):
    api = Api(sandbox)
    assert api.get("/3.0/currencies").json()[0] == {"id": 1, "name": "CHF", "round_factor": 0.05}
    assert {l["iso_639_1"] for l in api.get("/2.0/language").json()} == {"de", "fr", "it", "en"}
    users = api.get("/3.0/users").json()
    assert {"id", "firstname", "lastname", "email", "is_superadmin", "is_accountant"} <= set(users[0])
    assert any(a["account_no"] == "3200" for a in api.get("/2.0/accounts").json())
    assert api.get("/3.0/banking/accounts").json()[0]["invoice_mode"] == "qr_invoice"
    assert api.get("/2.0/company_profile").json()[0]["name"] == "Alpenblick Handels AG"
    assert any(c["iso3166_alpha2"] == "CH" for c in api.get("/2.0/country").json())
    assert api.get("/2.0/kb_item_setting").json()["use_automatic_enumeration"] is True
