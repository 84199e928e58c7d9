"""A German portal (LANG=de) in a real browser: the invoice tab, the settings and the Xero
transactions dashboard speak German and write numbers, money and dates the German way."""
from __future__ import annotations

import re
from decimal import Decimal

from babel.numbers import format_currency

from bridge.dashboard.refresh import request_refresh
from bridge.extensions import db
from bridge.models import LedgerConnection

from .conftest import ACME, save_page
from .test_bitrix24_app import assert_accessible, enter_app_frame, open_main_page, text_of, wait_for

GERMAN_DATE = re.compile(r"\b\d{2}\.\d{2}\.\d{4}\b")


def german_invoice(live) -> dict:
    company = live.control(f"bitrix24/portals/{ACME}/companies", json={"fields": {"TITLE": "Globex GmbH"}})
    body = {"fields": {"title": "Workshop Dezember", "companyId": company["ID"], "currencyId": "NZD"},
            "rows": [{"productName": "Workshop-Tag", "price": "1234.50", "quantity": 1, "taxRate": 15,
                      "taxIncluded": "N"}]}
    return live.control(f"bitrix24/portals/{ACME}/invoices", json=body)["item"]


def fill_the_dashboard(live, transactions: int = 120) -> None:
    live.control(f"xero/orgs/{live.tenant}/seed", json={"bank_transactions": transactions, "payments": 10})
    with live.app.app_context():
        request_refresh(db.session.scalars(db.select(LedgerConnection)).one())
        db.session.commit()
    live.run_jobs()


def test_a_german_portal_sees_german_words_and_german_numbers(portal, browser, screenshots):
    from selenium.webdriver.common.by import By

    live = portal
    live.control(f"bitrix24/portals/{ACME}/settings", json={"language": "de"})
    live.control("bitrix24/events/auto", json={"on": False})
    item = german_invoice(live)
    fill_the_dashboard(live)

    # The invoice tab: German words, the preview's money as "1.234,50".
    browser.get(f"{live.sandbox_url}/{ACME}/crm/type/31/details/{item['id']}/")
    browser.find_elements(By.CSS_SELECTOR, ".tabs a")[-1].click()
    enter_app_frame(browser)
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "de"
    assert "Noch nicht synchronisiert." in text_of(browser)
    wait_for(browser, lambda d: "Kunde:" in text_of(d))
    preview = browser.find_element(By.CSS_SELECTOR, "table.preview").text
    assert "1.234,50" in preview and "1,234.50" not in preview, preview
    assert browser.find_element(By.XPATH, "//button[normalize-space()='Jetzt synchronisieren']")
    assert_accessible(browser, "invoice tab (de)")
    save_page(browser, screenshots / "invoice-tab-de.png")

    # The settings: German headings; the portal's VAT rates offered with German percents.
    open_main_page(live, browser)
    assert "Letzte Synchronisierungsversuche" in text_of(browser) or "Einstellungen" in text_of(browser)
    browser.find_element(By.LINK_TEXT, "Einstellungen").click()
    wait_for(browser, lambda d: "Steuern und Erlöskonten" in text_of(d))
    rates = [o.text.replace("\u00a0", " ") for o in browser.find_elements(By.CSS_SELECTOR, "#tax-rate-1 option")]
    assert "VAT 15% (15 %)" in rates and "VAT 9% (9 %)" in rates, rates
    assert not any("18" in r for r in rates)  # the portal's retired rate is not offered
    page = text_of(browser)
    for german in ("Die Rechnung in die Phase „gesendet“ verschieben, wenn", "Import aus Xero",
                   "Neue Xero-Kunden einmal täglich importieren"):
        assert german in page, german
    sent_when = [o.text for o in browser.find_elements(By.CSS_SELECTOR, "#sent_when option")]
    assert sent_when == ["Xero sie als an den Kunden gesendet markiert", "sie freigegeben ist"], sent_when
    means = [o.text for o in browser.find_elements(By.CSS_SELECTOR, "#stage-1 option")]
    assert {"Automatisch", "Entwurf", "freigegeben", "bezahlt", "storniert"} <= set(means), means
    assert_accessible(browser, "settings (de)")
    save_page(browser, screenshots / "settings-de.png")

    # The dashboard, from the app's own menu: German counts, money and dates.
    browser.find_element(By.LINK_TEXT, "Xero-Transaktionen").click()
    wait_for(browser, lambda d: "Transaktionen; Seite 1 von" in d.find_element(By.ID, "count").text)
    count = browser.find_element(By.ID, "count").text
    assert count.startswith("130 Transaktionen; Seite 1 von 3"), count
    for strong in browser.find_elements(By.CSS_SELECTOR, ".totals strong"):
        value = Decimal(strong.get_attribute("data-value"))
        assert strong.text == format_currency(value, "NZD", locale="de").replace("\u00a0", " "), (strong.text, value)
    money_in = Decimal(browser.find_element(By.CSS_SELECTOR, "[data-total-in]").get_attribute("data-value"))
    assert money_in > 1000 and re.search(r"\d\.\d{3},\d{2}", browser.find_element(By.CSS_SELECTOR, "[data-total-in]").text)
    first_row = browser.find_element(By.CSS_SELECTOR, "table.transactions tbody tr").text
    assert GERMAN_DATE.search(first_row) and " NZ$" in first_row, first_row
    assert "Eingänge" in text_of(browser) and "Filter anwenden" in text_of(browser)
    axis = [t.text for t in browser.find_elements(By.CSS_SELECTOR, ".chart svg > text")]
    assert axis and all(re.fullmatch(r"\d{1,2}\. \w+\.?", label) for label in axis), axis  # "22. Nov."
    assert_accessible(browser, "dashboard (de)")
    save_page(browser, screenshots / "dashboard-de.png", max_height=1600)
