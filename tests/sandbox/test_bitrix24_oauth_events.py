"""Tokens (expiry, rotation), event delivery, placements and the iframe launch form."""
from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.sandbox.bitrix24_support import ACME, control, install_tokens, rest, start_receiver

CLIENT = {"client_id": "local.bridge-demo.000001", "client_secret": "bridge-demo-secret"}


@pytest.fixture
def receiver(sandbox):
    running, rec = start_receiver()
    control(sandbox, "/settings", allow_insecure_handlers=True)
    yield rec
    running.stop()


def test_access_token_expires_after_an_hour_and_refresh_rotates(sandbox):
    auth = install_tokens(sandbox)["auth"]
    sandbox.host.clock.advance(3601)
    expired = rest(sandbox, ACME, "app.info", auth["access_token"])
    assert (expired.status_code, expired.json()["error"]) == (401, "expired_token")
    token_url = f"{sandbox.url}/oauth.bitrix.info/oauth/token/"
    fresh = requests.get(token_url, params={"grant_type": "refresh_token", "refresh_token": auth["refresh_token"], **CLIENT},
                         timeout=10).json()
    assert fresh["refresh_token"] != auth["refresh_token"] and fresh["member_id"] == auth["member_id"]
    assert fresh["client_endpoint"] == f"{sandbox.url}/{ACME}/rest/"
    assert fresh["server_endpoint"] == f"{sandbox.url}/oauth.bitrix.info/rest/"
    assert rest(sandbox, ACME, "app.info", fresh["access_token"]).status_code == 200
    reused = requests.get(token_url, params={"grant_type": "refresh_token", "refresh_token": auth["refresh_token"], **CLIENT},
                          timeout=10)
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
    bad_secret = requests.get(token_url, params={"grant_type": "refresh_token", "refresh_token": fresh["refresh_token"],
                                                 "client_id": CLIENT["client_id"], "client_secret": "nope"}, timeout=10)
    assert bad_secret.json()["error"] == "invalid_client"


def test_authorization_code_exchange(sandbox):
    install_tokens(sandbox)
    code = control(sandbox, f"/portals/{ACME}/auth-code")["code"]
    url = f"{sandbox.url}/oauth.bitrix.info/oauth/token/"
    pair = requests.get(url, params={"grant_type": "authorization_code", "code": code, **CLIENT}, timeout=10).json()
    assert rest(sandbox, ACME, "profile", pair["access_token"]).json()["result"]["ADMIN"] is True
    assert requests.get(url, params={"grant_type": "authorization_code", "code": code, **CLIENT}, timeout=10).status_code == 400


def test_events_only_after_install_finish_and_in_portal_form_format(sandbox, receiver):
    install = install_tokens(sandbox, finish=False)
    token = install["auth"]["access_token"]
    handler = f"{receiver.url}/hooks/bitrix24"
    assert rest(sandbox, ACME, "event.bind", token, event="ONCRMDYNAMICITEMUPDATE", handler=handler).json()["result"] is True
    item = control(sandbox, f"/portals/{ACME}/invoices", fields={"title": "before finish"})["item"]
    control(sandbox, f"/portals/{ACME}/invoices/{item['id']}", fields={"title": "still before"})
    control(sandbox, "/events/wait")
    assert receiver.calls == [] and rest(sandbox, ACME, "app.info", token).json()["result"]["INSTALLED"] is False

    control(sandbox, f"/portals/{ACME}/install-finish")
    control(sandbox, f"/portals/{ACME}/invoices/{item['id']}", fields={"stageId": "DT31_1:S"})
    control(sandbox, "/events/wait")
    [call] = receiver.calls
    assert call["content_type"] == "application/x-www-form-urlencoded"
    form = call["form"]
    assert form["event"] == "ONCRMDYNAMICITEMUPDATE" and form["data[FIELDS][ID]"] == str(item["id"])
    assert form["data[FIELDS][ENTITY_TYPE_ID]"] == "31" and form["event_handler_id"].isdigit() and form["ts"].isdigit()
    assert form["auth[application_token]"] == install["application_token"]
    assert form["auth[member_id]"] == install["auth"]["member_id"] and form["auth[domain]"] == ACME
    assert form["auth[client_endpoint]"] == f"{sandbox.url}/{ACME}/rest/"
    assert form["auth[server_endpoint]"] == f"{sandbox.url}/oauth.bitrix.info/rest/"
    assert "auth[refresh_token]" not in form
    assert rest(sandbox, ACME, "crm.item.get", form["auth[access_token]"], entityTypeId=31, id=item["id"]).status_code == 200


