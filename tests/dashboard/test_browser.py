"""In a real browser (headless Chromium): the dashboard as the sandbox portal frames it in CRM
analytics, cross-site (portal on 127.0.0.1, app on localhost), filtering and paging 5,000
sandbox transactions; the operator console signing in and showing two installations."""
from __future__ import annotations

import importlib.util
import shutil
import tempfile
from collections import Counter

import pytest

from bridge.dashboard.refresh import request_refresh
from bridge.extensions import db
from bridge.models import LedgerConnection
from tests.conftest import require

from .conftest import ACME

GLOBEX = "globex.bitrix24.de"


@pytest.fixture
def browser():
    require(importlib.util.find_spec("selenium") is not None, "selenium is not installed")
    require(shutil.which("chromium") is not None and shutil.which("chromedriver") is not None,
            "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="bridge-chromium-")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-background-networking",
                     f"--user-data-dir={profile}", "--window-size=1280,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def wait_for_text(driver, css: str, text: str, timeout: float = 20) -> str:
    """The text of the first element matching ``css`` once it contains ``text``. An htmx swap
    can replace the element while it is read: that is waited out, not an error."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def found(d):
        return next((e.text for e in d.find_elements(By.CSS_SELECTOR, css) if text in e.text), False)
    return WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(found)


def test_dashboard_in_the_portal_filters_and_pages_5000_transactions(portal, browser):
    from selenium.webdriver.common.by import By

    live = portal
    live.control(f"xero/orgs/{live.tenant}/seed", json={"bank_transactions": 5000})
    with live.app.app_context():
        request_refresh(db.session.scalars(db.select(LedgerConnection)).one())
        db.session.commit()
    live.run_jobs()
    bank = live.control(f"xero/orgs/{live.tenant}/state", method="GET")["bankTransactions"]

    browser.get(f"{live.sandbox_url}/{ACME}/crm/analytics/")
    browser.switch_to.frame(browser.find_element(By.CSS_SELECTOR, "iframe"))
    wait_for_text(browser, "#count", "5,000 transactions; page 1 of 100")
    assert browser.find_element(By.CSS_SELECTOR, ".chart svg")

    browser.find_element(By.XPATH, "//nav[@aria-label='Pages']//button[normalize-space()='Next']").click()
    wait_for_text(browser, "#count", "page 2 of 100")

    contact = Counter(b["Contact"]["Name"] for b in bank).most_common(1)[0][0]
    field = browser.find_element(By.ID, "contact")
    field.clear()
    field.send_keys(contact)
    browser.find_element(By.XPATH, "//button[normalize-space()='Apply filters']").click()
    expected = sum(1 for b in bank if b["Contact"]["Name"] == contact)
    wait_for_text(browser, "#count", f"{expected:,} transactions; page 1 of")


def test_operator_console_signs_in_and_shows_two_installations(live, browser):
    from selenium.webdriver.common.by import By

    live.control("bitrix24/settings", json={"allow_insecure_handlers": True})
    for domain in (ACME, GLOBEX):
        live.control(f"bitrix24/portals/{domain}/install", json={"mode": "page"})
    result = live.app.test_cli_runner().invoke(args=["operator", "create", "ops@partner.example",
                                                     "--password", "correct horse battery"])
    assert result.exit_code == 0, result.output

    browser.get(f"{live.app_url}/operator/")  # not signed in: the sign-in page
    browser.find_element(By.ID, "email").send_keys("ops@partner.example")
    browser.find_element(By.ID, "password").send_keys("correct horse battery")
    browser.find_element(By.XPATH, "//button[normalize-space()='Sign in']").click()
    text = wait_for_text(browser, "main", "2 installations")
    assert ACME in text and GLOBEX in text
