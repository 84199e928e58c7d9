"""The admin launch and the framed pages: signature, window, framing, CSRF, isolation."""
from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import responses
from sqlalchemy import select

from bridge.connectors.dg1 import signing
from bridge.extensions import db
from bridge.models import Link, WorkItem

from .conftest import ADMIN_ORIGIN, EXAMPLE_TS, LAUNCH_SECRET, SITES, sample_order

# docs/dg1.md section 6, worked example.
EXAMPLE = {"tenant": "demo", "site": "ch", "user": "admin", "ts": str(EXAMPLE_TS), "page": "settings",
           "sig": "051aaa3a42122f1acb67879a8d2c374c8688be8ef07f9e6e2f678f0de1ca21da"}


def launch_url(page: str = "orders", ts: int = EXAMPLE_TS, secret: str = LAUNCH_SECRET, **override) -> str:
    args = {"tenant": "demo", "site": "ch", "user": "admin", "ts": str(ts), "page": page, **override}
    args["sig"] = signing.launch_signature(secret, args["tenant"], args["site"], args["user"], args["ts"], args["page"])
    return "/dg1/launch?" + urlencode(args)


def session_token(client, page: str = "orders") -> str:
    response = client.get(launch_url(page))
    assert response.status_code == 302, response.text
    return parse_qs(urlsplit(response.headers["Location"]).query)["s"][0]


def assert_framed_only_by_the_admin(response):
    assert response.headers["Content-Security-Policy"] == f"frame-ancestors {ADMIN_ORIGIN}"
    assert "X-Frame-Options" not in response.headers


@responses.activate
def test_the_documented_launch_opens_the_settings_page_framed_only_by_dg1_admin(client, tenant, clock, api):
    responses.get(f"{api}/sites", json={"data": SITES, "next_cursor": None})
    launched = client.get("/dg1/launch?" + urlencode(EXAMPLE))
    assert launched.status_code == 302
    assert_framed_only_by_the_admin(launched)
    page = client.get(launched.headers["Location"])
    assert page.status_code == 200
    assert_framed_only_by_the_admin(page)
    assert "Demo Shop Pro (B2B)" in page.text and "/hooks/dg1/demo" in page.text
    assert "set-cookie" not in {k.lower() for k in page.headers.keys()}  # no third-party cookie needed


def test_a_forged_launch_is_refused(client, tenant, clock):
    forged = client.get(launch_url(secret="guessed"))
    assert forged.status_code == 401
    assert_framed_only_by_the_admin(forged)
    # Signed for site ch, used for site pro: the signature covers every value.
    tampered = launch_url().replace("site=ch", "site=pro")
    assert client.get(tampered).status_code == 401


def test_an_expired_or_replayed_launch_is_refused(client, tenant, clock):
    clock.t = EXAMPLE_TS + 301
    response = client.get(launch_url())
    assert response.status_code == 401 and "expired" in response.text


def test_pages_need_a_valid_session(client, tenant, clock):
    assert client.get("/dg1/orders").status_code == 401
    assert client.get("/dg1/orders?s=forged.token").status_code == 401
    refused = client.get("/dg1/orders")
    assert refused.headers["Content-Security-Policy"] == "frame-ancestors 'none'"


@responses.activate
def test_orders_page_lists_dg1_orders_with_their_bexio_link(client, tenant, clock, api):
    synced = sample_order(id="5", number="1005", site_id="ch", placed_at="2025-05-01T09:00:00Z",
                          external_refs={"bexio_invoice_id": "42", "bexio_document_nr": "RE-00042",
                                         "bexio_invoice_url": "https://office.bexio.com/index.php/kb_invoice/show/id/42"})
    linked = sample_order(id="6", number="1006", site_id="ch")
    fresh = sample_order(id="7", number="1007", site_id="ch")
    responses.get(f"{api}/sites/ch/orders", json={"data": [synced, linked, fresh], "next_cursor": None})
    db.session.add(Link(installation_id=tenant.id, kind="invoice", platform_id="ch:6", ledger="bexio",
                        ledger_org="c1", ledger_id="43", ledger_number="RE-00043"))
    db.session.commit()
    page = client.get(f"/dg1/orders?s={session_token(client)}")
    assert page.status_code == 200
    assert_framed_only_by_the_admin(page)
    assert 'href="https://office.bexio.com/index.php/kb_invoice/show/id/42"' in page.text
    assert "RE-00042" in page.text and "RE-00043" in page.text and "not synced" in page.text
    assert "Café Alpenblick GmbH" in page.text
    assert "updated_since" in responses.calls[0].request.url


