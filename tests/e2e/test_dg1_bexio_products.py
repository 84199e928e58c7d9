"""DG1 products -> Bexio articles and Bexio stock -> DG1, through the flows, over real HTTP
against the sandboxes: the seed's multi-site rules, the daily jobs (once per day, switched
by their settings), crashes halfway and Bexio's 429s without duplicate articles."""
from __future__ import annotations

import time
from collections import Counter

from sqlalchemy import select

from bridge import faults
from bridge.connectors.dg1.tenants import find_tenant
from bridge.extensions import db
from bridge.engine import WorkRequest, request_work
from bridge.ratelimit import limiter_for_app
from bridge.models import Link, SyncRecord, WorkItem
from bridge.settings import save_section
from bridge.sync import product_to_ledger as product_flow
from bridge.sync.links import content_hash
from bridge.sync.product_to_ledger import daily_products, product_request, request_daily_products
from bridge.sync.stock_from_ledger import request_daily_stock, stock_request
from tests.connectors.bexio.live_support import state as bexio_state
from tests.connectors.dg1.test_live import place_order, wait_delivered


def dg1_products(live) -> list[dict]:
    return live.control("dg1/tenants/demo/state", method="GET")["products"]


def articles(live) -> list[dict]:
    return bexio_state(live)["articles"]


def ask(live, request) -> None:
    with live.app.app_context():
        request_work(request)
        db.session.commit()
    live.run_jobs()


def switch(live, **daily) -> None:
    with live.app.app_context():
        save_section(find_tenant("demo"), "daily", daily)
        db.session.commit()


def expected_codes(live) -> Counter:
    """One article per SKU (whatever its sites), one per site's product without SKU."""
    codes = Counter()
    for product in dg1_products(live):
        codes[product["sku"] or f"dg1-{product['site_id']}-{product['id']}"] = 1
    return codes


def test_products_become_one_article_per_sku_and_one_per_sites_product_without_sku(shop):
    ask(shop, product_request(find_tenant_id(shop), manual=True))
    codes = Counter(a["intern_code"] for a in articles(shop))
    assert codes == expected_codes(shop)
    assert codes["TEA-100"] == 1  # on ch and pro: ONE article
    wrapping = [p for p in dg1_products(shop) if p["name"] == "Gift wrapping"]
    assert len(wrapping) == 2 and all(codes[f"dg1-{p['site_id']}-{p['id']}"] == 1 for p in wrapping)
    with shop.app.app_context():
        keys = set(db.session.scalars(select(Link.platform_id).where(Link.kind == "product")))
    assert "dg1:demo:sku:TEA-100" in keys and len(keys) == len(codes)

    import requests

    url = shop.control("dg1/launch-url?tenant=demo&site=ch&page=products&user=admin", method="GET")["url"]
    assert f"Product sync:\n  last run finished" in requests.get(url, timeout=10).text

    # Again: nothing changed, nothing written, still one article each.
    before = articles(shop)
    ask(shop, product_request(find_tenant_id(shop), manual=True))
    assert articles(shop) == before


def test_the_products_page_shows_each_article_after_a_manual_sync(shop):
    import re
    from html import unescape

    import requests

    url = shop.control("dg1/launch-url?tenant=demo&site=ch&page=products&user=admin", method="GET")["url"]
    page = requests.get(url, timeout=10)
    assert "TEA-100: sites ch, pro" in page.text  # the multi-site warning
    token = re.search(r'name="s" value="([^"]+)"', page.text).group(1)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    answer = requests.post(f"{shop.app_url}/dg1/products/sync", timeout=10, allow_redirects=False,
                           data={"s": unescape(token), "csrf": csrf, "key": "dg1:demo:sku:MUG-01", "name": "Espresso mug"})
    assert answer.status_code == 302
    shop.run_jobs()
    assert [a["intern_code"] for a in articles(shop)] == ["MUG-01"]
    page = requests.get(f"{shop.app_url}{answer.headers['Location']}" if answer.headers["Location"].startswith("/")
                        else answer.headers["Location"], timeout=10)
    (article,) = articles(shop)
    assert f"/article/show/id/{article['id']}" in page.text and "succeeded" in page.text
    # Another tenant's product key is refused.
    refused = requests.post(f"{shop.app_url}/dg1/products/sync", timeout=10, allow_redirects=False,
                            data={"s": unescape(token), "csrf": csrf, "key": "dg1:other:sku:MUG-01"})
    assert refused.status_code == 400
    # Stock from Bexio for this one product, by hand.
    shop.control(f"bexio/companies/seeland/articles/{article['id']}/stock", json={"stock_nr": "17"})
    answer = requests.post(f"{shop.app_url}/dg1/products/stock", timeout=10, allow_redirects=False,
                           data={"s": unescape(token), "csrf": csrf, "key": "dg1:demo:sku:MUG-01"})
    assert answer.status_code == 302
    shop.run_jobs()
    assert next(p for p in dg1_products(shop) if p["sku"] == "MUG-01")["stock_quantity"] == 17


def find_tenant_id(live) -> int:
    with live.app.app_context():
        return find_tenant("demo").id


