"""The DG1 admin pages as an admin uses them, inside the sandbox DG1 admin panel, over real
HTTP: connecting Bexio returns to the DG1 admin with the outcome; the orders, products and
settings actions are htmx swaps of fragments (a pending sync polls its own row until it has
its result); nothing needs a cookie inside DG1's frame."""
from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import requests

from bridge.connectors.dg1.tenants import find_tenant
from bridge.extensions import db
from bridge.settings import get_section, save_section
from tests.connectors.bexio.live_support import state as bexio_state, submit
from tests.connectors.dg1.test_live import dg1, order_state, place_order, wait_delivered  # noqa: F401  (fixture)

from tests.e2e.test_dg1_bexio_settings import solo, taxes_by_rate  # noqa: F401  (fixture)

HX = {"HX-Request": "true"}


def frame_of(live, admin: requests.Response) -> tuple[requests.Response, str]:
    """The bridge page a DG1 admin page frames, opened as the iframe does: without any
    cookie (a fresh client each time). Returns it and its session token."""
    assert admin.status_code == 200, admin.text[:300]
    src = unescape(re.search(r'<iframe id="app" src="([^"]+)"', admin.text).group(1))
    inner = requests.get(src, timeout=10)
    assert inner.status_code == 200, inner.text[:300]
    assert "set-cookie" not in {k.lower() for k in inner.headers}
    return inner, parse_qs(urlsplit(inner.url).query)["s"][0]


def admin_page(live, page: str, site: str = "ch", tenant: str = "demo") -> tuple[requests.Response, str]:
    return frame_of(live, requests.get(f"{live.sandbox_url}/admin.dg1.ch/{tenant}/bexio/{page}?site={site}",
                                       timeout=10))


def csrf(page: requests.Response) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def post(live, path: str, page: requests.Response, token: str, **data) -> requests.Response:
    """An htmx form post from the framed page: session and CSRF tokens in the form, no cookie."""
    return requests.post(f"{live.app_url}{path}", data={"s": token, "csrf": csrf(page), **data}, headers=HX,
                         timeout=30)


def fragment(live, url: str) -> requests.Response:
    """What htmx fetches when a fragment polls itself (``hx-get``)."""
    response = requests.get(live.app_url + unescape(url) if url.startswith("/") else unescape(url), headers=HX,
                            timeout=30)
    assert response.status_code == 200, response.text[:300]
    return response


def words(html: str) -> str:
    return " ".join(html.split())


def polled_url(html: str) -> str | None:
    found = re.search(r'hx-get="([^"]+)" hx-trigger="every 2s"', html)
    return unescape(found.group(1)) if found else None


# --------------------------------------------------------------------------------------
# Connecting Bexio from the DG1 admin
# --------------------------------------------------------------------------------------


def _connect_link(live) -> str:
    page, _ = admin_page(live, "settings")
    return unescape(re.search(r'href="([^"]+)" target="_top">Authenticate with Bexio', page.text).group(1))


def test_after_bexio_consent_the_admin_is_back_in_the_dg1_settings_with_connected(dg1):  # noqa: F811
    tab = requests.Session()  # the DG1 admin's browser tab, which goes to Bexio and back
    consent = tab.get(_connect_link(dg1), timeout=10)
    assert "Allow" in consent.text
    back = submit(dg1, tab, consent, "seeland:101")
    assert back.url == f"{dg1.sandbox_url}/admin.dg1.ch/demo/bexio/settings?site=ch"  # inside DG1 again
    inner, _ = frame_of(dg1, back)
    assert "Bexio connected." in inner.text and "Connected to the Bexio company Seeland" in inner.text
    with dg1.app.app_context():
        assert find_tenant("demo").ledger_connections[0].health == "ok"


def test_a_refused_consent_comes_back_to_the_dg1_settings_with_the_reason(dg1):  # noqa: F811
    tab = requests.Session()
    consent = tab.get(_connect_link(dg1), timeout=10)
    back = submit(dg1, tab, consent, "seeland:101", action="deny")
    assert back.url == f"{dg1.sandbox_url}/admin.dg1.ch/demo/bexio/settings?site=ch"
    inner, _ = frame_of(dg1, back)
    assert "Bexio was not connected." in inner.text and "not approved in Bexio" in inner.text
    assert "access_denied" in inner.text or "Bexio said" in inner.text
    with dg1.app.app_context():
        assert find_tenant("demo").ledger_connections == []


