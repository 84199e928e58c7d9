"""The pages the other browser tests do not open, as a user reaches them: the dashboard from
CRM > Analytics (the placement bound at install), the operator console signed in with two
installations, and the DG1 admin pages framed by the DG1 admin panel through its signed
launch URL. Each passes axe and leaves a screenshot (``make screenshots``: docs/screenshots)."""
from __future__ import annotations

from selenium.webdriver.common.by import By

from tests.connectors.dg1.test_live import place_order, wait_delivered
from tests.e2e.conftest import shop  # noqa: F401  (the demo shop connected to Bexio)

from bridge.connectors.bitrix24 import store
from bridge.extensions import db
from bridge.models import Installation
from bridge.connectors.dg1.tenants import find_tenant
from bridge.settings import get_section, save_section

from .conftest import ACME, connect_xero_headlessly, save_page
from .test_bitrix24_app import assert_accessible, new_invoice, text_of, wait_for
from .test_german import fill_the_dashboard

OPERATOR, PASSWORD = "ops@partner.example", "correct horse battery"


def test_the_dashboard_opens_from_crm_analytics(portal, browser, screenshots):
    live = portal
    fill_the_dashboard(live, transactions=300)
    browser.get(f"{live.sandbox_url}/{ACME}/crm/analytics/")
    browser.switch_to.frame(wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "iframe[data-frame]")))
    wait_for(browser, lambda d: "transactions; page 1 of" in d.find_element(By.ID, "count").text)
    assert browser.find_element(By.ID, "count").text.startswith("310 transactions; page 1 of 7")
    assert "Money in (NZD)" in text_of(browser) and "NZ$" in browser.find_element(By.CSS_SELECTOR, ".totals").text
    assert_accessible(browser, "dashboard")
    save_page(browser, screenshots / "dashboard.png", max_height=1600)


def test_the_operator_console_and_the_dg1_admin_pages(shop, browser, screenshots):  # noqa: F811
    live = shop
    live.control("bitrix24/settings", json={"allow_insecure_handlers": True})
    installed = live.control(f"bitrix24/portals/{ACME}/install", json={"mode": "page"})  # next to the DG1 shop
    with live.app.app_context():
        acme_id = store.find(installed["auth"]["member_id"]).id
    connect_xero_headlessly(live, acme_id, "Bridge Demo (NZ)")
    with live.app.app_context():
        save_section(db.session.get(Installation, acme_id), "mapping", {"tax_rates": {"15": "OUTPUT2"},
                                                                        "default_sales_account": "200"})
        db.session.commit()
    new_invoice(live)
    new_invoice(live, tax_rate=9)  # no tax code for 9 %: a failure the console shows
    live.control("bitrix24/events/wait", json={"timeout": 10})
    place_order(live)  # a completed DG1 order becomes a Bexio invoice: the orders page shows it
    wait_delivered(live, 1)
    live.run_jobs()
    created = live.app.test_cli_runner().invoke(args=["operator", "create", OPERATOR, "--password", PASSWORD])
    assert created.exit_code == 0, created.output

    browser.get(f"{live.app_url}/operator/")
    assert_accessible(browser, "operator sign-in")
    browser.find_element(By.ID, "email").send_keys(OPERATOR)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.XPATH, "//button[normalize-space()='Sign in']").click()
    wait_for(browser, lambda d: "2 installations." in text_of(d))
    assert ACME in text_of(browser) and "Demo Shop AG" in text_of(browser)
    assert_accessible(browser, "operator console")
    save_page(browser, screenshots / "operator-console.png")
    browser.find_element(By.LINK_TEXT, ACME).click()
    wait_for(browser, lambda d: "API budgets" in text_of(d))
    assert "1 failure in 24 h" in text_of(browser) and "is not mapped" in text_of(browser)
    assert_accessible(browser, "operator: one installation")
    save_page(browser, screenshots / "operator-installation.png")

    _the_dg1_admin_pages(live, browser, screenshots)


def _the_dg1_admin_pages(live, browser, screenshots) -> None:
    """What a DG1 admin sees after a day's trading: an order linked to its Bexio invoice, one
    that failed for good (the alerts banner on every page, the order's preview opened under
    its row), the settings saved and "Settings saved." where the admin pressed Save."""
    with live.app.app_context():
        installation = find_tenant("demo")
        mapping = get_section(installation, "mapping").tax_rates
        save_section(installation, "mapping", {"tax_rates": {}})  # the next order has no tax to go to
        db.session.commit()
    failing = place_order(live, items=[{"sku": "MUG-01", "quantity": 1}])
    wait_delivered(live, 2)
    live.run_jobs()
    with live.app.app_context():
        save_section(find_tenant("demo"), "mapping", {"tax_rates": mapping, "shipping_tax": mapping["8.1"],
                                                      "payment_fee_tax": mapping["8.1"]})  # fixed: Retry sends it
        db.session.commit()
    # The demo shop's EUR site makes its settings refuse any save (README); saved here in CHF only.
    live.sandbox.systems["dg1"].store.tenants["demo"].sites.pop("eu", None)

    for page, words in (("orders", "Orders"), ("settings", "Bexio account"), ("products", "Products")):
        # As the DG1 admin menu frames it (the launch URL signed by DG1) ...
        browser.get(f"{live.sandbox_url}/admin.dg1.ch/demo/bexio/{page}")
        browser.switch_to.frame(wait_for(browser, lambda d: d.find_element(By.TAG_NAME, "iframe")))
        wait_for(browser, lambda d: words in text_of(d))
        banner = browser.find_element(By.ID, "alerts").text
        assert "will not be retried by itself" in banner and "8.1" in banner, banner
        if page == "orders":
            assert browser.find_element(By.CSS_SELECTOR, "td.ledger-link a").text.startswith("RE-")
            browser.find_element(By.CSS_SELECTOR, f"#order-{failing['id']} a.preview-link").click()
            wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, f"#preview-{failing['id']} table.preview"))
        if page == "settings":
            button = browser.find_element(By.CSS_SELECTOR, "#settings-form button[type=submit]")
            browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
            button.click()
            saved = wait_for(browser, lambda d: d.find_element(By.ID, "saved-by-button"))
            errors = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".error, [role=alert]")]
            assert saved.text == "Settings saved.", errors
        assert_accessible(browser, f"DG1 {page}")
        # ... grown to the page by the page's height message (docs/dg1.md, "Frame height"), so
        # the picture is the admin panel's, with one scrollbar.
        height = browser.execute_script("return Math.ceil(document.documentElement.getBoundingClientRect().height)")
        browser.switch_to.default_content()
        wait_for(browser, lambda d: d.execute_script("return document.querySelector('iframe').clientHeight") >= height)
        browser.switch_to.frame(browser.find_element(By.TAG_NAME, "iframe"))
        save_page(browser, screenshots / f"dg1-{page}.png", frame_css="iframe")
