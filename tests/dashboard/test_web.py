"""The dashboard's filter/paging endpoint: trusted only with the page's form token, htmx gets
the results fragment, a browser without JS the whole page; a view never calls Xero."""
from __future__ import annotations

import html
import re

import pytest

from bridge.connectors.bitrix24.iframe import Viewer, form_token
from bridge.extensions import db
from tests.support.tasks import run_queued_tasks
from bridge.models import LedgerConnection, WorkItem


@pytest.fixture
def token(app, installation):
    with app.test_request_context():
        return form_token(Viewer(installation, 1, True, "Admin"), "dashboard")


def test_not_connected_says_what_to_do(client, token):
    page = client.post("/bitrix24/dashboard/results", data={"token": token})
    assert page.status_code == 200 and "Xero is not connected yet" in page.text


def test_first_view_queues_one_refresh_and_htmx_gets_the_fragment(client, installation, token, stand_in_flows):
    runs = stand_in_flows("xero_transactions_refresh")
    db.session.add(LedgerConnection(installation_id=installation.id, ledger="xero", organisation_id="org-1",
                                    organisation_name="Acme NZ"))
    db.session.commit()
    full = client.post("/bitrix24/dashboard/results", data={"token": token})
    assert "<html" in full.text and "being read from Xero" in full.text and 'id="results"' in full.text
    fragment = client.post("/bitrix24/dashboard/results", data={"token": token}, headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<section id="results"')
    assert db.session.query(WorkItem).filter_by(flow="xero_transactions_refresh").count() == 1
    run_queued_tasks()
    assert [r[1] for r in runs] == ["connection:1"]


def test_a_token_for_another_page_is_refused(app, client, installation):
    with app.test_request_context():
        other = form_token(Viewer(installation, 1, True, "Admin"), "invoice:5")
    assert client.post("/bitrix24/dashboard/results", data={"token": other}).status_code == 401


def test_a_connection_to_renew_is_said_above_the_figures(client, installation, token):
    db.session.add(LedgerConnection(installation_id=installation.id, ledger="xero", organisation_id="org-1",
                                    health="needs_reconnect"))
    db.session.commit()
    page = client.post("/bitrix24/dashboard/results", data={"token": token})
    assert "must be renewed: these figures are not being updated" in page.text
    assert db.session.query(WorkItem).count() == 0  # no refresh bound to fail


def test_the_apps_menu_opens_the_dashboard_with_its_token_and_only_with_it(app, client, installation):
    from bridge.web.bitrix24.pages import APP_PAGES

    with app.test_request_context():
        app_token = form_token(Viewer(installation, 1, True, "Admin", lang="de"), APP_PAGES)
        invoice_token = form_token(Viewer(installation, 1, True, "Admin"), "invoice:5")
    page = client.get("/bitrix24/dashboard", query_string={"token": app_token})
    assert page.status_code == 200 and "Xero-Transaktionen" in page.text  # the language of the launch
    # The app's menu on the page, with a token of its own (signed as the page is rendered: the
    # same viewer and pages, its time maybe a second later) that opens the settings page.
    menu = re.search(r'href="(/bitrix24/app/settings\?token=[^"]+)"', page.text)
    assert menu is not None and client.get(html.unescape(menu.group(1))).status_code == 200
    assert client.get("/bitrix24/dashboard", query_string={"token": invoice_token}).status_code == 401
    assert client.get("/bitrix24/dashboard").status_code == 400  # no launch, no token