def test_a_failed_token_exchange_comes_back_to_the_dg1_settings_with_the_reason(dg1):  # noqa: F811
    tab = requests.Session()
    consent = tab.get(_connect_link(dg1), timeout=10)
    secret = dg1.app.config["BEXIO_CLIENT_SECRET"]
    dg1.app.config["BEXIO_CLIENT_SECRET"] = "not-the-apps-secret"  # e.g. a mistyped secret
    try:
        back = submit(dg1, tab, consent, "seeland:101")
    finally:
        dg1.app.config["BEXIO_CLIENT_SECRET"] = secret
    assert back.url == f"{dg1.sandbox_url}/admin.dg1.ch/demo/bexio/settings?site=ch"
    inner, _ = frame_of(dg1, back)
    assert "Bexio was not connected." in inner.text and "invalid_client" in inner.text
    assert "BEXIO_CLIENT" in inner.text or "Start the connection again" in inner.text


def test_a_forged_connect_link_cannot_send_the_browser_elsewhere(dg1):  # noqa: F811
    link = _connect_link(dg1)
    forged = re.sub(r"sig=[^&]+", "sig=eyJpIjoxLCJyIjoiaHR0cHM6Ly9ldmlsLmV4YW1wbGUifQ", link)
    response = requests.get(forged, allow_redirects=False, timeout=10)
    assert response.status_code == 403 and "evil" not in response.headers.get("Location", "")


# --------------------------------------------------------------------------------------
# Orders
# --------------------------------------------------------------------------------------


def test_sync_order_swaps_its_row_shows_progress_then_the_result_and_link(shop):  # noqa: F811
    with shop.app.app_context():
        save_section(find_tenant("demo"), "general", {"automatic_sync": False})
        db.session.commit()
    order = place_order(shop)
    wait_delivered(shop, 1)
    shop.run_jobs()
    assert bexio_state(shop)["invoices"] == []  # automatic sync is off: only by hand
    page, token = admin_page(shop, "orders")
    assert f'id="order-{order["id"]}"' in page.text and "not synced" in page.text

    row = post(shop, f"/dg1/orders/{order['id']}/sync", page, token)
    assert row.status_code == 200
    assert row.text.lstrip().startswith(f'<tr id="order-{order["id"]}"')  # the row only, not the page
    assert "Syncing…" in row.text and "<html" not in row.text
    poll = polled_url(row.text)
    assert poll is not None  # the row asks for itself again while the sync is pending

    shop.run_jobs()
    done = fragment(shop, poll)
    (invoice,) = bexio_state(shop)["invoices"]
    assert polled_url(done.text) is None  # finished: no more polling
    assert "succeeded" in done.text and str(invoice["document_nr"]) in done.text
    assert re.search(r'<a href="[^"]+" target="_blank"', done.text)  # the link to the Bexio invoice


def test_sync_status_now_completes_paid_orders_and_shows_the_last_run(shop):  # noqa: F811
    order = place_order(shop, payments=[])
    wait_delivered(shop, 1)
    shop.run_jobs()
    (invoice,) = bexio_state(shop)["invoices"]
    shop.control(f"bexio/companies/seeland/invoices/{invoice['id']}/mark_paid")
    page, token = admin_page(shop, "orders")
    assert "Not run yet." in page.text and "This runs once per day." in page.text

    panel = post(shop, "/dg1/orders/status", page, token)
    assert panel.text.lstrip().startswith('<section id="status-sync"') and "Syncing…" in panel.text
    shop.run_jobs()
    assert order_state(shop, order["id"])["status"] == "COMPLETED"
    done = fragment(shop, polled_url(panel.text))
    assert "Last run" in done.text and "1 invoice(s) changed in Bexio" in words(done.text)
    assert done.headers.get("HX-Trigger") == "dg1-run-finished"  # the orders table reloads itself
    table = fragment(shop, re.search(r'hx-get="([^"]+)" hx-trigger="dg1-run-finished', page.text).group(1))
    assert "COMPLETED" in table.text


# --------------------------------------------------------------------------------------
# Products
# --------------------------------------------------------------------------------------


