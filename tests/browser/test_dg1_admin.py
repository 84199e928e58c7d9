"""The DG1 admin in headless Chromium, as DG1 frames it (the sandbox admin panel on
``localhost`` framing bridge on ``127.0.0.1``): in the language the launch names, the frame
grown to the page (one scrollbar, the panel's), and "Settings saved." in view after Submit."""
from __future__ import annotations

from tests.browser.conftest import axe_violations, save_page
from tests.e2e.test_dg1_bexio_browser import _wait, cross_site_shop  # noqa: F401  (fixture)


def test_the_settings_page_in_french_grows_its_frame_and_shows_saved_where_the_admin_is(
        cross_site_shop, browser, screenshots):  # noqa: F811
    from selenium.webdriver.common.by import By

    live = cross_site_shop
    # The demo shop's EUR site makes the currency rule refuse any save; this shop sells in CHF only.
    live.sandbox.systems["dg1"].store.tenants["demo"].sites.pop("eu", None)
    browser.get(f"{live.sandbox_url}/admin.dg1.ch/demo/bexio/settings?site=ch&lang=fr")
    frame = browser.find_element(By.ID, "app")
    browser.switch_to.frame(frame)
    _wait(lambda: "Réglages" in browser.find_element(By.TAG_NAME, "h1").text)
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
    content = browser.execute_script("return Math.ceil(document.documentElement.getBoundingClientRect().height)")
    browser.switch_to.default_content()
    # DG1 sized its frame to the page: nothing scrolls inside the frame.
    _wait(lambda: browser.execute_script("return document.getElementById('app').clientHeight") >= content)
    browser.switch_to.frame(browser.find_element(By.ID, "app"))
    assert browser.execute_script("return document.scrollingElement.scrollHeight <= window.innerHeight + 1")
    button = browser.find_element(By.CSS_SELECTOR, "#settings-form button[type=submit]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)  # as the admin scrolls to it
    button.click()
    saved = _wait(lambda: browser.find_element(By.ID, "saved-by-button"))
    errors = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".error, [role=alert]")]
    assert saved.text == "Réglages enregistrés.", errors
    top_in_frame = browser.execute_script("return arguments[0].getBoundingClientRect().top", saved)
    browser.switch_to.default_content()
    frame_top = browser.execute_script("return document.getElementById('app').getBoundingClientRect().top")
    viewport = browser.execute_script("return window.innerHeight")
    assert 0 <= frame_top + top_in_frame <= viewport  # where the admin is looking, in the panel's window
    browser.switch_to.frame(browser.find_element(By.ID, "app"))
    assert axe_violations(browser) == []
    save_page(browser, screenshots / "dg1-settings-fr.png", frame_css="#app")


def test_the_preview_of_an_order_opens_under_it_in_the_frame_and_sends_nothing(
        cross_site_shop, browser, screenshots):  # noqa: F811
    from selenium.webdriver.common.by import By

    from tests.connectors.bexio.live_support import state as bexio_state
    from tests.connectors.dg1.test_live import place_order, wait_delivered

    live = cross_site_shop
    order = place_order(live)
    wait_delivered(live, 1)
    live.run_jobs()  # automatic sync is off: nothing is sent to Bexio
    browser.get(f"{live.sandbox_url}/admin.dg1.ch/demo/bexio/orders?site=ch&lang=de")
    browser.switch_to.frame(browser.find_element(By.ID, "app"))
    row = f"order-{order['id']}"
    _wait(lambda: browser.find_element(By.ID, row))
    browser.find_element(By.CSS_SELECTOR, f"#{row} a.preview-link").click()
    preview = _wait(lambda: browser.find_element(By.CSS_SELECTOR, f"#preview-{order['id']} table.preview"))
    text = browser.find_element(By.ID, f"preview-{order['id']}").text
    assert "nichts wird gesendet" in text and "Netto" in text and preview.is_displayed()
    assert f"Bestellung {order['number']} " in text  # the number the admin knows, not DG1's id
    # Opened under its row, it widens nothing: no scrollbar inside the frame, sideways either.
    assert browser.execute_script("return document.scrollingElement.scrollWidth <= window.innerWidth")
    # Its long German heading wraps inside the preview, readable whole (only the table scrolls).
    assert browser.execute_script(
        "const h = document.getElementById(arguments[0]), box = h.parentElement.getBoundingClientRect();"
        "return h.getBoundingClientRect().right <= box.right + 1 && h.scrollWidth <= h.clientWidth + 1",
        f"preview-heading-{order['id']}")
    assert axe_violations(browser) == []
    save_page(browser, screenshots / "dg1-order-preview-de.png", frame_css="#app")
    assert bexio_state(live)["invoices"] == []  # the preview sent nothing