def test_failed_and_dropped_events_are_not_retried(sandbox, receiver):
    token = install_tokens(sandbox)["auth"]["access_token"]
    rest(sandbox, ACME, "event.bind", token, event="ONCRMCONTACTADD", handler=f"{receiver.url}/hooks/bitrix24")
    control(sandbox, "/events/drop", count=1)
    control(sandbox, f"/portals/{ACME}/contacts", fields={"NAME": "Dropped"})
    receiver.status = 500
    control(sandbox, f"/portals/{ACME}/contacts", fields={"NAME": "Failed"})
    control(sandbox, "/events/wait")
    log = control(sandbox, "/events/log", method="get")
    assert [entry["status"] for entry in log] == ["dropped", "failed"]
    assert len(receiver.calls) == 1  # the failed one came once, never again


def test_no_op_update_fires_nothing_and_robot_changes_carry_no_tokens(sandbox, receiver):
    token = install_tokens(sandbox)["auth"]["access_token"]
    rest(sandbox, ACME, "event.bind", token, event="ONCRMDYNAMICITEMUPDATE", handler=f"{receiver.url}/hooks/bitrix24")
    item = rest(sandbox, ACME, "crm.item.add", token, entityTypeId=31, fields={"title": "same"}).json()["result"]["item"]
    rest(sandbox, ACME, "crm.item.update", token, entityTypeId=31, id=item["id"], fields={"title": "same"})
    control(sandbox, f"/portals/{ACME}/invoices/{item['id']}", fields={"title": "by robot"}, as_robot=True)
    control(sandbox, "/events/wait")
    [call] = receiver.calls
    assert "auth[access_token]" not in call["form"] and call["form"]["auth[application_token]"]


def test_binding_twice_is_refused_like_the_portal_does(sandbox, receiver):
    token = install_tokens(sandbox)["auth"]["access_token"]
    handler = f"{receiver.url}/bitrix24/placement/invoice"
    args = {"PLACEMENT": "CRM_SMART_INVOICE_DETAIL_TAB", "HANDLER": handler, "TITLE": "Xero"}
    assert rest(sandbox, ACME, "placement.bind", token, **args).json()["result"] is True
    twice = rest(sandbox, ACME, "placement.bind", token, **args)
    assert twice.status_code == 400 and "Handler already binded" in twice.json()["error_description"]
    event = {"event": "ONCRMCONTACTADD", "handler": f"{receiver.url}/hooks/bitrix24"}
    rest(sandbox, ACME, "event.bind", token, **event)
    assert "already binded" in rest(sandbox, ACME, "event.bind", token, **event).json()["error_description"]
    assert len(rest(sandbox, ACME, "event.get", token).json()["result"]) == 1
    assert rest(sandbox, ACME, "event.unbind", token, **event).json()["result"] == {"count": 1}


def test_insecure_handlers_are_refused_unless_the_demo_setting_is_on(sandbox):
    token = install_tokens(sandbox)["auth"]["access_token"]
    refused = rest(sandbox, ACME, "event.bind", token, event="ONCRMCONTACTADD", handler="http://127.0.0.1:9/hooks/bitrix24")
    assert refused.json()["error"] == "ERROR_WRONG_HANDLER_URL"


