"""The Bitrix24 app in a real browser, inside the sandbox portal's cross-site iframes."""
from __future__ import annotations

from bridge.extensions import db
from bridge.settings import get_section

from .conftest import ACME, axe_violations, save_page

WAIT = 20  # seconds a page may take to appear (htmx polls every 2-3 s)


def wait_for(driver, condition, timeout: float = WAIT):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # htmx swaps fragments: an element read a moment ago may be gone; read it again.
    return WebDriverWait(driver, timeout, poll_frequency=0.2,
                         ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(condition)


def enter_app_frame(driver) -> None:
    from selenium.webdriver.common.by import By

    frame = wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, "iframe[data-frame]"))
    driver.switch_to.frame(frame)
    wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, "main h1"))


def text_of(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def new_invoice(live, tax_rate: int = 15) -> dict:
    company = live.control(f"bitrix24/portals/{ACME}/companies", json={"fields": {"TITLE": "Globex Ltd"}})
    body = {"fields": {"title": "Workshop November", "companyId": company["ID"], "currencyId": "NZD"},
            "rows": [{"productName": "Workshop day", "price": "1150.00", "quantity": 2, "taxRate": tax_rate,
                      "taxIncluded": "N"}]}
    return live.control(f"bitrix24/portals/{ACME}/invoices", json=body)["item"]


def assert_accessible(driver, name: str) -> None:
    serious = axe_violations(driver)
    assert not serious, f"{name}: " + "; ".join(f"{v['id']}: {v['description']} ({len(v['nodes'])})" for v in serious)


def test_invoice_tab_shows_xero_and_sync_now_works(portal, browser, screenshots):
    from selenium.webdriver.common.by import By

    live = portal
    live.control("bitrix24/events/auto", json={"on": False})  # only "Sync now" may sync this invoice
    item = new_invoice(live)
    browser.get(f"{live.sandbox_url}/{ACME}/crm/type/31/details/{item['id']}/")
    tabs = browser.find_elements(By.CSS_SELECTOR, ".tabs a")
    tabs[-1].click()  # the app's tab, after General and Products
    enter_app_frame(browser)
    assert "Not synced yet." in text_of(browser)
    wait_for(browser, lambda d: "Customer: Globex Ltd" in text_of(d))  # the dry run, loaded by htmx
    assert "OUTPUT2" in text_of(browser) and "Problems to fix" not in text_of(browser)
    assert_accessible(browser, "invoice tab")

    browser.find_element(By.XPATH, "//button[normalize-space()='Sync now']").click()
    wait_for(browser, lambda d: "Sync requested." in text_of(d))
    # The worker: run what is queued until the panel, polling by itself, has left "waiting".
    wait_for(browser, lambda d: live.run_jobs() >= 0 and not any(
        s in text_of(d) for s in ("Waiting to sync.", "Syncing now.", "Sync requested.")))
    assert "Synced." in text_of(browser), text_of(browser)
    wait_for(browser, lambda d: "Globex Ltd (matched" in text_of(d))  # the preview reloaded after the sync
    link = browser.find_element(By.CSS_SELECTOR, "dd a[target=_blank]")
    assert link.text.startswith("INV-") and link.get_attribute("href").startswith("http")
    state = live.control(f"xero/orgs/{live.tenant}/state", method="GET")
    assert [i["Status"] for i in state["invoices"] if i["Type"] == "ACCREC"] == ["DRAFT"]
    save_page(browser, screenshots / "invoice-tab.png")


def test_the_tab_of_a_part_paid_invoice_lists_its_payment_and_the_balance(portal, browser, screenshots):
    """Approved and part paid in Xero: the tab shows the payment, what is still due and the
    online invoice link a sales rep can send (README screenshot)."""
    from selenium.webdriver.common.by import By

    live = portal
    item = new_invoice(live)
    live.control("bitrix24/events/wait", json={"timeout": 10})
    live.run_jobs()
    state = live.control(f"xero/orgs/{live.tenant}/state", method="GET")
    (invoice,) = [i for i in state["invoices"] if i["Type"] == "ACCREC"]
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/approve")
    live.control("xero/webhooks/flush")
    live.run_jobs()
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/pay", json={"amount": "800.00"})
    live.control("xero/webhooks/flush")
    live.run_jobs()
    browser.get(f"{live.sandbox_url}/{ACME}/crm/type/31/details/{item['id']}/")
    browser.find_elements(By.CSS_SELECTOR, ".tabs a")[-1].click()
    enter_app_frame(browser)
    wait_for(browser, lambda d: "Payments and credit notes in Xero" in text_of(d))
    page = text_of(browser)
    assert "Part payment" in page and "NZ$800.00" in page and "Still due: NZ$1,500.00" in page, page
    assert "Online invoice for the customer" in page
    assert_accessible(browser, "invoice tab with payments")
    save_page(browser, screenshots / "invoice-tab-payments.png")


def test_an_invoice_queued_behind_a_run_says_until_when_in_the_tab(portal, browser, screenshots):
    """One batch run per installation at a time: an invoice behind a run that may have lost its
    worker says when that run started and by when it goes on at the latest."""
    from datetime import timedelta

    from selenium.webdriver.common.by import By

    from bridge.models import WorkItem, utcnow

    live = portal
    live.control("bitrix24/events/auto", json={"on": False})
    running, queued = new_invoice(live), new_invoice(live)
    with live.app.app_context():
        started = utcnow()
        db.session.add(WorkItem(installation_id=live.installation_id, flow="invoice_to_ledger",
                                object_key=f"invoice:{running['id']}", state="running", last_run_at=started,
                                lease_until=started + timedelta(minutes=10)))
        db.session.add(WorkItem(installation_id=live.installation_id, flow="invoice_to_ledger",
                                object_key=f"invoice:{queued['id']}", state="queued"))
        db.session.commit()
    browser.get(f"{live.sandbox_url}/{ACME}/crm/type/31/details/{queued['id']}/")
    browser.find_elements(By.CSS_SELECTOR, ".tabs a")[-1].click()
    enter_app_frame(browser)
    wait_for(browser, lambda d: "behind other invoices whose sync started at" in text_of(d))
    assert "goes on by" in text_of(browser) and "at the latest" in text_of(browser)
    assert_accessible(browser, "invoice tab, queued behind a run")
    save_page(browser, screenshots / "invoice-tab-queued.png")


def open_main_page(live, browser) -> None:
    browser.get(f"{live.sandbox_url}/{ACME}/marketplace/app/")
    enter_app_frame(browser)


def test_a_changed_setting_persists_and_the_pages_pass_axe(portal, browser, screenshots):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    live = portal
    new_invoice(live)
    new_invoice(live, tax_rate=9)  # no tax code mapped for 9 %: a failure in the log
    live.control("bitrix24/events/wait", json={"timeout": 10})
    live.run_jobs()
    open_main_page(live, browser)
    assert "Invoice tab: bound" in text_of(browser)
    assert "Xero transactions in CRM > Analytics: bound" in text_of(browser)  # bound at install
    assert_accessible(browser, "main page")
    save_page(browser, screenshots / "main-page.png")
    browser.find_element(By.LINK_TEXT, "Settings").click()
    wait_for(browser, lambda d: "Taxes and sales accounts" in text_of(d))
    assert "Bridge Demo (NZ)" in text_of(browser)
    assert_accessible(browser, "settings")
    save_page(browser, screenshots / "settings.png")

    Select(browser.find_element(By.ID, "numbering")).select_by_value("platform")
    browser.find_element(By.CSS_SELECTOR, "#invoices button[type=submit]").click()
    wait_for(browser, lambda d: "Saved." in d.find_element(By.ID, "invoices").text)
    with live.app.app_context():
        from bridge.models import Installation

        assert get_section(db.session.get(Installation, live.installation_id), "invoices").numbering == "platform"

    open_main_page(live, browser)
    browser.find_element(By.LINK_TEXT, "Settings").click()
    wait_for(browser, lambda d: "Taxes and sales accounts" in text_of(d))
    assert Select(browser.find_element(By.ID, "numbering")).first_selected_option.get_attribute("value") == "platform"

    browser.switch_to.default_content()
    settings_height = browser.find_element(By.CSS_SELECTOR, "iframe[data-frame]").size["height"]
    browser.switch_to.frame(browser.find_element(By.CSS_SELECTOR, "iframe[data-frame]"))
    browser.find_element(By.LINK_TEXT, "Sync log").click()
    wait_for(browser, lambda d: "Download as CSV" in text_of(d))
    # The frame follows each page's content: shorter after the long settings, and never a
    # scrollbar inside the portal's own.
    browser.switch_to.default_content()
    frame = browser.find_element(By.CSS_SELECTOR, "iframe[data-frame]")
    wait_for(browser, lambda d: frame.size["height"] < settings_height)
    browser.switch_to.frame(frame)
    assert browser.execute_script(
        "return document.documentElement.scrollHeight <= document.documentElement.clientHeight + 1")
    assert browser.find_elements(By.XPATH, "//button[normalize-space()='Retry']")  # the failed invoice
    assert_accessible(browser, "sync log")
    save_page(browser, screenshots / "sync-log.png")
