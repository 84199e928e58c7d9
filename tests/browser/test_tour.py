"""README "A tour of the demo" (Bitrix24 -> Xero, then DG1 -> Bexio), step by step, in headless Chromium.

What a new user does after ``make run``: the demo itself is started (``python -m bridge.demo``:
the sandbox, gunicorn, a Huey worker and the sample data, on free ports and a fresh instance
folder), and every step is a click or a typed value in the browser, in the README's order.
No control endpoint, REST call or database write: if a step only works with one, this test
fails. The browser's console must stay free of errors. The README's tour pictures are taken
here (``make screenshots`` writes them to docs/screenshots/).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.support.servers import free_port

from .conftest import ROOT, save_page

WAIT = 60  # seconds a step may take: a webhook, the worker's turn, the tab's next poll
pytestmark = pytest.mark.slow


@dataclass
class Demo:
    app_url: str
    sandbox_url: str

    @property
    def portal(self) -> str:
        return f"{self.sandbox_url}/acme.bitrix24.com"


@pytest.fixture
def demo(tmp_path):
    """``make run`` on free ports, with its own instance folder (its SQLite and Huey files)."""
    app_port, sandbox_port = free_port(), free_port()
    env = {**os.environ, "BRIDGE_PORT": str(app_port), "SANDBOX_PORT": str(sandbox_port),
           "BRIDGE_INSTANCE_PATH": str(tmp_path / "instance")}
    for name in ("DATABASE_URL", "HUEY_SQLITE_PATH", "REDIS_URL", "HUEY_BACKEND", "BRIDGE_ENV"):
        env.pop(name, None)  # the demo's own defaults, as on a fresh clone
    log = (tmp_path / "demo.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "bridge.demo"], cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    started = Demo(f"http://localhost:{app_port}", f"http://127.0.0.1:{sandbox_port}")
    try:
        deadline = time.monotonic() + 120
        while "bridge demo is running" not in (tmp_path / "demo.log").read_text(errors="replace"):
            assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "demo.log").read_text()
            time.sleep(0.5)
        yield started
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def wait_for(driver, condition, timeout: float = WAIT):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.3,
                             ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(condition)
    except TimeoutException:
        raise AssertionError(f"waited in vain at {driver.current_url}; the page said:\n{text(driver)}") from None


def text(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def click(driver, how: str, what: str) -> None:
    wait_for(driver, lambda d: d.find_element(how, what).is_displayed())
    driver.find_element(how, what).click()


def into_app_frame(driver) -> None:
    from selenium.webdriver.common.by import By

    driver.switch_to.default_content()
    driver.switch_to.frame(wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, "iframe[data-frame]")))
    wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, "main h1"))


def open_app(driver, demo: Demo) -> None:
    """The portal's left menu: the app's entry (Accounting sync, then Xero sync)."""
    from selenium.webdriver.common.by import By

    driver.switch_to.default_content()
    driver.get(f"{demo.portal}/")
    click(driver, By.XPATH, "//nav/a[contains(., ' sync')]")
    into_app_frame(driver)


def console_errors(driver) -> list[str]:
    """Errors the pages wrote to the console (favicons the sandbox does not serve aside)."""
    return [entry["message"] for entry in driver.get_log("browser")
            if entry["level"] == "SEVERE" and "favicon.ico" not in entry["message"]]


def test_the_readme_tour_works_in_the_browser_alone(demo, browser, screenshots):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    errors: list[str] = []

    # 1. The app, Settings, "Xero: connect": one window, out of the frame and back.
    open_app(browser, demo)
    click(browser, By.LINK_TEXT, "Settings")
    click(browser, By.PARTIAL_LINK_TEXT, "Xero: connect")
    browser.switch_to.default_content()
    wait_for(browser, lambda d: "wants access to your Xero organisations" in text(d))
    assert len(browser.window_handles) == 1
    click(browser, By.XPATH, "//label[contains(., 'Bridge Demo (NZ)')]/input")
    click(browser, By.XPATH, "//button[normalize-space()='Allow access']")
    wait_for(browser, lambda d: d.current_url.startswith(demo.portal))
    into_app_frame(browser)
    click(browser, By.LINK_TEXT, "Settings")
    wait_for(browser, lambda d: "Bridge Demo (NZ)" in text(d))
    errors += console_errors(browser)

    # 2. Invoices > New invoice: an empty card; Save creates it; the Xero tab shows the draft.
    browser.switch_to.default_content()
    click(browser, By.LINK_TEXT, "Invoices")
    click(browser, By.LINK_TEXT, "New invoice")
    Select(browser.find_element(By.NAME, "companyId")).select_by_visible_text("Harbour Cafe Ltd")
    Select(browser.find_element(By.NAME, "currencyId")).select_by_visible_text("NZD")
    assert browser.find_element(By.XPATH, "//label[contains(., 'Sync with')]/input").is_selected()
    for name, value in (("row_name", "Coffee beans 1 kg"), ("row_price", "46.00"), ("row_qty", "1"), ("row_tax", "15")):
        browser.find_elements(By.NAME, name)[0].send_keys(value)
    click(browser, By.XPATH, "//button[normalize-space()='Save']")
    wait_for(browser, lambda d: "/details/" in d.current_url)
    browser.find_elements(By.CSS_SELECTOR, ".tabs a")[-1].click()  # the app's tab, after General and Products
    into_app_frame(browser)

    def synced(driver) -> bool:
        """The tab follows the sync by itself, also when it opened before the portal's event
        reached bridge and said "Not synced yet." (README step 2): nobody reloads it."""
        return "Synced." in text(driver) and bool(driver.find_elements(By.CSS_SELECTOR, "dd a[target=_blank]"))
    wait_for(browser, synced)
    assert "DRAFT" in text(browser).upper()
    save_page(browser, screenshots / "tour-invoice-tab.png")
    errors += console_errors(browser)

    # 3. The number opens Xero's invoice page (a new window): approve, mark as sent, add payment.
    tab = browser.current_window_handle
    click(browser, By.CSS_SELECTOR, "dd a[target=_blank]")
    wait_for(browser, lambda d: len(d.window_handles) == 2)
    browser.switch_to.window([h for h in browser.window_handles if h != tab][0])
    wait_for(browser, lambda d: "Harbour Cafe Ltd" in text(d))
    click(browser, By.XPATH, "//button[normalize-space()='Approve']")
    wait_for(browser, lambda d: "AUTHORISED" in d.find_element(By.ID, "status").text)
    click(browser, By.XPATH, "//button[normalize-space()='Mark as sent']")
    wait_for(browser, lambda d: "(sent)" in d.find_element(By.ID, "status").text)
    click(browser, By.XPATH, "//button[normalize-space()='Add payment']")
    wait_for(browser, lambda d: "PAID" in d.find_element(By.ID, "status").text)
    save_page(browser, screenshots / "tour-xero-invoice.png", frame_css=None)
    errors += console_errors(browser)
    browser.close()
    browser.switch_to.window(tab)
    browser.switch_to.default_content()

    def paid_in_list(driver) -> bool:  # "reload Invoices": the newest invoice is the first row
        driver.get(f"{demo.portal}/crm/type/31/list/")
        return "Paid" in driver.find_element(By.XPATH, "(//table//tr)[2]").text
    wait_for(browser, paid_in_list)

    # 4. The sync log; the Xero transactions dashboard in CRM analytics.
    open_app(browser, demo)
    click(browser, By.LINK_TEXT, "Sync log")
    wait_for(browser, lambda d: "Download as CSV" in text(d))
    browser.switch_to.default_content()
    click(browser, By.LINK_TEXT, "CRM analytics")
    into_app_frame(browser)
    errors += console_errors(browser)

    # 5. Settings > Import Xero contacts into Bitrix24 > Start: the customers become companies.
    open_app(browser, demo)
    click(browser, By.LINK_TEXT, "Settings")
    click(browser, By.XPATH, "//form[.//h3[contains(., 'Import Xero contacts')]]//button")

    def imported(driver) -> bool:
        driver.switch_to.default_content()
        driver.get(f"{demo.portal}/crm/company/list/")
        return "Company 00000 Ltd" in text(driver)
    wait_for(browser, imported)
    errors += console_errors(browser)

    # 6. German: the portal's footer language; the app opens in it.
    Select(browser.find_element(By.ID, "portal-language")).select_by_visible_text("Deutsch")
    click(browser, By.XPATH, "//footer//button[normalize-space()='Change']")
    open_app(browser, demo)
    wait_for(browser, lambda d: "Einstellungen" in text(d) and "Synchronisierungsprotokoll" in text(d))
    errors += console_errors(browser)

    assert not errors, errors
    assert requests.get(f"{demo.app_url}/healthz", timeout=5).status_code == 200


def choose_option_with(select_element, *words: str) -> None:
    """Pick the first option whose text has every word (a Bexio tax by its rate)."""
    from selenium.webdriver.support.ui import Select

    menu = Select(select_element)
    option = next(o for o in menu.options if o.get_attribute("value") and all(w in o.text for w in words))
    menu.select_by_value(option.get_attribute("value"))


def test_the_readme_dg1_tour_works_in_the_browser_alone(demo, browser, screenshots):
    """README "DG1 -> Bexio": connect Bexio from the DG1 admin, map the taxes, check out an
    order, see its Bexio invoice, record its payment in Bexio and sync the status back."""
    from selenium.webdriver.common.by import By

    admin = f"{demo.sandbox_url}/admin.dg1.ch/alpen/"
    errors: list[str] = []

    # 1. Bexio integration > Settings: authenticate (the whole tab goes to Bexio and back), map, save.
    browser.get(admin)
    click(browser, By.XPATH, "//nav/a[normalize-space()='Settings']")
    browser.switch_to.frame(wait_for(browser, lambda d: d.find_element(By.ID, "app")))
    click(browser, By.PARTIAL_LINK_TEXT, "Authenticate with Bexio")
    browser.switch_to.default_content()
    click(browser, By.XPATH, "//button[normalize-space()='Allow']")
    browser.switch_to.frame(wait_for(browser, lambda d: d.find_element(By.ID, "app")))
    wait_for(browser, lambda d: "Bexio connected." in text(d))
    for row, rate in ((0, "8.1"), (1, "2.6")):
        field = browser.find_element(By.ID, f"tax_rate.{row}")
        if field.get_attribute("value") != rate:
            field.clear()
            field.send_keys(rate)
        choose_option_with(browser.find_element(By.ID, f"tax_code.{row}"), rate)
    for label in ("Shipping tax rate", "Payment fee tax rate"):
        choose_option_with(browser.find_element(By.XPATH, f"//label[normalize-space()='{label}']/following::select[1]"), "8.1")
    for label in ("Create payment for invoice", "Send invoice by e-mail"):
        box = browser.find_element(By.XPATH, f"//label[contains(., '{label}')]//input | //label[contains(., '{label}')]/preceding-sibling::input[1]")
        if not box.is_selected():
            box.click()
    click(browser, By.XPATH, "//button[normalize-space()='Submit']")
    wait_for(browser, lambda d: "Settings saved." in text(d))
    errors += console_errors(browser)

    # 2. Orders: a new order, Complete checkout; the integration's orders page links its invoice.
    browser.switch_to.default_content()
    click(browser, By.XPATH, "//nav/a[normalize-space()='Orders']")
    click(browser, By.XPATH, "//button[normalize-space()='Add to cart']")
    click(browser, By.XPATH, "//button[normalize-space()='Complete checkout']")
    wait_for(browser, lambda d: d.find_element(By.ID, "status").text != "PENDING")

    def invoiced(driver) -> bool:
        driver.refresh()
        return "bexio_document_nr" in text(driver)
    wait_for(browser, invoiced)
    number = browser.find_element(By.XPATH, "//li[starts-with(normalize-space(), 'bexio_document_nr')]").text.split(": ")[1]

    # 3. Products: "Sync product" and then "Sync stock" by hand, on the first product.
    browser.get(admin)
    click(browser, By.XPATH, "//nav/h3[normalize-space()='Bexio integration']/following-sibling::a[normalize-space()='Products']")
    browser.switch_to.frame(wait_for(browser, lambda d: d.find_element(By.ID, "app")))
    first = "(//table/tbody/tr)[1]"
    click(browser, By.XPATH, f"{first}//button[normalize-space()='Sync product to Bexio']")
    wait_for(browser, lambda d: d.find_elements(By.XPATH, f"{first}//td[@class='ledger-link']/a"))
    click(browser, By.XPATH, f"{first}//button[normalize-space()='Sync stock from Bexio']")
    wait_for(browser, lambda d: "Stock:" in d.find_element(By.XPATH, first).text)
    errors += console_errors(browser)

    # Bexio: the invoice (paid already when "create payment" booked the shop's payment; an
    # open one gets its payment recorded there); then Sync status now: the order is COMPLETED.
    browser.get(f"{demo.sandbox_url}/office.bexio.com/")
    click(browser, By.XPATH, "//table//a")
    click(browser, By.LINK_TEXT, number)
    if browser.find_elements(By.XPATH, "//button[starts-with(normalize-space(), 'Record payment')]"):
        click(browser, By.XPATH, "//button[starts-with(normalize-space(), 'Record payment')]")
    wait_for(browser, lambda d: "Paid (9)" in text(d))
    errors += console_errors(browser)
    browser.get(admin)
    click(browser, By.XPATH, "//nav/h3[normalize-space()='Bexio integration']/following-sibling::a[normalize-space()='Orders']")
    browser.switch_to.frame(wait_for(browser, lambda d: d.find_element(By.ID, "app")))
    link = wait_for(browser, lambda d: d.find_element(By.LINK_TEXT, number))  # the order's Bexio invoice, linked
    assert link.get_attribute("href").startswith("http")
    click(browser, By.XPATH, "//button[normalize-space()='Sync status now']")

    def completed(driver) -> bool:
        driver.switch_to.default_content()
        driver.get(admin)
        click(driver, By.XPATH, "//nav/a[normalize-space()='Orders']")
        return "COMPLETED" in text(driver)
    wait_for(browser, completed)
    save_page(browser, screenshots / "tour-dg1-orders.png", frame_css=None)
    errors += console_errors(browser)
    assert not errors, errors


def test_the_tours_console_check_sees_an_error(browser):
    """The tours' "no console error" is a real check: a page that logs one is caught."""
    browser.get("data:text/html,<script>console.error('broken step')</script><p>page</p>")
    assert any("broken step" in message for message in console_errors(browser))
    browser.get("data:text/html,<p>quiet page</p>")
    assert console_errors(browser) == []
