"""The REST client on mocked HTTP: envelopes, batch, paging, refresh, limits, redirects."""
from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qs, unquote

import pytest
import responses

from bridge.connectors.bitrix24.client import (Bitrix24Client, OAuthAuth, StaticAuth, WebhookAuth, command,
                                               php_pairs, token_url_for)
from bridge.errors import NeedsReconnect, PermanentError, RetryableError
from bridge.vault import vault_for_app

EP = "https://x.bitrix24.com/rest/"


def make(auth=None, **kw) -> Bitrix24Client:
    return Bitrix24Client(auth or StaticAuth(EP, "token-1"), sleep=lambda s: None, **kw)


@responses.activate
def test_a_call_posts_json_with_auth_and_reads_decimal_money():
    responses.post(EP + "crm.item.get", json={"result": {"item": {"id": 5}}, "time": {"operating_reset_at": 1}})
    responses.post(EP + "crm.item.productrow.list",
                   body='{"result":{"productRows":[{"price":10.10}]},"total":1,"time":{}}')
    assert make().call("crm.item.get", {"entityTypeId": 31, "id": 5}).result == {"item": {"id": 5}}
    body = json.loads(responses.calls[0].request.body)
    assert body == {"entityTypeId": 31, "id": 5, "auth": "token-1"}
    reply = make().call("crm.item.productrow.list", {"filter": {"=ownerId": 5}})
    assert reply.result["productRows"][0]["price"] == Decimal("10.10") and reply.total == 1


@responses.activate
def test_the_documented_batch_envelope_gives_per_command_results_and_errors():
    # Shape of NOTES s9: HTTP 200 even when a command fails; empty maps come as [].
    responses.post(EP + "batch", json={"result": {
        "result": {"inv": {"item": {"id": 1}}, "rows": {"productRows": []}},
        "result_error": {"co": {"error": "NOT_FOUND", "error_description": "Not found"}},
        "result_total": {"rows": 0}, "result_next": [], "result_time": {}}, "time": {}})
    reply = make().batch({"inv": ("crm.item.get", {"entityTypeId": 31, "id": 1}),
                          "rows": ("crm.item.productrow.list", {"filter": {"=ownerType": "SI", "=ownerId": 1}}),
                          "co": ("crm.company.get", {"id": "$result[inv][item][companyId]"})})
    assert reply.ok("inv") and reply.get("inv") == {"item": {"id": 1}}
    assert isinstance(reply.errors["co"], PermanentError) and reply.errors["co"].ledger_messages == ["Not found"]
    cmd = json.loads(responses.calls[0].request.body)["cmd"]
    assert unquote(cmd["rows"]) == "crm.item.productrow.list?filter[=ownerType]=SI&filter[=ownerId]=1"
    assert cmd["co"] == "crm.company.get?id=$result[inv][item][companyId]"
    with pytest.raises(ValueError):
        make().batch({str(n): ("profile", {}) for n in range(51)})


def test_nested_params_are_bracket_encoded_without_losing_data():
    pairs = php_pairs({"fields": {"TITLE": "A&B", "EMAIL": [{"VALUE": "a@b.c", "VALUE_TYPE": "WORK"}]},
                       "select": ["id"], "flag": True, "none": None, "price": Decimal("1.10")})
    assert pairs == [("fields[TITLE]", "A&B"), ("fields[EMAIL][0][VALUE]", "a@b.c"),
                     ("fields[EMAIL][0][VALUE_TYPE]", "WORK"), ("select[0]", "id"), ("flag", "Y"), ("none", ""),
                     ("price", "1.10")]
    parsed = parse_qs(command("crm.contact.add", {"fields": {"TITLE": "A&B"}}).split("?", 1)[1])
    assert parsed == {"fields[TITLE]": ["A&B"]}


@responses.activate
def test_lists_page_with_next_and_fast_paging_by_id():
    responses.post(EP + "crm.contact.list", json={"result": [{"ID": "1"}], "next": 50, "total": 51, "time": {}})
    responses.post(EP + "crm.contact.list", json={"result": [{"ID": "51"}], "total": 51, "time": {}})
    assert [r["ID"] for r in make().list_all("crm.contact.list", {})] == ["1", "51"]
    assert [json.loads(c.request.body)["start"] for c in responses.calls] == [0, 50]
    responses.reset()
    page = [{"ID": str(n)} for n in range(1, 51)]
    responses.post(EP + "crm.contact.list", json={"result": page, "time": {}})
    responses.post(EP + "crm.contact.list", json={"result": [{"ID": "51"}], "time": {}})
    assert len(list(make().list_fast("crm.contact.list", {"filter": {"TYPE_ID": "CLIENT"}}))) == 51
    second = json.loads(responses.calls[1].request.body)
    assert second["filter"] == {"TYPE_ID": "CLIENT", ">ID": 50} and second["start"] == -1
    assert second["order"] == {"ID": "ASC"}


