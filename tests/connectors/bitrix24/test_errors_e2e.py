"""Each class of Bitrix24 error, as the sandbox portal answers it over real HTTP, through the real client.

The sandbox answers as the published docs say (bridge/sandbox/bitrix24/errors.py cites them); the
client must turn each answer into the error a user is shown: retried later, refused for good, or a
reconnect. The code decides, so each case also holds at the other statuses the docs and Bitrix24's
SDK give the same code (tests/connectors/bitrix24/test_errors.py).
"""
from __future__ import annotations

import pytest
import requests

from bridge.connectors.bitrix24.client import Bitrix24Client, StaticAuth, WebhookAuth
from bridge.errors import NeedsReconnect, PermanentError, RetryableError
from bridge.messages import render
from bridge.sandbox import SandboxHost, create_sandbox_app
from tests.support.servers import serve_in_thread

ACME = "acme.bitrix24.com"


@pytest.fixture
def portal():
    host = SandboxHost(app_url="http://127.0.0.1:9", public_url="")
    running = serve_in_thread(create_sandbox_app(host))
    host.public_url = running.url
    running.host = host
    running.cloud = host.systems["bitrix24"].cloud
    yield running
    running.stop()


def control(portal, path: str, **body) -> dict:
    response = requests.post(f"{portal.url}/_sandbox/bitrix24{path}", json=body, timeout=10)
    assert response.status_code < 300, response.text
    return response.json()


def app_client(portal, user_id: int = 1) -> Bitrix24Client:
    token = control(portal, f"/portals/{ACME}/install", mode="tokens", user_id=user_id)["auth"]["access_token"]
    return Bitrix24Client(StaticAuth(f"{portal.url}/{ACME}/rest/", token), sleep=lambda s: None)


def webhook_client(portal, scopes: list[str] | None = None, secret: str = "hooksecret") -> Bitrix24Client:
    url = control(portal, f"/portals/{ACME}/webhooks", secret=secret, scopes=scopes)["url"]
    return Bitrix24Client(WebhookAuth(url), sleep=lambda s: None)


def words(error) -> str:
    """What the user reads: the message and what to do, in English."""
    return f"{render(error.message, 'en')} {render(error.fix, 'en')}"


def raised(call) -> Exception:
    with pytest.raises((RetryableError, PermanentError, NeedsReconnect)) as caught:
        call()
    return caught.value


def test_a_missing_parameter_is_refused_for_good_with_the_portals_words(portal):
    client = app_client(portal)
    error = raised(lambda: client.call("crm.item.get", {"entityTypeId": 31}))
    assert isinstance(error, PermanentError) and not isinstance(error, NeedsReconnect)
    assert (error.code, error.status) == ("100", 400)
    assert error.ledger_messages == ["Could not find value for parameter {id}"]
    assert "missed a value" in words(error) and "tell bridge's support" in words(error)
    assert raised(lambda: client.call("crm.item.add", {"entityTypeId": 31})).code == "100"


def test_an_unknown_entity_type_is_a_record_not_found(portal):
    client = app_client(portal)
    error = raised(lambda: client.call("crm.item.get", {"entityTypeId": 1268, "id": 1}))
    assert isinstance(error, PermanentError) and error.code == "NOT_FOUND"
    assert "not found" in words(error) and "nothing needs doing" in words(error)
    old = raised(lambda: client.call("crm.item.get", {"entityTypeId": 5, "id": 1}))
    assert old.code == "ENTITY_TYPE_NOT_SUPPORTED" and "Check and repair setup" in words(old)


def test_a_missing_scope_is_refused_and_names_no_reconnect(portal):
    client = webhook_client(portal, scopes=["user_brief"])
    error = raised(lambda: client.call("crm.item.list", {"entityTypeId": 31}))
    assert type(error) is PermanentError and (error.code, error.status) == ("insufficient_scope", 401)
    assert error.ledger_messages == ["The request requires higher privileges than provided by the webhook token"]
    assert "lacks a Bitrix24 permission" in words(error) and "Tick the scopes crm, catalog" in words(error)


def test_an_expired_webhook_is_invalid_credentials_and_says_to_make_a_new_one(portal):
    client = webhook_client(portal)
    portal.cloud.portals[ACME].webhooks["hooksecret"].expires_at = 0
    error = raised(lambda: client.call("profile"))
    assert isinstance(error, NeedsReconnect) and (error.code, error.status) == ("INVALID_CREDENTIALS", 401)
    assert "no longer accepts the inbound webhook" in words(error)
    assert "flask --app app bitrix24 webhook" in words(error) and "install" not in words(error)


