"""Error pages inside the portal's or shop's frame: readable, saying what to do, framed only
for the portal (or shop) whose page failed."""
from __future__ import annotations

import pytest
from flask_babel import refresh

from bridge.connectors.bitrix24.iframe import Viewer, form_token
from bridge.web.bitrix24.pages import APP_PAGES


PORTAL = "https://acme.bitrix24.com"


def _expired(portal, monkeypatch, lang="en"):
    token = form_token(Viewer(portal, 1, True, "Ada", lang=lang), APP_PAGES)
    monkeypatch.setattr("bridge.connectors.bitrix24.iframe.FORM_TOKEN_MAX_AGE", -1)
    return token


def test_a_page_left_open_too_long_says_reload_inside_its_own_portal_only(client, portal, monkeypatch):
    token = _expired(portal, monkeypatch)
    answer = client.get("/bitrix24/app/settings/progress", query_string={"token": token})
    assert answer.status_code == 401
    assert "This page was open too long. Reload it in Bitrix24." in answer.get_data(as_text=True)
    policy = answer.headers["Content-Security-Policy"]
    assert policy == f"frame-ancestors 'self' {PORTAL}"  # that portal, no other site
    assert "X-Frame-Options" not in answer.headers


def test_the_refusal_of_an_expired_page_reads_in_the_language_it_was_opened_in(client, portal, monkeypatch):
    token = _expired(portal, monkeypatch, lang="de")
    refresh()  # the tests share one app context; a real request has its own locale
    body = client.get("/bitrix24/app/settings/progress", query_string={"token": token}).get_data(as_text=True)
    assert "Reload it in Bitrix24" not in body and "Bitrix24" in body


def test_a_forged_token_names_no_portal_and_is_framed_by_no_one(client, portal):
    answer = client.get("/bitrix24/app/settings/progress", query_string={"token": "forged.token.here"})
    assert answer.status_code == 401 and answer.headers["Content-Security-Policy"] == "frame-ancestors 'none'"


@pytest.fixture
def failing_settings(app, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom in a helper")

    monkeypatch.setattr("bridge.web.bitrix24.settings.connection_health", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)


def test_a_page_that_fails_says_what_to_do_in_the_portals_frame_without_the_error_inside(
        client, portal, failing_settings):
    token = form_token(Viewer(portal, 1, True, "Ada"), APP_PAGES)
    answer = client.get("/bitrix24/app/settings", query_string={"token": token})
    body = answer.get_data(as_text=True)
    assert answer.status_code == 500
    assert "Something went wrong in bridge while showing this page." in body and "Reload the page" in body
    assert "RuntimeError" not in body and "boom" not in body and "Traceback" not in body
    assert answer.headers["Content-Security-Policy"] == f"frame-ancestors 'self' {PORTAL}"


def test_a_failure_outside_any_frame_stays_unframeable(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    monkeypatch.setattr("bridge.web.landing.render_template", lambda *a, **k: 1 / 0)
    answer = client.get("/")
    assert answer.status_code == 500 and "Reload the page" in answer.get_data(as_text=True)
    assert answer.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
