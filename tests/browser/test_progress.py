"""Progress that moves, in headless Chromium inside the sandbox portal: Start on the settings
page shows the new run at once (not the last run's numbers), and the numbers move to the
run's end without a reload."""
from __future__ import annotations

from bridge.extensions import db
from bridge.installations import active_connection
from bridge.models import Cursor, Installation

from .conftest import save_page
from .test_bitrix24_app import open_main_page, wait_for


def test_import_progress_shows_the_run_started_and_follows_it_to_its_end(portal, browser, screenshots):
    from selenium.webdriver.common.by import By

    live = portal
    live.control(f"xero/orgs/{live.tenant}/seed", json={"contacts": 6, "customers": True})
    with live.app.app_context():
        connection = active_connection(db.session.get(Installation, live.installation_id))
        db.session.add(Cursor(scope=f"installation:{live.installation_id}", name=f"party_import:{connection.id}",
                              value={"running": False, "done": 99, "created": 99, "updated": 0,
                                     "finished_at": "2026-12-01T10:00:00+00:00"}))  # a run of last week
        db.session.commit()
    open_main_page(live, browser)
    browser.find_element(By.LINK_TEXT, "Settings").click()
    jobs = lambda d: d.find_element(By.ID, "jobs").text  # noqa: E731
    wait_for(browser, lambda d: "read: 99" in jobs(d))
    browser.execute_script("window.bridgeMarker = 'same page';")
    start = browser.find_element(By.CSS_SELECTOR, "#jobs form button[type=submit]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", start)
    start.click()
    wait_for(browser, lambda d: "read: 0" in jobs(d) and "99" not in jobs(d))  # the new run, at once
    live.run_jobs()  # the worker runs the import meanwhile; the page polls
    wait_for(browser, lambda d: "finished" in jobs(d) and "created: 6" in jobs(d))
    assert browser.execute_script("return window.bridgeMarker") == "same page"  # no reload
    save_page(browser, screenshots / "settings-import-progress.png")
