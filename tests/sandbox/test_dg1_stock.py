"""``PUT /sites/{site}/stock``: absolute values, per-item results, shared products per site."""
from __future__ import annotations

from tests.sandbox.dg1_support import control, shop  # noqa: F401


def stock_of(sandbox, tenant: str = "t1") -> dict[tuple[str, str], int | None]:
    products = control(sandbox, "GET", f"/tenants/{tenant}/state")["products"]
    return {(p["site_id"], p["sku"] or p["id"]): p["stock_quantity"] for p in products}


def test_shared_sku_stock_changes_only_the_site_it_was_put_on(sandbox, shop):
    created = control(sandbox, "POST", "/tenants/t1/products",
                      {"sites": ["gross", "net"], "sku": "TEA", "stock_quantity": 5}, 201)["products"]
    assert created[0]["shared_product_id"] == created[1]["shared_product_id"] is not None
    result = shop.json("PUT", "/sites/gross/stock", json=[{"sku": "TEA", "quantity": 12}])["results"]
    assert result == [{"sku": "TEA", "product_id": created[0]["id"], "status": "ok", "stock_quantity": 12}]
    assert stock_of(sandbox) == {("gross", "TEA"): 12, ("net", "TEA"): 5}
    shop.json("PUT", "/sites/net/stock", json=[{"sku": "TEA", "quantity": 3}])
    assert stock_of(sandbox) == {("gross", "TEA"): 12, ("net", "TEA"): 3}


def test_products_without_sku_are_set_by_product_id_on_their_own_site(sandbox, shop):
    apron = control(sandbox, "POST", "/tenants/t1/products",
                    {"sites": ["gross", "net"], "name": "Apron", "stock_quantity": 8}, 201)["products"]
    on_gross, on_net = apron[0]["id"], apron[1]["id"]
    listed = shop.json("GET", "/sites/gross/products")["data"]
    assert [(p["id"], p["sku"]) for p in listed] == [(on_gross, None)]
    results = shop.json("PUT", "/sites/gross/stock", json=[
        {"product_id": on_gross, "quantity": 2}, {"product_id": on_net, "quantity": 99},
        {"product_id": "424242", "quantity": 1}])["results"]
    assert [r["status"] for r in results] == ["ok", "unknown_product", "unknown_product"]
    assert stock_of(sandbox) == {("gross", on_gross): 2, ("net", on_net): 8}


def test_per_item_results_for_unknown_and_unmanaged(sandbox, shop):
    control(sandbox, "POST", "/tenants/t1/products", {"site": "gross", "sku": "MUG", "stock_quantity": 1}, 201)
    control(sandbox, "POST", "/tenants/t1/products",
            {"site": "gross", "sku": "WRAP", "is_stock_managed": False}, 201)
    results = shop.json("PUT", "/sites/gross/stock", json=[
        {"sku": "MUG", "quantity": 0}, {"sku": "NOPE", "quantity": 1}, {"sku": "WRAP", "quantity": 4}])["results"]
    assert [(r["sku"], r["status"]) for r in results] == [
        ("MUG", "ok"), ("NOPE", "unknown_sku"), ("WRAP", "not_stock_managed")]
    assert stock_of(sandbox) == {("gross", "MUG"): 0, ("gross", "WRAP"): None}
    again = shop.json("PUT", "/sites/gross/stock", json=[{"sku": "MUG", "quantity": 0}])["results"]
    assert again[0]["status"] == "ok"  # absolute values: repeating is harmless


def test_malformed_stock_bodies_are_refused_whole(sandbox, shop):
    control(sandbox, "POST", "/tenants/t1/products", {"site": "gross", "sku": "MUG", "stock_quantity": 1}, 201)
    bad = [
        {"sku": "MUG"},
        [{"sku": "MUG", "quantity": 5}, {"sku": "MUG", "product_id": "1", "quantity": 1}],
        [{"sku": "MUG", "quantity": -1}],
        [{"sku": "MUG", "quantity": 1.5}],
        [{"sku": "MUG", "quantity": "3"}],
        [{"sku": "MUG", "quantity": 1}] * 101,
    ]
    for body in bad:
        response = shop("PUT", "/sites/gross/stock", json=body)
        assert response.status_code == 422, body
        assert response.headers["Content-Type"] == "application/problem+json"
    assert stock_of(sandbox) == {("gross", "MUG"): 1}


def test_sku_is_unique_within_a_site(sandbox, shop):
    control(sandbox, "POST", "/tenants/t1/products", {"site": "gross", "sku": "MUG"}, 201)
    control(sandbox, "POST", "/tenants/t1/products", {"site": "gross", "sku": "MUG"}, 409)
    control(sandbox, "POST", "/tenants/t1/products", {"site": "net", "sku": "MUG"}, 201)
