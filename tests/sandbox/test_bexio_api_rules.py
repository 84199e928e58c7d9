"""api.bexio.com rules every resource shares: errors, headers, scopes, paging, limits,
injected faults, tenant isolation."""
from __future__ import annotations

import requests

from .bexio_helpers import TIMEOUT, Api, control


def test_missing_or_bad_token_is_401_in_the_error_shape(sandbox):
    response = requests.get(f"{sandbox.url}/api.bexio.com/2.0/contact", timeout=TIMEOUT,
                            headers={"Accept": "application/json", "Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert set(response.json()) == {"error_code", "message"}


def test_a_missing_scope_is_403(sandbox):
    api = Api(sandbox, scope="openid contact_show")
    assert api.get("/2.0/contact").status_code == 200
    forbidden = api.post("/2.0/contact", {"contact_type_id": 1, "name_1": "X", "user_id": 1, "owner_id": 1})
    assert forbidden.status_code == 403 and forbidden.json()["error_code"] == 403
    assert api.get("/3.0/taxes").status_code == 403  # accounting scope
    assert api.get("/3.0/users/me").status_code == 200  # any valid token


def test_edit_scope_implies_show_scope(sandbox):
    api = Api(sandbox, scope="openid kb_invoice_edit")
    assert api.get("/2.0/kb_invoice").status_code == 200


def test_accept_and_content_length_rules(sandbox):
    api = Api(sandbox)
    html_only = requests.get(api.base + "/2.0/contact", timeout=TIMEOUT,
                             headers={"Accept": "text/html", "Authorization": f"Bearer {api.token}"})
    assert html_only.status_code == 415
    chunked = requests.post(api.base + "/2.0/contact", data=iter([b"{}"]), timeout=TIMEOUT,
                            headers={"Accept": "application/json", "Authorization": f"Bearer {api.token}",
                                     "Content-Type": "application/json"})
    assert chunked.status_code == 411  # a chunked body carries no Content-Length
    form = requests.post(api.base + "/2.0/contact", data="a=b", timeout=TIMEOUT,
                         headers={"Accept": "application/json", "Authorization": f"Bearer {api.token}",
                                  "Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415


def test_rate_limit_headers_count_down_and_429_carries_reset(sandbox):
    control(sandbox, "/settings", {"rate_limit": 3})
    api = Api(sandbox)
    first = api.get("/3.0/users/me")
    assert first.headers["RateLimit-Limit"] == "3" and first.headers["RateLimit-Remaining"] == "2"
    assert 0 < int(first.headers["RateLimit-Reset"]) <= 60
    api.get("/3.0/users/me"), api.get("/3.0/users/me")
    limited = api.get("/3.0/users/me")
    assert limited.status_code == 429 and limited.json()["error_code"] == 429
    assert limited.headers["RateLimit-Remaining"] == "0" and int(limited.headers["RateLimit-Reset"]) >= 1
    # another company has its own window
    assert Api(sandbox, "seeland").get("/3.0/users/me").status_code == 200
    requests.post(f"{sandbox.url}/_sandbox/clock", json={"advance": int(limited.headers["RateLimit-Reset"])},
                  timeout=TIMEOUT)
    again = api.get("/3.0/users/me")
    assert again.status_code == 200 and again.headers["RateLimit-Remaining"] == "2"


def test_injected_faults_answer_for_n_calls_then_stop(sandbox):
    api = Api(sandbox)
    control(sandbox, "/companies/alpenblick/faults", {"status": 503, "count": 2})
    codes = [api.get("/3.0/users/me").status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    control(sandbox, "/companies/alpenblick/faults", {"status": 429, "count": 1})
    limited = api.get("/3.0/users/me")
    assert limited.status_code == 429 and "RateLimit-Reset" in limited.headers
    assert api.get("/3.0/users/me").status_code == 200


def test_paging_limit_offset_and_the_2000_maximum(sandbox):
    api = Api(sandbox)
    uid = api.user_id()
    bulk = [{"contact_type_id": 1, "name_1": f"Firma {i:02d}", "user_id": uid, "owner_id": uid}
            for i in range(7)]
    assert api.post("/2.0/contact/_bulk_create", bulk).status_code == 201
    page1 = api.get("/2.0/contact", limit=3, offset=0).json()
    page3 = api.get("/2.0/contact", limit=3, offset=6).json()
    assert len(page1) == 3 and len(page3) == 1
    assert [c["name_1"] for c in api.get("/2.0/contact", order_by="name_1_desc", limit=1).json()] == ["Firma 06"]
    assert len(api.get("/2.0/contact").json()) == 7  # default limit 500
    assert api.get("/2.0/contact", limit=2000).status_code == 200
    too_many = api.get("/2.0/contact", limit=2001)
    assert too_many.status_code == 400 and too_many.json()["error_code"] == 400
    users = api.get("/3.0/users", limit=1)
    assert users.headers["X-Total-Count"] == "2" and users.headers["X-Limit"] == "1"
    assert users.headers["X-Offset"] == "0" and len(users.json()) == 1


def test_companies_are_isolated_and_ids_differ(sandbox):
    alpen, see = Api(sandbox, "alpenblick"), Api(sandbox, "seeland")
    contact = alpen.contact()
    assert see.get(f"/2.0/contact/{contact['id']}").status_code == 404
    assert alpen.tax_id("UN81") != see.tax_id("UN81")
    assert alpen.user_id() != see.user_id()
    created = control(sandbox, "/companies", {"name": "Neue Firma AG"})
    assert created.status_code == 201 and created.json()["company_id"] == "neue-firma-ag"
    assert Api(sandbox, "neue-firma-ag").get("/2.0/contact").json() == []
