"""DG1 REST API over HTTP: auth and tenant isolation, orders, PATCH, pagination, errors."""
from __future__ import annotations

import requests

from tests.sandbox.dg1_support import API, Api, control, make_tenant, receiver, shop  # noqa: F401


def problem(response: requests.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["type"].startswith("https://api.dg1.ch/problems/")
    assert body["title"] and body["instance"].startswith("/api/v1/")
    return body


def order(sandbox, tenant: str, site: str, **spec) -> dict:
    return control(sandbox, "POST", f"/tenants/{tenant}/orders", {"site": site, **spec}, expect=201)


# -- auth and isolation -------------------------------------------------------------------

def test_missing_or_wrong_key_is_401_problem(sandbox):
    anonymous = requests.get(f"{sandbox.url}/{API}/sites", timeout=5)
    assert problem(anonymous, 401)
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = requests.get(f"{sandbox.url}/{API}/sites", headers={"Authorization": "Bearer nope"}, timeout=5)
    problem(wrong, 401)
    basic = requests.get(f"{sandbox.url}/{API}/sites", auth=("dg1-demo-key-demo", ""), timeout=5)
    problem(basic, 401)


def test_a_key_sees_only_its_own_tenant(sandbox, shop):
    make_tenant(sandbox, "t2", [{"id": "gross"}, {"id": "other"}])
    control(sandbox, "POST", "/tenants/t1/products", {"site": "gross", "sku": "A-1", "name": "t1 thing"}, 201)
    control(sandbox, "POST", "/tenants/t2/products", {"site": "gross", "sku": "B-1", "name": "t2 thing"}, 201)
    t2 = Api(sandbox, "dg1-demo-key-t2")
    assert [s["id"] for s in shop.json("GET", "/sites")["data"]] == ["gross", "net"]
    assert [s["id"] for s in t2.json("GET", "/sites")["data"]] == ["gross", "other"]
    # Same site id in both tenants: each key reads its own products only.
    assert [p["sku"] for p in shop.json("GET", "/sites/gross/products")["data"]] == ["A-1"]
    assert [p["sku"] for p in t2.json("GET", "/sites/gross/products")["data"]] == ["B-1"]
    problem(shop("GET", "/sites/other/products"), 404)
    theirs = order(sandbox, "t2", "gross", items=[{"sku": "B-1", "quantity": 1}])
    problem(shop("GET", f"/sites/gross/orders/{theirs['id']}"), 404)
    problem(shop("PATCH", f"/sites/gross/orders/{theirs['id']}", json={"status": "COMPLETED"}), 404)
    assert control(sandbox, "GET", "/tenants/t2/state")["orders"][0]["status"] == "PAID"


# -- sites and orders -----------------------------------------------------------------------

def test_sites_carry_currency_and_tax_mode(shop):
    sites = {s["id"]: s for s in shop.json("GET", "/sites")["data"]}
    assert sites["net"] == {"id": "net", "name": "net", "domain": "net.t1.example.ch", "currency": "CHF",
                            "default_language": "fr", "prices_include_tax": False}
    assert sites["gross"]["prices_include_tax"] is True
    assert shop.json("GET", "/sites/net")["currency"] == "CHF"


def test_full_order_on_a_net_site_has_decimal_string_money(sandbox, shop):
    control(sandbox, "POST", "/tenants/t1/products",
            {"site": "net", "sku": "TEA", "price": "9.80", "tax_rate": "2.60"}, 201)
    placed = order(sandbox, "t1", "net", items=[{"sku": "TEA", "quantity": 10, "discount_amount": "1.00"}],
                   customer={"company": "Alpenblick GmbH"},
                   payments=[{"method": "invoice", "status": "pending", "fee_amount": "2.00"}])
    body = shop.json("GET", f"/sites/net/orders/{placed['id']}")
    assert body["status"] == "PLACED" and body["placed_at"] and body["prices_include_tax"] is False
    assert body["language"] == "fr" and body["customer"]["company"] == "Alpenblick GmbH"
    assert body["billing_address"]["country_code"] == "CH"
    line = body["line_items"][0]
    assert (line["sku"], line["quantity"], line["unit_price"], line["tax_rate"],
            line["discount_amount"], line["line_total"]) == ("TEA", 10, "9.80", "2.60", "1.00", "97.00")
    assert body["shipments"][0]["price"] == "7.00" and body["shipments"][0]["tax_rate"] == "8.10"
    payment = body["payments"][0]
    assert (payment["fee_amount"], payment["fee_tax_rate"], payment["status"]) == ("2.00", "8.10", "pending")
    totals = body["totals"]
    # net site: 97.00 @2.6% -> 2.52; 7.00 + 2.00 @8.1% -> 0.73; grand = 106.00 + 3.25
    assert totals["taxes"] == [{"rate": "2.60", "taxable_amount": "97.00", "amount": "2.52"},
                               {"rate": "8.10", "taxable_amount": "9.00", "amount": "0.73"}]
    assert (totals["subtotal"], totals["shipping_total"], totals["payment_fee_total"],
            totals["discount_total"], totals["tax_total"], totals["grand_total"]) == (
        "97.00", "7.00", "2.00", "1.00", "3.25", "109.25")
    assert payment["amount"] == "109.25"


def test_gross_site_tax_is_contained_in_the_prices(sandbox, shop):
    control(sandbox, "POST", "/tenants/t1/products", {"site": "gross", "sku": "MUG", "price": "19.90"}, 201)
    placed = order(sandbox, "t1", "gross", items=[{"sku": "MUG", "quantity": 2}])
    totals = shop.json("GET", f"/sites/gross/orders/{placed['id']}")["totals"]
    assert totals["grand_total"] == "46.80"  # 39.80 + 7.00 shipping, tax inside
    assert totals["tax_total"] == "3.51"
    product = shop.json("GET", "/sites/gross/products")["data"][0]
    assert (product["price_gross"], product["price_net"], product["tax_rate"]) == ("19.90", "18.41", "8.10")


def test_reconcile_lists_orders_updated_since_with_status_filter(sandbox, shop):
    control(sandbox, "POST", "/tenants/t1/products", {"site": "gross", "sku": "X"}, 201)
    old = order(sandbox, "t1", "gross", items=[{"sku": "X", "quantity": 1}])
    sandbox.host.clock.advance(3600)
    since = sandbox.host.clock.now().isoformat().replace("+00:00", "Z")
    sandbox.host.clock.advance(1)
    new = order(sandbox, "t1", "gross", items=[{"sku": "X", "quantity": 1}])
    pending = order(sandbox, "t1", "gross", items=[{"sku": "X", "quantity": 1}], place=False)
    recent = shop.json("GET", "/sites/gross/orders", params={"updated_since": since})["data"]
    assert [o["id"] for o in recent] == [new["id"], pending["id"]]
    paid = shop.json("GET", "/sites/gross/orders", params={"status": "PAID"})["data"]
    assert [o["id"] for o in paid] == [old["id"], new["id"]]
    problem(shop("GET", "/sites/gross/orders", params={"updated_since": "yesterday"}), 400)
    problem(shop("GET", "/sites/gross/orders", params={"status": "SHIPPING"}), 400)


# -- PATCH ---------------------------------------------------------------------------------------

def test_patch_sets_status_and_external_refs_and_same_status_is_a_no_op(sandbox, shop, receiver):
    control(sandbox, "POST", "/tenants/t1/products", {"site": "gross", "sku": "X"}, 201)
    placed = order(sandbox, "t1", "gross", items=[{"sku": "X", "quantity": 1}])
    receiver.wait(1)
    path = f"/sites/gross/orders/{placed['id']}"
    body = {"status": "COMPLETED", "external_refs": {"bexio_invoice_id": "42", "bexio_document_nr": "RE-00042"}}
    done = shop.json("PATCH", path, json=body)
    assert done["status"] == "COMPLETED" and done["completed_at"]
    assert done["external_refs"] == body["external_refs"]
    hits = receiver.wait(2)
    assert hits[1].headers["X-Dg1-Topic"] == "order.updated"
    again = shop("PATCH", path, json={"status": "COMPLETED"})
    assert again.status_code == 200 and again.json()["updated_at"] == done["updated_at"]
    state = control(sandbox, "GET", "/tenants/t1/state")["orders"][0]
    assert state["status"] == "COMPLETED" and state["external_refs"]["bexio_document_nr"] == "RE-00042"
    refs = shop.json("PATCH", path, json={"external_refs": {"bexio_document_nr": None, "note": "x"}})
    assert refs["external_refs"] == {"bexio_invoice_id": "42", "note": "x"}
    events = control(sandbox, "GET", "/deliveries?tenant=t1")["deliveries"]
    assert [d["topic"] for d in events] == ["order.placed", "order.updated"]  # no-ops fire nothing


def test_patch_refuses_bad_transitions_and_bodies(sandbox, shop):
    control(sandbox, "POST", "/tenants/t1/products", {"site": "gross", "sku": "X"}, 201)
    pending = order(sandbox, "t1", "gross", items=[{"sku": "X", "quantity": 1}], place=False)
    path = f"/sites/gross/orders/{pending['id']}"
    refused = problem(shop("PATCH", path, json={"status": "COMPLETED"}), 409)
    assert refused["current_status"] == "PENDING" and "COMPLETED" not in refused["allowed"]
    problem(shop("PATCH", path, json={"status": "DONE"}), 422)
    problem(shop("PATCH", path, json={"status": "CANCELLED", "total": "1.00"}), 422)
    problem(shop("PATCH", path, json={"external_refs": {"n": 5}}), 422)
    problem(shop("PATCH", path, data="status=COMPLETED",
                 headers={"Content-Type": "application/x-www-form-urlencoded"}), 415)
    problem(shop("PATCH", path, data="{", headers={"Content-Type": "application/json"}), 400)
    assert shop.json("PATCH", path, json={"status": "CANCELLED"})["status"] == "CANCELLED"
    problem(shop("PATCH", path, json={"status": "PAID"}), 409)


def test_idempotency_key_replays_the_first_answer(sandbox, shop):
    control(sandbox, "POST", "/tenants/t1/products", {"site": "gross", "sku": "X"}, 201)
    placed = order(sandbox, "t1", "gross", items=[{"sku": "X", "quantity": 1}])
    path = f"/sites/gross/orders/{placed['id']}"
    headers = {"Idempotency-Key": "k-1"}
    first = shop("PATCH", path, json={"status": "SHIPPED"}, headers=headers)
    assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers
    shop.json("PATCH", path, json={"status": "COMPLETED"})
    replay = shop("PATCH", path, json={"status": "SHIPPED"}, headers=headers)
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    problem(shop("PATCH", path, json={"status": "CANCELLED"}, headers=headers), 422)
    sandbox.host.clock.advance(24 * 3600 + 1)  # remembered 24 h, then the key is free again
    problem(shop("PATCH", path, json={"status": "SHIPPED"}, headers=headers), 409)


# -- pagination and errors ---------------------------------------------------------------------

def test_cursor_pagination_walks_every_product_once(sandbox, shop):
    for n in range(7):
        control(sandbox, "POST", "/tenants/t1/products", {"site": "gross", "sku": f"P-{n}"}, 201)
    seen, cursor, pages = [], None, 0
    while True:
        body = shop.json("GET", "/sites/gross/products", params={"limit": 3, "cursor": cursor or ""})
        seen += [p["sku"] for p in body["data"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and seen == [f"P-{n}" for n in range(7)]
    assert [p["sku"] for p in shop.json("GET", "/sites/gross/products", params={"sku": "P-3"})["data"]] == ["P-3"]
    problem(shop("GET", "/sites/gross/products", params={"cursor": "garbage!"}), 400)
    problem(shop("GET", "/sites/gross/products", params={"limit": "0"}), 400)
    problem(shop("GET", "/sites/gross/products", params={"limit": "101"}), 400)


def test_products_updated_since_sees_stock_changes(sandbox, shop):
    for n in range(3):
        control(sandbox, "POST", "/tenants/t1/products", {"site": "gross", "sku": f"P-{n}"}, 201)
    sandbox.host.clock.advance(60)
    since = sandbox.host.clock.now().isoformat()
    sandbox.host.clock.advance(1)
    shop.json("PUT", "/sites/gross/stock", json=[{"sku": "P-1", "quantity": 9}])
    changed = shop.json("GET", "/sites/gross/products", params={"updated_since": since})["data"]
    assert [(p["sku"], p["stock_quantity"]) for p in changed] == [("P-1", 9)]


def test_unknown_paths_and_methods_are_problems(shop):
    problem(shop("GET", "/nope"), 404)
    problem(shop("GET", "/sites/nope/orders"), 404)
    problem(shop("GET", "/sites/gross/orders/999"), 404)
    not_allowed = problem(shop("DELETE", "/sites"), 405)
    assert not_allowed["detail"]
    assert shop("POST", "/sites/gross/stock", json=[]).headers["Allow"] == "PUT"


# -- limits ----------------------------------------------------------------------------------

def test_rate_limit_is_per_tenant_with_retry_after(sandbox, shop):
    make_tenant(sandbox, "t2")
    statuses = [shop.raw("GET", "/sites") for _ in range(25)]
    limited = [r for r in statuses if r.status_code == 429]
    assert [r.status_code for r in statuses[:10]] == [200] * 10 and limited
    body = problem(limited[0], 429)
    assert int(limited[0].headers["Retry-After"]) >= 1 and "10" in body["detail"]
    assert Api(sandbox, "dg1-demo-key-t2").raw("GET", "/sites").status_code == 200
    sandbox.host.clock.advance(1)
    assert shop.raw("GET", "/sites").status_code == 200


def test_injected_outage_answers_503_then_recovers(sandbox, shop):
    control(sandbox, "POST", "/fail", {"count": 2})
    for _ in range(2):
        outage = shop.raw("GET", "/sites")
        problem(outage, 503)
        assert outage.headers["Retry-After"] == "1"
    assert shop.raw("GET", "/sites").status_code == 200


def test_limits_are_listed(sandbox):
    limits = requests.get(f"{sandbox.url}/_sandbox/", timeout=5).json()["limits"]["dg1"]
    assert any("10 requests/s per tenant" in line for line in limits)


def test_both_demo_shops_start_with_products_and_orders_and_no_event_queued(sandbox):
    """What `make run` shows in the DG1 admin before anything is synced (the tour's shop is alpen)."""
    for tenant in ("demo", "alpen"):
        state = requests.get(f"{sandbox.url}/_sandbox/dg1/tenants/{tenant}/state", timeout=10).json()
        assert len(state["products"]) >= 2 and len(state["orders"]) >= 2, tenant
    alpen = requests.get(f"{sandbox.url}/_sandbox/dg1/tenants/alpen/state", timeout=10).json()
    assert "SHIPPED" in {o["status"] for o in alpen["orders"]}
    assert requests.get(f"{sandbox.url}/_sandbox/dg1/deliveries", timeout=10).json()["deliveries"] == []
