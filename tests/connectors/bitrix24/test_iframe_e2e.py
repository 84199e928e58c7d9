"""End to end: the invoice tab as the portal frames it, and its "sync now" form."""
from __future__ import annotations

import json
import re

import requests
from sqlalchemy import select

from bridge.extensions import db
from bridge.models import WorkItem

from .conftest import ACME


def launch(live, installed, placement="CRM_SMART_INVOICE_DETAIL_TAB", options=None, user_id=1, **override):
    """POST the page as a portal does (NOTES s2): DOMAIN etc. in the query, the rest in the form."""
    pair = live.control(f"bitrix24/portals/{ACME}/tokens", json={"user_id": user_id})
    form = dict(installed["form"], AUTH_ID=pair["access_token"], REFRESH_ID=pair["refresh_token"],
                PLACEMENT=placement, PLACEMENT_OPTIONS=json.dumps(options or {}))
    form.update(override)
    path = "/bitrix24/placement/invoice" if placement != "DEFAULT" else "/bitrix24/app"
    return requests.post(f"{live.app_url}{path}", params=installed["query"], data=form, timeout=10)


def new_invoice(live):
    contact = live.control(f"bitrix24/portals/{ACME}/contacts", json={"fields": {"NAME": "Ada", "LAST_NAME": "Lovelace"}})
    return live.control(f"bitrix24/portals/{ACME}/invoices",
                        json={"fields": {"title": "Consulting", "contactId": contact["ID"]}})["item"]


def test_invoice_tab_shows_state_and_frames_only_for_its_portal(live, installed):
    invoice = new_invoice(live)
    response = launch(live, installed, options={"ID": str(invoice["id"]), "URI": "/crm/type/31/details/1/"})
    assert response.status_code == 200
    assert "Accounting" in response.text and "Sync now" in response.text  # no ledger connected yet: neutral
    assert "X-Frame-Options" not in response.headers
    csp = response.headers["Content-Security-Policy"]
    # The portal's origin only: browsers match frame-ancestors by origin, a path never matches
    # (the browser tests in tests/browser frame the tab through the sandbox portal).
    assert csp == f"frame-ancestors 'self' {live.sandbox_url}"
    # AUTH_ID and the application token never go back to the browser.
    assert installed["form"]["APPLICATION_TOKEN"] not in response.text


def test_a_forged_application_token_gets_401(live, installed):
    response = launch(live, installed, options={"ID": "1"}, APPLICATION_TOKEN="forged")
    assert response.status_code == 401


def test_an_access_token_the_portal_does_not_know_gets_401(live, installed):
    response = launch(live, installed, options={"ID": "1"}, AUTH_ID="not-a-token-of-this-portal")
    assert response.status_code == 401


def test_a_launch_without_the_invoice_id_gets_400(live, installed):
    response = launch(live, installed, options={})
    assert response.status_code == 400
    assert "ID" in response.text


def test_sync_now_requests_work_with_the_signed_form_token_and_no_cookie(live, installed, placeholder_flows):
    invoice = new_invoice(live)
    live.control("bitrix24/events/wait", json={"timeout": 5})
    live.run_jobs()
    page = launch(live, installed, options={"ID": str(invoice["id"])})
    assert "Set-Cookie" not in page.headers
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
    url = f"{live.app_url}/bitrix24/placement/invoice/{invoice['id']}/sync"
    response = requests.post(url, data={"token": token}, timeout=10)
    assert response.status_code == 200 and "Sync requested." in response.text
    with live.app.app_context():
        item = db.session.scalar(select(WorkItem).where(WorkItem.object_key == f"invoice:{invoice['id']}"))
        assert item.state == "queued" and item.flow == "invoice_to_ledger"
    assert requests.post(url, data={"token": token + "x"}, timeout=10).status_code == 401
    # The token names its invoice: it cannot start another one's sync.
    other = f"{live.app_url}/bitrix24/placement/invoice/999/sync"
    assert requests.post(other, data={"token": token}, timeout=10).status_code == 401
    assert requests.post(url, data={}, timeout=10).status_code == 400


def test_main_page_shows_the_setup_to_an_admin(live, installed):
    response = launch(live, installed, placement="DEFAULT")
    assert response.status_code == 200
    assert "Check and repair setup" in response.text
    non_admin = launch(live, installed, placement="DEFAULT", user_id=2)
    assert non_admin.status_code == 200 and "Check and repair setup" not in non_admin.text