@responses.activate
def test_query_limit_exceeded_is_retried_then_handed_back_as_retryable():
    limit = {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
    responses.post(EP + "profile", json=limit, status=503)
    responses.post(EP + "profile", json={"result": {"ID": 1}, "time": {}})
    assert make().call("profile").result == {"ID": 1}
    responses.reset()
    responses.post(EP + "profile", json=limit, status=503)
    with pytest.raises(RetryableError) as caught:
        make().call("profile")
    assert caught.value.code == "QUERY_LIMIT_EXCEEDED" and len(responses.calls) == 3


@responses.activate
def test_operation_time_limit_waits_until_the_reset_the_portal_announced():
    import time
    reset = time.time() + 300
    responses.post(EP + "crm.item.update", json={"result": {}, "time": {"operating_reset_at": reset}})
    responses.post(EP + "crm.item.update", json={"error": "OPERATION_TIME_LIMIT", "error_description": "blocked"},
                   status=429)
    client = make()
    client.call("crm.item.update")
    with pytest.raises(RetryableError) as caught:
        client.call("crm.item.update")
    assert 290 < caught.value.retry_after <= 300


@responses.activate
def test_portal_deleted_is_permanent_though_it_is_a_500():
    responses.post(EP + "profile", json={"error": "PORTAL_DELETED", "error_description": "Portal was deleted"},
                   status=500)
    with pytest.raises(PermanentError) as caught:
        make().call("profile")
    assert "deleted" in caught.value.message and not isinstance(caught.value, RetryableError)


@responses.activate
def test_a_renamed_portal_is_followed_without_losing_the_body():
    responses.post(EP + "crm.item.update", status=302, headers={"Location": "https://new.bitrix24.com/rest/crm.item.update"})
    responses.post("https://new.bitrix24.com/rest/crm.item.update", json={"result": {"item": {}}, "time": {}})
    moved = []
    hook = WebhookAuth("https://x.bitrix24.com/rest/1/secret/", on_moved=moved.append)
    responses.post("https://x.bitrix24.com/rest/1/secret/profile", status=301,
                   headers={"Location": "https://new.bitrix24.com/rest/1/secret/profile"})
    responses.post("https://new.bitrix24.com/rest/1/secret/profile", json={"result": {"ID": 1}, "time": {}})
    client = make()
    client.call("crm.item.update", {"id": 1, "fields": {"title": "x"}})
    assert json.loads(responses.calls[1].request.body)["fields"] == {"title": "x"}
    assert client.auth.current().endpoint == "https://new.bitrix24.com/rest/"
    make(hook).call("profile")
    assert moved == ["https://new.bitrix24.com/rest/1/secret/"]


def test_the_token_url_comes_from_the_server_endpoint():
    assert token_url_for("https://oauth.bitrix.info/rest/", "d") == "https://oauth.bitrix.info/oauth/token/"
    assert token_url_for("https://oauth.bitrix24.tech/rest", "d") == "https://oauth.bitrix24.tech/oauth/token/"
    assert token_url_for(None, "https://default/oauth/token/") == "https://default/oauth/token/"


@responses.activate
def test_expired_token_is_refreshed_once_and_the_rotated_pair_stored(app_ctx):
    vault = vault_for_app(app_ctx)
    cred = vault.create("bitrix24", {"access_token": "old", "refresh_token": "r1", "expires_in": 3600,
                                     "client_endpoint": EP, "server_endpoint": "https://oauth.bitrix.info/rest/"})
    from bridge.extensions import db
    db.session.commit()
    auth = OAuthAuth(vault, cred, client_id="cid", client_secret="sec", member_id="m1",
                     default_token_url="https://oauth.bitrix.info/oauth/token/")
    responses.post(EP + "profile", json={"error": "expired_token", "error_description": "expired"}, status=401)
    responses.post("https://oauth.bitrix.info/oauth/token/", json={
        "access_token": "new", "refresh_token": "r2", "expires_in": 3600, "member_id": "m1",
        "client_endpoint": EP, "server_endpoint": "https://oauth.bitrix.info/rest/"})
    responses.post(EP + "profile", json={"result": {"ID": 1}, "time": {}})
    assert make(auth).call("profile").result == {"ID": 1}
    assert json.loads(responses.calls[2].request.body)["auth"] == "new"
    assert "client_secret=sec" in responses.calls[1].request.body and "refresh_token=r1" in responses.calls[1].request.body
    assert vault.read(cred).data["refresh_token"] == "r2"
    responses.reset()
    responses.post(EP + "profile", json={"error": "expired_token"}, status=401)
    responses.post("https://oauth.bitrix.info/oauth/token/", json={"error": "invalid_grant"}, status=400)
    with pytest.raises(NeedsReconnect):
        make(auth).call("profile")
