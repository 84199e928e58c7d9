"""A real browser on the Bitrix24 app: headless Chromium (from Debian) drives the sandbox
portal, served on ``localhost``, which frames bridge, served on ``127.0.0.1`` - two sites,
so the iframe is cross-site as in production (no cookies, CSP frame-ancestors).

Xero is connected headlessly (tokens minted by the sandbox's control endpoint, stored as a
connection), because Xero allows http redirect URIs only on localhost and the app is not
on localhost here. Screenshots go to a temporary folder, or to ``BRIDGE_SCREENSHOTS``
(``make screenshots`` sets docs/screenshots).
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from bridge import create_app
from bridge.extensions import db, huey
from bridge.sandbox import SandboxHost, create_sandbox_app
from tests.conftest import database_url, require
from tests.support.live import Live, _Deferred
from tests.support.schema import fresh_schema
from tests.support.servers import serve_in_thread

ACME = "acme.bitrix24.com"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "static" / "vendor" / "axe.min.js"


def start_cross_site(tmp_path) -> Live:
    deferred = _Deferred()
    app_server = serve_in_thread(deferred, host="127.0.0.1")
    sandbox_server = serve_in_thread(create_sandbox_app(sandbox := SandboxHost(app_url=app_server.url, public_url="")))
    sandbox_url = f"http://localhost:{sandbox_server.server.server_port}"
    sandbox.public_url = sandbox_url
    app = create_app({"BRIDGE_ENV": "test", "INSTANCE_PATH": str(tmp_path / "instance"),
                      "DATABASE_URL": database_url(tmp_path), "SANDBOX_URL": sandbox_url, "PUBLIC_URL": app_server.url})
    with app.app_context():
        fresh_schema()
    huey.flush()
    deferred.target = app
    return Live(app=app, app_url=app_server.url, sandbox_url=sandbox_url, sandbox=sandbox,
                servers=[app_server, sandbox_server])


def connect_xero_headlessly(live: Live, installation_id: int, organisation: str) -> None:
    from bridge.connectors.xero.oauth import XeroConnection
    from bridge.connectors.xero.connection import attach_organisation
    from bridge.models import Installation
    from bridge.vault import vault_for_app

    tenant = next(o["tenantId"] for o in live.control("xero/orgs", method="GET") if o["name"] == organisation)
    minted = live.control("xero/tokens", json={"tenant_ids": [tenant]})
    connection = next(c for c in minted["connections"] if c["tenantId"] == tenant)
    tokens = {k: minted[k] for k in ("access_token", "refresh_token", "expires_in", "scope", "token_type")
              if k in minted}
    with live.app.app_context():
        credential = vault_for_app(live.app).create("xero", tokens)
        db.session.commit()
        attach_organisation(db.session.get(Installation, installation_id), credential,
                            XeroConnection(str(connection.get("id") or connection.get("connectionId")), tenant, organisation))
    live.tenant = tenant


@pytest.fixture
def portal(tmp_path):
    """The app installed in acme through its install page; Xero connected; 15 % mapped."""
    from bridge.connectors.bitrix24 import store
    from bridge.settings import save_section

    live = start_cross_site(tmp_path)
    try:
        live.control("bitrix24/settings", json={"allow_insecure_handlers": True})
        auth = live.control(f"bitrix24/portals/{ACME}/install", json={"mode": "page"})["auth"]
        live.control("bitrix24/events/wait", json={"timeout": 5})
        with live.app.app_context():
            installation_id = store.find(auth["member_id"]).id
        connect_xero_headlessly(live, installation_id, "Bridge Demo (NZ)")
        with live.app.app_context():
            installation = store.find(auth["member_id"])
            save_section(installation, "mapping", {"tax_rates": {"15": "OUTPUT2"}, "default_sales_account": "200"})
            db.session.commit()
        live.installation_id = installation_id
        yield live
    finally:
        live.stop()


@pytest.fixture
def browser(tmp_path):
    require(bool(shutil.which("chromium") or os.path.exists(CHROMIUM)), "Chromium is not installed")
    require(os.path.exists(CHROMEDRIVER), "chromedriver is not installed")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        require(False, "selenium is not installed (requirements-dev.txt)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-background-networking",
                     f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1280,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console errors, for the tour test
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def screenshots(tmp_path) -> Path:
    folder = Path(os.environ.get("BRIDGE_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def axe_violations(driver, impacts=("serious", "critical")) -> list[dict]:
    """Run axe-core (npm, copied to static/vendor by `make install`) in the current frame."""
    require(AXE.exists(), "static/vendor/axe.min.js missing: run `make install`")
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations)).catch(e => done([{id: 'axe-error', impact: 'critical', description: String(e), nodes: []}]));")
    return [v for v in result if v.get("impact") in impacts]


def save_page(driver, path: Path, frame_css: str | None = "iframe[data-frame]", max_height: int = 2400) -> None:
    """A screenshot of the whole page the user scrolls (the portal's, with the app's frame
    grown to its content by BX24.fitWindow), not only the window's first 1000 pixels.
    Called from inside the app's frame, it comes back into that frame afterwards."""
    from selenium.webdriver.common.by import By

    inside = driver.execute_script("return window.self !== window.top")
    driver.switch_to.default_content()
    width, height = driver.get_window_size()["width"], driver.get_window_size()["height"]
    measure = "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)"
    full = 0
    for _ in range(20):  # until the frame has stopped growing (htmx fragments arrive, BX24.fitWindow follows)
        again = driver.execute_script(measure)
        if again == full:
            break
        full = again
        time.sleep(0.25)
    chrome = height - driver.execute_script("return window.innerHeight")  # the window's own bars
    driver.set_window_size(width, min(max(full + chrome, height), max_height + chrome))
    try:
        driver.save_screenshot(str(path))
    finally:
        driver.set_window_size(width, height)
        if inside and frame_css:
            driver.switch_to.frame(driver.find_element(By.CSS_SELECTOR, frame_css))
