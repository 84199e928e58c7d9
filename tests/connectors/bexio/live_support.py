"""Connecting a Bexio company the way a user does, through the sandbox's real pages."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import requests

from bridge.extensions import db
from bridge.models import Installation, LedgerConnection
from bridge.settings import save_section

TIMEOUT = 10


@dataclass
class Connected:
    installation_id: int
    connection_id: int
    page: requests.Response
    browser: requests.Session


def make_installation(live, account_id: str = "tenant-1", **settings: Any) -> int:
    with live.app.app_context():
        installation = Installation(platform="dg1", account_id=account_id, domain=f"{account_id}.dg1.example")
        db.session.add(installation)
        db.session.flush()
        save_section(installation, "bexio", {"language": "de", "currency": "CHF", **settings})
        db.session.commit()
        return installation.id


def approve_page(live, installation_id: int, browser: requests.Session | None = None) -> tuple[requests.Session, requests.Response]:
    """Open the connect link; the browser ends on Bexio's sign-in and approve page."""
    from bridge.web.bexio.connect import connect_url

    browser = browser or requests.Session()
    with live.app.app_context():
        url = connect_url(installation_id)
    page = browser.get(url, timeout=TIMEOUT)
    assert page.status_code == 200 and "Allow" in page.text, page.text[:500]
    return browser, page


def submit(live, browser: requests.Session, page: requests.Response, login: str, action: str = "allow") -> requests.Response:
    consent_id = re.search(r"name='consent_id' value='([^']+)'", page.text).group(1)
    form_action = re.search(r"action='([^']+)'", page.text).group(1)
    return browser.post(live.sandbox_url + form_action, timeout=TIMEOUT,
                        data={"consent_id": consent_id, "login": login, "action": action})


def connect(live, login: str = "seeland:101", account_id: str = "tenant-1", **settings: Any) -> Connected:
    installation_id = make_installation(live, account_id, **settings)
    browser, page = approve_page(live, installation_id)
    result = submit(live, browser, page, login)
    assert result.status_code == 200, result.text[:500]
    with live.app.app_context():
        connection = db.session.query(LedgerConnection).filter_by(installation_id=installation_id,
                                                                  active=True).one()
        return Connected(installation_id, connection.id, result, browser)


def ledger(live, connected: Connected):
    """A fresh adapter, as a flow builds one (call inside ``live.app.app_context()``)."""
    from bridge.connectors.bexio.ledger import BexioLedger

    installation = db.session.get(Installation, connected.installation_id)
    connection = db.session.get(LedgerConnection, connected.connection_id)
    return BexioLedger.build(installation, connection)


def state(live, company: str = "seeland") -> dict:
    return live.control(f"bexio/companies/{company}/state", method="GET")
