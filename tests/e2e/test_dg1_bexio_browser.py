"""The DG1 admin pages in a real browser: headless Chromium opens the sandbox DG1 admin
panel (on ``localhost``), which frames bridge (on ``127.0.0.1``): a cross-site iframe, so
no third-party cookie reaches bridge, as in production. "Sync order to Bexio" updates its
row in place (no page load), shows the progress, then the result with the Bexio link; the
page passes axe's serious and critical checks."""
from __future__ import annotations

import time

import pytest

from bridge.connectors.dg1.demo import seed_demo_tenant
from bridge.connectors.dg1.tenants import find_tenant
from bridge.extensions import db
from bridge.settings import save_section
from tests.browser.conftest import axe_violations, browser, start_cross_site  # noqa: F401  (fixture)
from tests.connectors.bexio.live_support import approve_page, ledger as bexio_ledger, state as bexio_state, submit
from tests.connectors.dg1.test_live import place_order, wait_delivered
from tests.e2e.conftest import Connected


@pytest.fixture
def cross_site_shop(tmp_path):
    live = start_cross_site(tmp_path)
    try:
        live.app.config["DG1_CLOCK"] = live.sandbox.clock.time
        with live.app.app_context():
            list(seed_demo_tenant())
            installation_id = find_tenant("demo").id
        tab, page = approve_page(live, installation_id)
        assert submit(live, tab, page, "seeland:101").status_code == 200
        with live.app.app_context():
            installation = find_tenant("demo")
            connection = installation.ledger_connections[0]
            taxes = bexio_ledger(live, Connected(installation.id, connection.id)).tax_codes()
            by_rate = {str(t.rate.normalize()): t.code for t in taxes}
            save_section(installation, "mapping", {"tax_rates": by_rate, "shipping_tax": by_rate["8.1"],
                                                   "payment_fee_tax": by_rate["8.1"]})
            save_section(installation, "bexio", {"language": "de", "currency": "CHF"})
            save_section(installation, "general", {"automatic_sync": False})
            db.session.commit()
        yield live
    finally:
        live.sandbox.systems["dg1"].reset()
        live.stop()


def _wait(condition, seconds: float = 15.0):
    """Until ``condition()`` holds; an element htmx swapped away meanwhile is looked up again."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = condition()
        except (StaleElementReferenceException, NoSuchElementException):
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_sync_order_in_the_dg1_admin_frame_updates_its_row_in_place(cross_site_shop, browser):  # noqa: F811
    from selenium.webdriver.common.by import By

    live = cross_site_shop
    order = place_order(live)
    wait_delivered(live, 1)
    live.run_jobs()  # automatic sync is off: the order waits for the button
    browser.get(f"{live.sandbox_url}/admin.dg1.ch/demo/bexio/orders?site=ch")
    browser.switch_to.frame(browser.find_element(By.ID, "app"))
    assert browser.get_cookies() == []  # nothing set for bridge inside the frame
    browser.execute_script("window.bridgeMarker = 'same page';")
    row = f"order-{order['id']}"
    browser.find_element(By.CSS_SELECTOR, f"#{row} button").click()
    _wait(lambda: "Syncing" in browser.find_element(By.ID, row).text)
    live.run_jobs()
    _wait(lambda: "succeeded" in browser.find_element(By.ID, row).text)  # the row polled itself
    (invoice,) = bexio_state(live)["invoices"]
    link = _wait(lambda: browser.find_element(By.CSS_SELECTOR, f"#{row} .ledger-link a").text)
    assert link == str(invoice["document_nr"])
    assert browser.execute_script("return window.bridgeMarker") == "same page"  # no page load
    assert axe_violations(browser) == []