def test_product_and_stock_actions_swap_their_row_and_the_runs_panel(shop):  # noqa: F811
    page, token = admin_page(shop, "products")
    key = unescape(re.search(r'name="key" value="([^"]+)"', page.text).group(1))
    row = post(shop, "/dg1/products/sync", page, token, key=key, name="first")
    assert row.text.lstrip().startswith("<tr id=\"product-") and "Syncing…" in row.text
    shop.run_jobs()
    done = fragment(shop, polled_url(row.text))
    assert "Product: " in done.text and "succeeded" in done.text and "Sync stock from Bexio" in done.text

    runs = post(shop, "/dg1/products/sync", page, token)  # all products
    assert runs.text.lstrip().startswith('<section id="runs"') and polled_url(runs.text)
    shop.run_jobs()
    finished = fragment(shop, polled_url(runs.text))
    assert "Product sync: last run finished" in words(finished.text) and polled_url(finished.text) is None
    assert finished.headers.get("HX-Trigger") == "dg1-run-finished"


# --------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------


def _form_fields(html: str) -> dict[str, str]:
    """What the browser would submit: text/hidden inputs, checked boxes, selected options."""
    fields: dict[str, str] = {}
    for match in re.finditer(r"<input ([^>]+)>", html):
        attrs = dict(re.findall(r'([\w.-]+)="([^"]*)"', match.group(1)))
        if "name" not in attrs:
            continue
        if attrs.get("type") == "checkbox":
            if " checked" in match.group(1):
                fields[unescape(attrs["name"])] = "on"
        else:
            fields[unescape(attrs["name"])] = unescape(attrs.get("value", ""))
    for match in re.finditer(r'<select [^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', match.group(2))
        fields[unescape(match.group(1))] = unescape(chosen.group(1)) if chosen else ""
    return fields


def test_settings_save_in_place_and_refuse_in_place(solo):  # noqa: F811
    live, installation_id = solo
    page, _ = admin_page(live, "settings", tenant="solo")
    taxes = taxes_by_rate(live, installation_id)
    fields = {**_form_fields(page.text), "bexio.language": "de", "bexio.currency": "CHF",
              "mapping.shipping_tax": taxes["8.1"], "mapping.payment_fee_tax": taxes["8.1"],
              "tax_rate.0": "8.10", "tax_code.0": taxes["8.1"], "daily.sync_stock": "on"}
    saved = requests.post(f"{live.app_url}/dg1/settings", data=fields, headers=HX, timeout=30)
    assert saved.status_code == 200 and saved.text.lstrip().startswith('<form id="settings-form"')
    assert "Settings saved." in saved.text and "<html" not in saved.text
    with live.app.app_context():
        installation = find_tenant("solo")
        assert get_section(installation, "daily").sync_stock is True
        assert get_section(installation, "bexio").user_id is None  # "the user who connected"

    fields = {**_form_fields(saved.text), "tax_code.0": taxes["7.7"]}  # 8.10 % -> a 7.7 % tax
    refused = requests.post(f"{live.app_url}/dg1/settings", data=fields, headers=HX, timeout=30)
    assert refused.status_code == 200  # htmx swaps only 2xx answers: the refusal is the content
    assert refused.text.lstrip().startswith('<form id="settings-form"') and "Settings saved." not in refused.text
    assert "the tax value must be the same in DG1 and Bexio" in refused.text
    with live.app.app_context():
        assert get_section(find_tenant("solo"), "mapping").tax_rates == {"8.1": taxes["8.1"]}


def test_an_unmapped_rate_shows_on_the_order_with_a_link_to_the_tax_mapping(shop):  # noqa: F811
    with shop.app.app_context():
        installation = find_tenant("demo")
        mapping = get_section(installation, "mapping").model_dump(mode="json")
        save_section(installation, "mapping", {**mapping, "tax_rates": {}})
        db.session.commit()
    order = place_order(shop)
    wait_delivered(shop, 1)
    shop.run_jobs()
    page, token = admin_page(shop, "orders")
    row = re.search(rf'<tr id="order-{order["id"]}".*?</tr>', page.text, re.S).group(0)
    assert "failed" in row and "8.1 %" in row
    link = unescape(re.search(r'<a href="([^"]+)" class="fix-link">Open the setting</a>', row).group(1))
    assert link.endswith("#tax-mapping") and f"s={token}" in link
    settings = requests.get(shop.app_url + link.split("#")[0], timeout=10)
    assert settings.status_code == 200 and 'id="tax-mapping"' in settings.text