def test_a_wrong_webhook_is_invalid_credentials_and_asks_for_a_new_one(portal):
    client = Bitrix24Client(WebhookAuth(f"{portal.url}/{ACME}/rest/1/wrongsecret/"), sleep=lambda s: None)
    error = raised(lambda: client.call("profile"))
    assert isinstance(error, NeedsReconnect) and (error.code, error.status) == ("INVALID_CREDENTIALS", 401)
    assert "Inbound webhook, make the webhook again" in words(error)


def test_a_call_without_authorisation_is_no_auth_found_and_asks_to_install_again(portal):
    app_client(portal)
    client = Bitrix24Client(StaticAuth(f"{portal.url}/{ACME}/rest/", ""), sleep=lambda s: None)
    error = raised(lambda: client.call("profile"))
    assert isinstance(error, NeedsReconnect) and (error.code, error.status) == ("NO_AUTH_FOUND", 401)
    assert "install it again" in words(error)


def test_a_plan_without_rest_is_access_denied_for_the_app_and_the_webhook(portal):
    app, hook = app_client(portal), webhook_client(portal)
    control(portal, f"/portals/{ACME}/settings", rest_unavailable=True)
    for client, text in ((app, "REST is available only on commercial plans"),
                         (hook, "REST is available only by subscription")):
        error = raised(lambda: client.call("crm.item.list", {"entityTypeId": 31}))
        assert type(error) is PermanentError and (error.code, error.status) == ("ACCESS_DENIED", 401)
        assert error.ledger_messages == [text] and "needs a paid plan" in words(error)


def test_an_action_for_administrators_is_access_denied(portal):
    client = app_client(portal, user_id=2)  # Bob is no administrator
    error = raised(lambda: client.call("event.bind", {"event": "ONCRMCONTACTADD", "event_type": "offline"}))
    assert type(error) is PermanentError and (error.code, error.status) == ("ACCESS_DENIED", 403)
    assert "Ask a Bitrix24 administrator" in words(error)


def test_a_binding_through_a_webhook_is_wrong_auth_type(portal):
    error = raised(lambda: webhook_client(portal).call("placement.bind", {"PLACEMENT": "LEFT_MENU",
                                                                        "HANDLER": "https://x.example/"}))
    assert type(error) is PermanentError and error.code == "WRONG_AUTH_TYPE"


def test_a_deleted_portal_is_permanent_not_a_server_hiccup(portal):
    client = app_client(portal)
    control(portal, f"/portals/{ACME}/settings", deleted=True)
    error = raised(lambda: client.call("app.info"))
    assert type(error) is PermanentError and (error.code, error.status) == ("PORTAL_DELETED", 403)
    assert "public part is closed" in words(error) and "Temporary closure of the public part" in words(error)


def test_limits_are_retried_later(portal):
    client = app_client(portal)
    control(portal, f"/portals/{ACME}/settings", operation_time_limit={"method": "crm.item.list", "seconds": 600})
    blocked = raised(lambda: client.call("crm.item.list", {"entityTypeId": 31}))
    assert isinstance(blocked, RetryableError) and blocked.code == "OPERATION_TIME_LIMIT"
    portal.cloud.portals[ACME].bucket.capacity = 0
    flooded = raised(lambda: client.call("profile"))
    assert isinstance(flooded, RetryableError) and flooded.code == "QUERY_LIMIT_EXCEEDED"


def test_an_expired_token_that_cannot_be_renewed_is_retried(portal):
    client = app_client(portal)
    portal.host.clock.advance(3601)
    error = raised(lambda: client.call("profile"))
    assert isinstance(error, RetryableError) and error.code == "expired_token"


def test_a_method_the_portal_lacks_and_an_old_style_refusal(portal):
    client = app_client(portal)
    missing = raised(lambda: client.call("crm.invoice.list"))  # a portal with smart invoices only
    assert type(missing) is PermanentError and missing.code == "ERROR_METHOD_NOT_FOUND"
    control(portal, f"/portals/{ACME}/settings", invoices="both")
    not_there = raised(lambda: client.call("crm.invoice.get", {"id": 999}))
    # The old CRM methods send an empty code: the status decides, and the portal's words travel along.
    assert type(not_there) is PermanentError and not_there.code == "http_400"
    assert not_there.ledger_messages == ["Not found"]