@responses.activate
def test_sync_order_needs_the_forms_csrf_token_and_queues_the_invoice_flow(client, tenant, clock, api):
    token = session_token(client)
    refused = client.post("/dg1/orders/5/sync", data={"s": token, "csrf": "wrong"})
    assert refused.status_code == 400
    assert db.session.scalars(select(WorkItem)).all() == []
    responses.get(f"{api}/sites/ch/orders", json={"data": [sample_order(id="5", site_id="ch")], "next_cursor": None})
    page = client.get(f"/dg1/orders?s={token}")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    done = client.post("/dg1/orders/5/sync", data={"s": token, "csrf": csrf})
    assert done.status_code == 302 and "being+synced" in done.headers["Location"]
    (item,) = db.session.scalars(select(WorkItem)).all()
    assert (item.flow, item.object_key, item.state, item.options["manual"]) == (
        "invoice_to_ledger", "order:ch:5", "queued", True)


@responses.activate
def test_products_page_warns_about_skus_on_several_sites(client, tenant, clock, api):
    responses.get(f"{api}/sites", json={"data": SITES, "next_cursor": None})
    tea = {"id": "3", "site_id": "ch", "sku": "TEA-100", "name": "Mountain tea", "price_gross": "12.50",
           "price_net": "12.18", "currency": "CHF", "is_stock_managed": True, "stock_quantity": 25}
    mug = {**tea, "id": "1", "sku": "MUG-01", "name": "Mug"}
    responses.get(f"{api}/sites/ch/products", json={"data": [tea, mug], "next_cursor": None})
    responses.get(f"{api}/sites/pro/products", json={"data": [{**tea, "id": "4", "site_id": "pro"}],
                                                     "next_cursor": None})
    page = client.get(f"/dg1/products?s={session_token(client, 'products')}")
    assert page.status_code == 200
    assert "The same SKU is used on several sites" in page.text
    assert "TEA-100: sites ch, pro" in page.text and "also on pro" in page.text
    assert "MUG-01: sites" not in page.text


@responses.activate
def test_a_dg1_error_is_shown_in_words_on_the_page(client, tenant, clock, api):
    responses.get(f"{api}/sites/ch/orders", status=401, content_type="application/problem+json",
                  json={"type": "https://api.dg1.ch/problems/unauthorized", "title": "Unauthorized",
                        "status": 401, "detail": "unknown API key"})
    page = client.get(f"/dg1/orders?s={session_token(client)}")
    assert page.status_code == 200
    assert "DG1 refused the API key of this shop." in page.text and "unknown API key" in page.text


def test_a_session_of_one_tenant_never_opens_another(client, tenant, clock):
    from bridge.connectors.dg1 import session as admin_session
    from bridge.connectors.dg1.tenants import add_tenant

    other = add_tenant("other", api_key="k-other", webhook_secret="whs-other", launch_secret="ls-other")
    # A token naming tenant "demo" but the other installation's id is not accepted.
    forged = admin_session.start(other.id, "demo", "ch", "admin")
    assert client.get(f"/dg1/orders?s={forged.token}").status_code == 401


@responses.activate
def test_the_run_buttons_queue_all_products_or_all_stock_and_say_so(client, tenant, clock, api):
    """The products page's "Sync all products" and "Read all stock" (forms without htmx)."""
    responses.get(f"{api}/sites", json={"data": SITES, "next_cursor": None})
    for site in SITES:
        responses.get(f"{api}/sites/{site['id']}/products", json={"data": [], "next_cursor": None})
    token = session_token(client, "products")
    page = client.get(f"/dg1/products?s={token}")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    products = client.post("/dg1/products/sync", data={"s": token, "csrf": csrf})
    stock = client.post("/dg1/products/stock", data={"s": token, "csrf": csrf})
    notices = [parse_qs(urlsplit(r.headers["Location"]).query)["message"][0] for r in (products, stock)]
    assert notices == ["All products are being synced to Bexio.", "Stock of all synced products is being read from Bexio."]
    assert sorted((i.flow, i.object_key) for i in db.session.scalars(select(WorkItem))) == [
        ("product_to_ledger", "products:all"), ("stock_from_ledger", "stock:all")]