def test_stock_from_bexio_overrides_every_site_with_the_sku_and_only_synced_products(shop):
    ask(shop, product_request(find_tenant_id(shop), manual=True))
    by_code = {a["intern_code"]: a for a in articles(shop)}
    shop.control(f"bexio/companies/seeland/articles/{by_code['TEA-100']['id']}/stock", json={"stock_nr": "33"})
    apron = next(p for p in dg1_products(shop) if p["name"] == "Linen apron" and p["site_id"] == "ch")
    apron_article = by_code["dg1-ch-" + str(apron["id"])]
    shop.control(f"bexio/companies/seeland/articles/{apron_article['id']}/stock",
                 json={"stock_nr": "4"})
    # A product added after the product sync is not synced: its stock is left alone.
    shop.control("dg1/tenants/demo/products", json={"site": "ch", "sku": "NEW-1", "name": "New", "price": "5.00",
                                                    "tax_rate": "8.10", "is_stock_managed": True,
                                                    "stock_quantity": 9})
    ask(shop, stock_request(find_tenant_id(shop), manual=True))
    products = dg1_products(shop)
    assert {p["site_id"]: p["stock_quantity"] for p in products if p["sku"] == "TEA-100"} == {"ch": 33, "pro": 33}
    aprons = {p["site_id"]: p["stock_quantity"] for p in products if p["name"] == "Linen apron"}
    assert aprons["ch"] == 4 and aprons["eu"] != 4  # no SKU: its own site only
    assert next(p for p in products if p["sku"] == "NEW-1")["stock_quantity"] == 9


def test_the_daily_jobs_run_once_per_day_and_only_where_switched_on(shop):
    switch(shop, sync_products=False, sync_stock=False)
    with shop.app.app_context():
        assert request_daily_products() == 0 and request_daily_stock() == 0
    # Queued by the daily job but switched off meanwhile: the run says why and writes nothing.
    ask(shop, product_request(find_tenant_id(shop)))
    assert articles(shop) == []
    with shop.app.app_context():
        record = db.session.scalars(select(SyncRecord).where(SyncRecord.flow == "product_to_ledger")).one()
        assert record.state == "skipped" and "Product sync is switched off" in record.warning

    switch(shop, sync_products=True, sync_stock=True)
    assert daily_products.call_local() == 1
    assert daily_products.call_local() == 0  # a second consumer (or trigger) the same day: nothing
    shop.run_jobs()
    assert Counter(a["intern_code"] for a in articles(shop)) == expected_codes(shop)
    with shop.app.app_context():
        assert request_daily_stock() == 1


def test_a_product_sync_that_crashes_halfway_resumes_without_duplicates(shop, monkeypatch):
    monkeypatch.setattr(product_flow, "BATCH", 2)
    installation_id = find_tenant_id(shop)
    faults.arm("product sync after batch", times=1)  # dies once the first batch is written
    try:
        ask(shop, product_request(installation_id))  # the daily run
        switch(shop, sync_products=True)
        ask(shop, product_request(installation_id))
    finally:
        faults.disarm()
    assert 0 < len(articles(shop)) < sum(expected_codes(shop).values())
    with shop.app.app_context():
        item = db.session.scalars(select(WorkItem).where(WorkItem.flow == "product_to_ledger")).one()
        assert item.state == "waiting"
    faults.arm("product sync before link write", times=1)  # written in Bexio, not linked yet
    try:
        ask(shop, product_request(installation_id))
    finally:
        faults.disarm()
    ask(shop, product_request(installation_id))
    codes = Counter(a["intern_code"] for a in articles(shop))
    assert codes == expected_codes(shop)  # every product once: none twice
    with shop.app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Link).where(Link.kind == "product")) == len(codes)


def test_bexio_429s_delay_the_product_sync_and_create_nothing_twice(shop, monkeypatch):
    shop.control("bexio/companies/seeland/faults", json={"status": 429, "count": 1})
    ask(shop, product_request(find_tenant_id(shop), manual=True))
    with shop.app.app_context():
        record = db.session.scalars(select(SyncRecord).where(SyncRecord.flow == "product_to_ledger",
                                                             SyncRecord.object_kind == "products")).first()
        assert record.state == "retrying" and record.retry_at is not None
    # Bexio's window resets (RateLimit-Reset, at most a minute): move both clocks past it.
    shop.control("clock", json={"advance": 120})
    limiter = limiter_for_app(shop.app)
    monkeypatch.setattr(limiter, "clock", lambda: time.time() + 120)
    ask(shop, product_request(find_tenant_id(shop), manual=True))
    assert Counter(a["intern_code"] for a in articles(shop)) == expected_codes(shop)


# -- articles made after an order's invoice are no change to that invoice --------------------


def bexio_writes(live, since: int) -> list[str]:
    """The Bexio calls since ``since`` that change something (a search is a POST that reads)."""
    log = live.control(f"requests?since={since}", method="GET")["requests"]
    return [f"{r['method']} {r['path']}" for r in log if r["path"].startswith("/api.bexio.com/")
            and r["method"] != "GET" and not r["path"].endswith("/search")]


