"""A DG1 order's invoice URL is DG1's data: anyone with the tenant's API key can set it.
Over real HTTP against the sandbox DG1, a ``javascript:`` URL set through DG1's API shows as
text on the orders page, its htmx table and the order's row; an http(s) one stays a link."""
from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import requests

from bridge.connectors.dg1.tenants import client_for, find_tenant
from tests.connectors.dg1.test_live import dg1, place_order  # noqa: F401  (fixture)

SCRIPT = "javascript:alert(document.domain)"


def _orders_frame(live) -> tuple[str, str]:
    """The orders page as the DG1 admin menu frames it, and its session token."""
    menu = requests.get(f"{live.sandbox_url}/admin.dg1.ch/demo/bexio/orders?site=ch", timeout=10)
    src = unescape(re.search(r'<iframe[^>]*src="([^"]+)"', menu.text).group(1))
    page = requests.get(src, timeout=10)
    assert page.status_code == 200, page.text[:300]
    return page.text, parse_qs(urlsplit(page.url).query)["s"][0]


def _ledger_cell(html: str, order_id: str) -> str:
    row = re.search(rf'<tr id="order-{order_id}".*?</tr>', html, re.S)
    assert row, html[:500]
    return re.search(r'<td class="ledger-link">(.*?)</td>', row.group(0), re.S).group(1)


def _set_refs(live, order_id: str, url: str) -> None:
    """What a holder of the tenant's DG1 API key can do: PATCH the order's external_refs."""
    with live.app.app_context():
        client_for(find_tenant("demo")).patch_order("ch", order_id, external_refs={
            "bexio_invoice_id": "42", "bexio_document_nr": "RE-00042", "bexio_invoice_url": url})


def test_a_javascript_invoice_url_set_through_dg1s_api_is_text_not_a_link(dg1):  # noqa: F811
    order = place_order(dg1)
    _set_refs(dg1, order["id"], SCRIPT)
    page, token = _orders_frame(dg1)
    table = requests.get(f"{dg1.app_url}/dg1/orders/table", params={"s": token}, headers={"HX-Request": "true"},
                         timeout=10)
    row = requests.get(f"{dg1.app_url}/dg1/orders/{order['id']}/row", params={"s": token},
                       headers={"HX-Request": "true"}, timeout=10)
    for where, html in (("/dg1/orders", page), ("/dg1/orders/table", table.text), ("the row", row.text)):
        cell = _ledger_cell(html, order["id"])
        assert "RE-00042" in cell, where
        assert "<a" not in cell and "javascript:" not in html.lower(), (where, cell)


def test_an_https_invoice_url_stays_a_link(dg1):  # noqa: F811
    order = place_order(dg1)
    _set_refs(dg1, order["id"], "https://office.bexio.com/index.php/kb_invoice/show/id/42")
    page, _ = _orders_frame(dg1)
    assert 'href="https://office.bexio.com/index.php/kb_invoice/show/id/42"' in _ledger_cell(page, order["id"])