def test_placement_tab_frames_an_auto_posting_form(sandbox, receiver):
    install = install_tokens(sandbox)
    token = install["auth"]["access_token"]
    handler = f"{receiver.url}/bitrix24/placement/invoice"
    rest(sandbox, ACME, "placement.bind", token, PLACEMENT="CRM_SMART_INVOICE_DETAIL_TAB", HANDLER=handler, TITLE="Xero")
    placement_id = control(sandbox, f"/portals/{ACME}/state", method="get")["placements"][0]["id"]
    item = control(sandbox, f"/portals/{ACME}/invoices", fields={"title": "framed"})["item"]
    card = requests.get(f"{sandbox.url}/{ACME}/crm/type/31/details/{item['id']}/?tab={placement_id}", timeout=10).text
    frame_src = re.search(r'<iframe data-frame="[^"]+" name="[^"]+" src="([^"]+)"', card).group(1)
    document = requests.get(f"{sandbox.url}{frame_src}", timeout=10).text
    action = unescape(re.search(r"action='([^']+)'", document).group(1))
    fields = {unescape(k): unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', document)}
    url = urlsplit(action)
    assert f"{url.scheme}://{url.netloc}{url.path}" == handler
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["DOMAIN"] == ACME and query["PROTOCOL"] == "0" and query["LANG"] == "en" and query["APP_SID"]
    assert fields["PLACEMENT"] == "CRM_SMART_INVOICE_DETAIL_TAB" and json.loads(fields["PLACEMENT_OPTIONS"])["ID"] == str(item["id"])
    assert fields["member_id"] == install["auth"]["member_id"] and fields["AUTH_EXPIRES"] == "3600"
    assert fields["APPLICATION_TOKEN"] == install["application_token"]
    assert rest(sandbox, ACME, "app.info", fields["AUTH_ID"]).status_code == 200
    assert fields["SERVER_ENDPOINT"].endswith("/oauth.bitrix.info/rest/") and fields["REFRESH_ID"]


def test_headless_install_posts_the_install_page_and_fires_onappinstall(sandbox, receiver):
    control(sandbox, "/app", install_url=f"{receiver.url}/bitrix24/placement/invoice")
    reply = control(sandbox, f"/portals/{ACME}/install")
    assert reply["page_status"] == 200
    [page] = receiver.calls
    assert page["args"]["DOMAIN"] == ACME and page["form"]["PLACEMENT"] == "DEFAULT"
    assert page["form"]["APPLICATION_TOKEN"] == reply["application_token"]
    assert control(sandbox, f"/portals/{ACME}/state", method="get")["installation"]["installed"] is True


def test_uninstall_sends_clean_flag_without_tokens(sandbox, receiver):
    token = install_tokens(sandbox)["auth"]["access_token"]
    rest(sandbox, ACME, "event.bind", token, event="ONAPPUNINSTALL", handler=f"{receiver.url}/hooks/bitrix24")
    control(sandbox, f"/portals/{ACME}/uninstall", clean=True)
    control(sandbox, "/events/wait")
    form = receiver.calls[0]["form"]
    assert form["event"] == "ONAPPUNINSTALL" and form["data[CLEAN]"] == "1" and "auth[access_token]" not in form
    assert rest(sandbox, ACME, "app.info", token).status_code == 401


def test_uninstall_revokes_the_apps_tokens_before_its_event_as_bitrix24_does(sandbox, receiver):
    """OnAppUninstall: the app's REST access is gone when the event goes out. A refresh then
    answers invalid_client (settings/oauth/error-codes: "the application may not be
    installed"); after a re-install the tokens of before stay dead (invalid_grant)."""
    auth = install_tokens(sandbox)["auth"]
    rest(sandbox, ACME, "event.bind", auth["access_token"], event="ONAPPUNINSTALL",
         handler=f"{receiver.url}/hooks/bitrix24")
    token_url = f"{sandbox.url}/oauth.bitrix.info/oauth/token/"
    refresh = {"grant_type": "refresh_token", "refresh_token": auth["refresh_token"], **CLIENT}
    control(sandbox, f"/portals/{ACME}/uninstall", clean=False)
    control(sandbox, "/events/wait")
    assert receiver.calls[0]["form"]["event"] == "ONAPPUNINSTALL"
    assert rest(sandbox, ACME, "app.info", auth["access_token"]).json()["error"] == "invalid_token"
    for method in ("get", "post"):  # the query-string and the form way alike
        refused = requests.request(method, token_url, **{"params" if method == "get" else "data": refresh}, timeout=10)
        assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
    install_tokens(sandbox)
    reused = requests.post(token_url, data=refresh, timeout=10)
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")


def test_offline_events_keep_one_record_per_object(sandbox):
    token = install_tokens(sandbox)["auth"]["access_token"]
    rest(sandbox, ACME, "event.bind", token, event="ONCRMDYNAMICITEMUPDATE", event_type="offline")
    item = rest(sandbox, ACME, "crm.item.add", token, entityTypeId=31, fields={"title": "x"}).json()["result"]["item"]
    for title in ("y", "z"):
        rest(sandbox, ACME, "crm.item.update", token, entityTypeId=31, id=item["id"], fields={"title": title})
    got = rest(sandbox, ACME, "event.offline.get", token, clear=0).json()["result"]
    assert len(got["events"]) == 1 and got["events"][0]["EVENT_DATA"]["FIELDS"]["ID"] == item["id"]
    assert rest(sandbox, ACME, "event.offline.clear", token, process_id=got["process_id"]).status_code == 200
    assert rest(sandbox, ACME, "event.offline.get", token).json()["result"]["events"] == []
