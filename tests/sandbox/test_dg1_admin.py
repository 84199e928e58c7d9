"""The DG1 admin panel: Bexio menu frames the app via a signed launch URL; order actions."""
from __future__ import annotations

import hashlib
import hmac
import re
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import requests

from tests.sandbox.dg1_support import control, make_tenant, receiver  # noqa: F401


def launch_sig(secret: str, tenant: str, site: str, user: str, ts: str, page: str, lang: str = "") -> str:
    """Written from the contract: hex HMAC-SHA256 of "tenant|site|user|ts|page", "|lang" appended
    when the link names the admin's language."""
    message = (f"{tenant}|{site}|{user}|{ts}|{page}" + (f"|{lang}" if lang else "")).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def iframe_src(html: str) -> str:
    return unescape(re.search(r'<iframe[^>]*src="([^"]+)"', html).group(1))


def test_bexio_menu_frames_the_app_with_a_signed_launch_url(sandbox):
    for page in ("settings", "orders", "products"):
        html = requests.get(f"{sandbox.url}/admin.dg1.ch/demo/bexio/{page}?site=pro", timeout=5).text
        url = urlsplit(iframe_src(html))
        assert f"{url.scheme}://{url.netloc}" == sandbox.host.app_url and url.path == "/dg1/launch"
        params = dict(parse_qsl(url.query))
        assert list(params) == ["tenant", "site", "user", "ts", "page", "lang", "sig"]
        assert (params["tenant"], params["site"], params["page"], params["lang"]) == ("demo", "pro", page, "en")
        assert abs(int(params["ts"]) - sandbox.host.clock.time()) < 30
        assert params["sig"] == launch_sig("dg1-demo-launch-demo", "demo", "pro", params["user"],
                                           params["ts"], page, "en")
        assert params["sig"] != launch_sig("dg1-demo-launch-other", "demo", "pro", params["user"],
                                           params["ts"], page, "en")
    german = requests.get(f"{sandbox.url}/admin.dg1.ch/demo/bexio/orders?site=pro&lang=de", timeout=5).text
    params = dict(parse_qsl(urlsplit(iframe_src(german)).query))
    assert params["lang"] == "de" and params["sig"] == launch_sig(
        "dg1-demo-launch-demo", "demo", "pro", params["user"], params["ts"], "orders", "de")
    menu = requests.get(f"{sandbox.url}/admin.dg1.ch/demo/", timeout=5).text
    assert "Bexio integration" in menu and "/admin.dg1.ch/demo/bexio/settings" in menu


def test_control_mints_the_same_launch_url_for_scripts(sandbox):
    make_tenant(sandbox, "t1")
    body = control(sandbox, "GET", "/launch-url?tenant=t1&site=main&page=orders&user=u-7")
    params = dict(parse_qsl(urlsplit(body["url"]).query))
    assert params["user"] == "u-7" and params["ts"] == str(body["ts"])
    assert params["sig"] == launch_sig("dg1-demo-launch-t1", "t1", "main", "u-7", params["ts"], "orders")
    assert requests.get(f"{sandbox.url}/_sandbox/dg1/launch-url?tenant=t1&page=admin", timeout=5).status_code == 400


def test_complete_checkout_and_cancel_from_the_admin_panel(sandbox, receiver):
    pending = next(o for o in control(sandbox, "GET", "/tenants/demo/state")["orders"]
                   if o["status"] == "PENDING")
    base = f"{sandbox.url}/admin.dg1.ch/demo/orders/{pending['id']}"
    page = requests.get(f"{base}?site=ch", timeout=5).text
    assert "Complete checkout" in page
    assert requests.post(f"{base}/place?site=ch", timeout=5).status_code == 200  # redirected to detail
    hit = receiver.wait(1)[0]
    assert hit.headers["X-Dg1-Topic"] == "order.placed" and hit.headers["X-Dg1-Site"] == "ch"
    requests.post(f"{base}/cancel?site=ch", timeout=5)
    assert receiver.wait(2)[1].headers["X-Dg1-Topic"] == "order.updated"
    state = {o["id"]: o for o in control(sandbox, "GET", "/tenants/demo/state")["orders"]}
    assert state[pending["id"]]["status"] == "CANCELLED"
    deliveries = requests.get(f"{sandbox.url}/admin.dg1.ch/demo/webhooks", timeout=5).text
    assert deliveries.count("Resend") == 2


def test_admin_pages_render_for_the_demo_tenant(sandbox):
    for path in ("", "demo/", "demo/orders?site=pro", "demo/products?site=eu", "demo/webhooks"):
        assert requests.get(f"{sandbox.url}/admin.dg1.ch/{path}", timeout=5).status_code == 200, path
    products = requests.get(f"{sandbox.url}/admin.dg1.ch/demo/products?site=ch", timeout=5).text
    assert "TEA-100" in products and "not managed" in products
    assert requests.get(f"{sandbox.url}/admin.dg1.ch/nobody/", timeout=5).status_code == 404


def test_add_to_cart_makes_a_pending_order_without_an_event(sandbox, receiver):
    state = control(sandbox, "GET", "/tenants/demo/state")
    before = {o["id"] for o in state["orders"]}
    mug = next(p["id"] for p in state["products"] if p["sku"] == "MUG-01-EU")
    response = requests.post(f"{sandbox.url}/admin.dg1.ch/demo/orders?site=eu",
                             data={"product_id": mug, "quantity": "3"}, timeout=5)
    assert response.status_code == 200 and "Complete checkout" in response.text
    new = [o for o in control(sandbox, "GET", "/tenants/demo/state")["orders"] if o["id"] not in before]
    assert [(o["site_id"], o["status"], o["currency"], o["line_items"][0]["line_total"]) for o in new] == [
        ("eu", "PENDING", "EUR", "54.00")]
    assert control(sandbox, "GET", "/deliveries?tenant=demo")["deliveries"] == []
