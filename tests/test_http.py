"""The shared HTTP client: typed errors from each connector's table, Retry-After, budgets."""
from __future__ import annotations

import pytest
import requests
import responses

from bridge.errors import BudgetExhausted, NeedsReconnect, PermanentError, RetryableError
from bridge.http import ApiClient, ErrorRule, ErrorTable, parse_retry_after

URL = "https://api.example.test/things"


class ExampleClient(ApiClient):
    system = "Example"
    errors = ErrorTable("Example", [
        ErrorRule(True, "Example is busy.", status=429, wait=60),
        ErrorRule(False, "Example needs you to reconnect.", status=401, reconnect=True, fix="Reconnect"),
        ErrorRule(False, "The portal was deleted.", status=500, code="PORTAL_DELETED", fix="Uninstall"),
        ErrorRule(True, "Daily budget spent.", status=429, code="day", pause=True, wait=3600),
    ])

    def error_code(self, response, body):
        return (body.get("error") if isinstance(body, dict) else None) or response.headers.get("X-Rate-Limit-Problem")

    def error_details(self, response, body):
        return [body["message"]] if isinstance(body, dict) and "message" in body else []


@responses.activate
def test_429_is_retryable_after_the_servers_retry_after():
    responses.get(URL, status=429, headers={"Retry-After": "17"})
    with pytest.raises(RetryableError) as caught:
        ExampleClient().request("GET", URL)
    assert caught.value.retry_after == 17


@responses.activate
def test_a_code_makes_a_500_permanent_with_a_fix():
    responses.get(URL, status=500, json={"error": "PORTAL_DELETED", "message": "Portal was deleted"})
    with pytest.raises(PermanentError) as caught:
        ExampleClient().request("GET", URL)
    assert (caught.value.fix, caught.value.ledger_messages) == ("Uninstall", ["Portal was deleted"])


@responses.activate
def test_unknown_5xx_is_retryable_and_unknown_4xx_permanent():
    responses.get(URL, status=502, body="Bad gateway")
    responses.get(URL + "/x", status=418, body="teapot")
    with pytest.raises(RetryableError):
        ExampleClient().request("GET", URL)
    with pytest.raises(PermanentError):
        ExampleClient().request("GET", URL + "/x")


@responses.activate
def test_401_becomes_needs_reconnect():
    responses.get(URL, status=401)
    with pytest.raises(NeedsReconnect):
        ExampleClient().request("GET", URL)


@responses.activate
def test_day_limit_pauses_the_key_through_the_limiter():
    class RecordingLimiter:
        paused: list = []

        def pause(self, key, seconds, reason):
            self.paused.append((key, seconds))

    responses.get(URL, status=429, headers={"Retry-After": "7200", "X-Rate-Limit-Problem": "day"})
    client = ExampleClient(limiter=RecordingLimiter(), budget_key="xero:org-1")
    with pytest.raises(BudgetExhausted) as caught:
        client.request("GET", URL)
    assert caught.value.retry_after == 7200
    assert RecordingLimiter.paused == [("xero:org-1", 7200)]


@responses.activate
def test_network_errors_are_retryable():
    responses.get(URL, body=requests.ConnectionError("refused"))
    with pytest.raises(RetryableError) as caught:
        ExampleClient().request("GET", URL)
    assert caught.value.code == "network"
    # What the sync log shows: plain words, never the exception's class.
    assert "connection failed" in caught.value.message and "ConnectionError" not in caught.value.message


def test_retry_after_as_date_or_seconds():
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0
    assert parse_retry_after("garbage") is None
