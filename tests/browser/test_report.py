"""The reconciliation report in headless Chromium inside the sandbox portal: the main page's
link with the open count, Start showing the new run at once and its numbers to the end
without a reload, the rows with their fixes, ignore, axe, and the README's screenshot."""
from __future__ import annotations

import time

from .conftest import ACME, save_page
from .test_bitrix24_app import assert_accessible, new_invoice, open_main_page, text_of, wait_for


def test_the_report_runs_from_start_and_ignore_hides_a_row(portal, browser, screenshots):
    from selenium.webdriver.common.by import By

    live = portal
    edited, gone, part_paid = new_invoice(live), new_invoice(live), new_invoice(live)
    live.control("bitrix24/events/wait", json={"timeout": 10})
    live.run_jobs()
    state = live.control(f"xero/orgs/{live.tenant}/state", method="GET")

    def in_xero(item):
        return next(i for i in state["invoices"] if i["Type"] == "ACCREC" and i["Url"].rstrip("/").endswith(f"/{item['id']}"))
    xero = in_xero(edited)
    live.control(f"xero/orgs/{live.tenant}/invoices/{in_xero(part_paid)['InvoiceID']}/approve")
    live.control("bitrix24/events/wait", json={"timeout": 10})
    live.run_jobs()  # the approval followed in Bitrix24
    live.control("xero/settings", json={"webhooks_enabled": False})  # held, not sent at once
    today = time.strftime("%Y-%m-%d", time.gmtime())
    live.control(f"xero/orgs/{live.tenant}/invoices/{in_xero(part_paid)['InvoiceID']}/pay",
                 json={"amount": "40.00", "date": today})  # a part payment in Xero; its webhook lost below
    live.control(f"xero/orgs/{live.tenant}/invoices/{xero['InvoiceID']}/edit", json={"LineItems": [{
        "Description": "Workshop day", "Quantity": 3, "UnitAmount": 1000, "TaxType": "OUTPUT2", "AccountCode": "200"}]})
    live.control("xero/webhooks/drop", json={"count": None})  # edited in Xero by hand; its webhook lost
    live.control("bitrix24/events/drop", json={"count": 100})
    live.control(f"bitrix24/portals/{ACME}/invoices/{gone['id']}", method="DELETE")  # its event lost too
    live.control("bitrix24/events/drop", json={"count": 0})

    open_main_page(live, browser)
    browser.find_element(By.PARTIAL_LINK_TEXT, "open differences between Bitrix24 and Xero").click()
    wait_for(browser, lambda d: "Not run yet." in text_of(d))
    browser.execute_script("window.bridgeMarker = 'same page';")
    browser.find_element(By.XPATH, "//button[normalize-space()='Start']").click()
    run = lambda d: d.find_element(By.ID, "report-run").text  # noqa: E731
    wait_for(browser, lambda d: "Waiting for the worker" in run(d) and "checked: 0" in run(d))  # at once
    live.run_jobs()  # the worker runs the report meanwhile; the page polls
    wait_for(browser, lambda d: "finished" in run(d) and "3 open differences" in run(d))
    rows = lambda d: d.find_element(By.ID, "report-rows").text  # noqa: E731
    wait_for(browser, lambda d: "Amounts differ" in rows(d) and "Gone here" in rows(d)  # reloaded by itself
             and "A payment not shown here" in rows(d) and "Paid 40.00 NZD in Xero" in rows(d))
    assert browser.execute_script("return window.bridgeMarker") == "same page"  # no reload
    assert_accessible(browser, "reconciliation report")
    save_page(browser, screenshots / "reconciliation-report.png")

    row = browser.find_element(By.XPATH, "//tr[td[normalize-space()='Gone here']]")
    row.find_element(By.XPATH, ".//button[normalize-space()='Ignore']").click()
    wait_for(browser, lambda d: "Ignored: the report no longer counts it." in rows(d))
    assert "Gone here" not in rows(browser) and "Amounts differ" in rows(browser)

    row = browser.find_element(By.XPATH, "//tr[td[normalize-space()='A payment not shown here']]")
    row.find_element(By.XPATH, ".//button[normalize-space()='Show it here']").click()
    wait_for(browser, lambda d: "The payment is shown under the invoice now." in rows(d))
    notes = [c for c in live.control(f"bitrix24/portals/{ACME}/state", method="GET").get("timeline") or []
             if str(c.get("ENTITY_ID")) == str(part_paid["id"])]
    assert len(notes) == 1 and "40.00 NZD" in notes[0]["COMMENT"]  # written once, under its invoice
