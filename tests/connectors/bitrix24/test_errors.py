"""The Bitrix24 error table decides by the error code, at whatever status the portal sends it.

The same code comes with different statuses in the published docs and in Bitrix24's SDK
(docs/bitrix24.md, "Errors"); the numeric codes of the engine methods come as numbers or strings.
"""
from __future__ import annotations

import pytest
import responses

from bridge.connectors.bitrix24.client import Bitrix24Client, StaticAuth
from bridge.connectors.bitrix24.errors import ERRORS
from bridge.errors import NeedsReconnect, PermanentError, RetryableError

EP = "https://x.bitrix24.com/rest/"

# code -> (the class a user meets, the statuses it is documented or observed with)
DOCUMENTED = {
    "insufficient_scope": (PermanentError, (403, 401)),
    "ACCESS_DENIED": (PermanentError, (403, 401, 400)),
    "INVALID_CREDENTIALS": (PermanentError, (403, 401)),
    "PORTAL_DELETED": (PermanentError, (500, 410, 403)),
    "NOT_FOUND": (PermanentError, (400, 404)),
    "100": (PermanentError, (400,)),
    "NO_AUTH_FOUND": (NeedsReconnect, (401,)),
    "expired_token": (RetryableError, (401,)),
    "QUERY_LIMIT_EXCEEDED": (RetryableError, (503,)),
    "OPERATION_TIME_LIMIT": (RetryableError, (429,)),
}


@pytest.mark.parametrize("code,status", [(code, status) for code, (_, statuses) in DOCUMENTED.items()
                                         for status in statuses])
def test_each_code_gets_its_own_rule_at_every_documented_status(code, status):
    wanted, _ = DOCUMENTED[code]
    error = ERRORS.error(status, code)
    assert type(error) is wanted and error.code == code
    assert error.message == ERRORS.error(400, code).message  # the same words whatever the status


def test_a_401_with_a_known_code_is_not_taken_for_a_lost_installation():
    assert type(ERRORS.error(401, "insufficient_scope")) is PermanentError
    assert type(ERRORS.error(401, "INVALID_CREDENTIALS")) is PermanentError
    assert isinstance(ERRORS.error(401, None), NeedsReconnect)  # no code at all: the status is all there is


def test_an_unknown_code_never_borrows_the_rule_of_its_status():
    assert type(ERRORS.error(401, "SOMETHING_NEW")) is PermanentError
    assert str(ERRORS.error(403, "SOMETHING_NEW").message) != str(ERRORS.error(403, None).message)
    assert isinstance(ERRORS.error(503, "SOMETHING_NEW"), RetryableError)


def test_numeric_and_structured_codes_are_codes():
    assert ERRORS.error(400, 100).code == ERRORS.error(400, "100").code == "100"
    assert ERRORS.error(400, 100).message == ERRORS.error(400, "100").message
    assert ERRORS.error(400, {"code": "NOT_FOUND", "message": "x"}).code == "NOT_FOUND"
    assert ERRORS.error(400, "").code == "http_400"
    assert ERRORS.error(401, "EXPIRED_TOKEN").message == ERRORS.error(401, "expired_token").message


@responses.activate
def test_the_client_reads_a_numeric_code_off_the_wire():
    responses.post(EP + "crm.item.get", status=400,
                   json={"error": 100, "error_description": "Could not find value for parameter {id}"})
    client = Bitrix24Client(StaticAuth(EP, "token-1"), sleep=lambda s: None)
    with pytest.raises(PermanentError) as caught:
        client.call("crm.item.get", {"entityTypeId": 31})
    assert caught.value.code == "100" and caught.value.ledger_messages == ["Could not find value for parameter {id}"]


def test_a_webhook_refused_is_told_to_make_a_new_webhook_not_to_install_the_app():
    from bridge.connectors.bitrix24.client import WebhookAuth
    from bridge.connectors.bitrix24.errors import NEW_WEBHOOK, WEBHOOK_ERRORS
    from bridge.messages import render

    for code in ("INVALID_CREDENTIALS", "NO_AUTH_FOUND", None):
        error = WEBHOOK_ERRORS.error(401, code)
        assert isinstance(error, NeedsReconnect) and error.fix == NEW_WEBHOOK
        assert "flask --app app bitrix24 webhook" in render(error.fix, "en")
    assert "webhook" in render(WEBHOOK_ERRORS.error(401, "insufficient_scope").fix, "en")
    assert type(ERRORS.error(401, "INVALID_CREDENTIALS")) is PermanentError  # the app's: the user's rights
    assert Bitrix24Client(WebhookAuth("https://x.example/rest/1/s/")).errors is WEBHOOK_ERRORS
    assert Bitrix24Client(StaticAuth(EP, "t")).errors is ERRORS
    # Everything else a webhook meets reads as the app's table says.
    assert WEBHOOK_ERRORS.error(403, "PORTAL_DELETED").message == ERRORS.error(403, "PORTAL_DELETED").message