def invoice_runs(live, order_id: str) -> list[SyncRecord]:
    with live.app.app_context():
        return list(db.session.scalars(select(SyncRecord).where(
            SyncRecord.flow == "invoice_to_ledger", SyncRecord.object_id == f"ch:{order_id}")
            .order_by(SyncRecord.id)))


def order_then_articles_then_an_unchanged_event(live) -> tuple[dict, dict, int]:
    """An order invoiced with custom positions, the product sync making its product an
    article, then the order shipped (an ``order.updated`` that changes nothing Bexio shows).
    Returns the order, the Bexio invoice and the request log position before the event."""
    order = place_order(live, payments=[])  # paid later: the invoice stays open
    wait_delivered(live, 1)
    live.run_jobs()
    (invoice,) = bexio_state(live)["invoices"]
    assert [p["type"] for p in invoice["positions"]][0] == "KbPositionCustom"
    ask(live, product_request(find_tenant_id(live), manual=True))
    assert "MUG-01" in {a["intern_code"] for a in articles(live)}
    since = live.control("requests", method="GET")["next"]
    live.control(f"dg1/tenants/demo/orders/{order['id']}/ship")
    wait_delivered(live, 2)
    live.run_jobs()
    return order, invoice, since


def test_an_issued_invoice_is_no_conflict_when_its_products_became_articles_meanwhile(shop):
    order, invoice, since = order_then_articles_then_an_unchanged_event(shop)
    assert invoice["kb_item_status_id"] == 8  # issued, open: Bexio accepts no change to it
    assert bexio_writes(shop, since) == []
    runs = invoice_runs(shop, order["id"])
    assert [r.state for r in runs if r.state == "conflict"] == []
    assert runs[-1].state == "skipped" and runs[-1].warning == "No change since the last sync."
    assert [i["positions"] for i in bexio_state(shop)["invoices"]] == [invoice["positions"]]


def test_a_draft_is_not_rewritten_when_its_products_became_articles_and_adopts_them_with_a_real_change(shop):
    with shop.app.app_context():
        save_section(find_tenant("demo"), "invoices", {"create_payment": False, "send_by_email": False,
                                                       "issue_on_create": False})
        db.session.commit()
    order, invoice, since = order_then_articles_then_an_unchanged_event(shop)
    assert invoice["kb_item_status_id"] == 7  # a draft: bridge could rewrite it
    assert bexio_writes(shop, since) == []
    (now,) = bexio_state(shop)["invoices"]
    assert now["positions"] == invoice["positions"]
    runs = invoice_runs(shop, order["id"])
    assert runs[-1].state == "skipped" and runs[-1].warning == "No change since the last sync."

    # A real change (the invoice language, which Bexio shows in the title) rewrites the
    # draft, and then its product line is the article.
    with shop.app.app_context():
        save_section(find_tenant("demo"), "bexio", {"language": "fr", "currency": "CHF",
                                                    "email_message": "Ihre Rechnung: [Network Link]"})
        db.session.commit()
    ask(shop, WorkRequest(find_tenant_id(shop), "invoice_to_ledger", f"order:ch:{order['id']}", {"manual": True}))
    (now,) = bexio_state(shop)["invoices"]
    mug = next(a for a in articles(shop) if a["intern_code"] == "MUG-01")
    assert now["title"].startswith("Commande") and now["positions"][0]["type"] == "KbPositionArticle"
    assert now["positions"][0]["article_id"] == mug["id"]
    assert invoice_runs(shop, order["id"])[-1].state == "succeeded"
    # And synced again without a change: nothing written.
    since = shop.control("requests", method="GET")["next"]
    ask(shop, WorkRequest(find_tenant_id(shop), "invoice_to_ledger", f"order:ch:{order['id']}", {"manual": True}))
    assert bexio_writes(shop, since) == []


def test_an_invoice_linked_before_this_rule_with_article_positions_stays_unchanged(shop):
    """Links written before the hash ignored the article mapping hold the hash of the
    rendering itself (with article positions): they too read as unchanged."""
    ask(shop, product_request(find_tenant_id(shop), manual=True))
    order = place_order(shop, payments=[])
    wait_delivered(shop, 1)
    shop.run_jobs()
    (invoice,) = bexio_state(shop)["invoices"]
    assert invoice["positions"][0]["type"] == "KbPositionArticle"
    with shop.app.app_context():
        first = db.session.scalars(select(SyncRecord).where(SyncRecord.flow == "invoice_to_ledger")).one()
        link = db.session.scalars(select(Link).where(Link.kind == "invoice")).one()
        link.content_hash = content_hash(first.sent["document"])  # as bridge stored it before
        db.session.commit()
    since = shop.control("requests", method="GET")["next"]
    shop.control(f"dg1/tenants/demo/orders/{order['id']}/ship")
    wait_delivered(shop, 2)
    shop.run_jobs()
    assert bexio_writes(shop, since) == []
    runs = invoice_runs(shop, order["id"])
    assert runs[-1].state == "skipped" and runs[-1].warning == "No change since the last sync."
