"""The Bitrix24 token renewal carries its secrets in a POST form, never in the URL (proxies and
access logs keep URLs); a server that did not read the form is asked once more the documented
way; and a failing renewal leaves neither secret in a log line or a sync record."""
from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs, urlencode

import pytest
import requests
import responses
from sqlalchemy import select

from bridge import engine
from bridge.connectors.bitrix24.client import refresh_tokens
from bridge.errors import NeedsReconnect, RetryableError, SyncError
from bridge.extensions import db
from bridge.engine import WorkRequest, request_work
from bridge.models import SyncRecord

SECRET = "client-secret-9f8e7d6c5b4a3928"
REFRESH = "refresh-token-1a2b3c4d5e6f7081"
FRESH = {"access_token": "at-2", "refresh_token": "rt-2", "expires_in": 3600, "member_id": "m1",
         "client_endpoint": "https://x.bitrix24.com/rest/", "server_endpoint": "https://oauth.bitrix.info/rest/"}
NOT_INSTALLED = {"error": "invalid_client", "error_description": "Application not installed"}
FORM = {"grant_type": "refresh_token", "client_id": "cid", "client_secret": SECRET, "refresh_token": REFRESH}


def renew(url: str) -> dict:
    return refresh_tokens(url, "cid", SECRET, REFRESH, timeout=5)


@responses.activate
def test_the_refresh_request_url_carries_no_secret():
    url = "https://oauth.bitrix.info/oauth/token/"
    responses.post(url, json=FRESH)
    assert renew(url)["access_token"] == "at-2"
    (call,) = responses.calls
    assert call.request.method == "POST" and call.request.url == url
    assert SECRET not in call.request.url and REFRESH not in call.request.url
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert {k: v for k, (v,) in parse_qs(call.request.body).items()} == FORM


@responses.activate
def test_a_server_not_yet_seen_reading_the_form_is_asked_once_more_the_documented_way():
    """Bitrix24 documents only the GET (settings/oauth/auto-renewal.md). A server that ignores
    the form sees no client_id and answers invalid_client: the query string's answer decides."""
    url = "https://oauth.form-unread.test/oauth/token/"
    responses.post(url, status=401, json=NOT_INSTALLED)
    responses.get(url, json=FRESH)
    assert renew(url)["access_token"] == "at-2"
    assert [c.request.method for c in responses.calls] == ["POST", "GET"]
    assert parse_qs(responses.calls[1].request.url.split("?", 1)[1])["client_secret"] == [SECRET]


@responses.activate
def test_a_server_that_read_the_form_before_is_believed_when_it_refuses():
    url = "https://oauth.form-read.test/oauth/token/"
    responses.post(url, json=FRESH)
    renew(url)
    responses.replace(responses.POST, url, status=401, json=NOT_INSTALLED)
    with pytest.raises(NeedsReconnect):
        renew(url)
    assert [c.request.method for c in responses.calls] == ["POST", "POST"]


@pytest.mark.parametrize("status, body, error", [
    (400, {"error": "invalid_grant", "error_description": "Invalid grant"}, NeedsReconnect),
    (503, {"error": "temporarily_unavailable"}, RetryableError),
], ids=["spent refresh token", "5xx"])
@responses.activate
def test_a_refusal_that_read_the_form_is_not_asked_again(status, body, error):
    url = "https://oauth.form-refused.test/oauth/token/"
    responses.post(url, status=status, json=body)
    with pytest.raises(error):
        renew(url)
    assert [c.request.method for c in responses.calls] == ["POST"]


def _leaks(text: str) -> list[str]:
    return [secret for secret in (SECRET, REFRESH) if secret in text]


@responses.activate
def test_a_failing_refresh_leaves_neither_secret_in_a_log_line_or_a_sync_record(app_ctx, installation, monkeypatch,
                                                                                run_jobs, caplog):
    """The worst case: the server did not read the form, and the documented GET then breaks
    with a transport error quoting the URL it failed on, query string and all (as urllib3's
    messages do). The flow's error, its traceback in the log and the sync record are kept
    clean; so is a server's error description that echoes what it was sent."""
    url = "https://oauth.broken.test/oauth/token/"
    query = urlencode(FORM)
    responses.post(url, status=400, json={"error": "invalid_request", "error_description": f"cannot parse {query}"})
    responses.get(url, body=requests.exceptions.ChunkedEncodingError(
        f"Connection broken: IncompleteRead (url: /oauth/token/?{query})"))

    def flow(ctx: engine.WorkContext) -> None:
        ctx.record(object_kind="invoice", object_id="1", direction="to_ledger")
        renew(url)

    monkeypatch.setitem(engine.FLOWS, "invoice_to_ledger", flow)
    monkeypatch.setitem(engine.BATCH_SIZES, "invoice_to_ledger", 1)
    request_work(WorkRequest(installation.id, "invoice_to_ledger", "invoice:1", {}))
    db.session.commit()
    with caplog.at_level(logging.DEBUG):
        run_jobs()
    assert [c.request.method for c in responses.calls] == ["POST", "GET"]  # the GET did go out
    db.session.expire_all()
    (record,) = db.session.scalars(select(SyncRecord)).all()
    assert record.state in ("retrying", "failed") and record.error_message
    stored = json.dumps([record.error_message, record.error_fix, record.ledger_messages])
    assert _leaks(stored) == []
    assert "Traceback" in caplog.text or "ChunkedEncodingError" in caplog.text  # the failure was logged
    assert _leaks(caplog.text) == []


@responses.activate
def test_the_echo_of_a_refused_renewal_is_redacted_where_it_is_recorded(app_ctx, installation, monkeypatch,
                                                                        run_jobs):
    url = "https://oauth.form-echo.test/oauth/token/"
    responses.post(url, json=FRESH)
    renew(url)  # this server reads the form: its refusal is believed as it is
    responses.replace(responses.POST, url, status=400,
                      json={"error": "invalid_grant", "error_description": f"unknown refresh_token={REFRESH}"})

    def flow(ctx: engine.WorkContext) -> None:
        ctx.record(object_kind="invoice", object_id="1", direction="to_ledger")
        renew(url)

    monkeypatch.setitem(engine.FLOWS, "invoice_to_ledger", flow)
    monkeypatch.setitem(engine.BATCH_SIZES, "invoice_to_ledger", 1)
    with pytest.raises(SyncError) as raised:
        renew(url)
    assert _leaks(" ".join(raised.value.ledger_messages or [])) == [REFRESH]  # what the server said, as it said it
    request_work(WorkRequest(installation.id, "invoice_to_ledger", "invoice:1", {}))
    db.session.commit()
    run_jobs()
    db.session.expire_all()
    (record,) = db.session.scalars(select(SyncRecord)).all()
    assert record.ledger_messages and _leaks(json.dumps(record.ledger_messages)) == []


def test_the_secret_in_an_inbound_webhooks_path_is_redacted_from_log_lines(app, caplog):
    """A self-hosted portal's inbound webhook has its secret in the path, the only form Bitrix24
    offers (docs/bitrix24.md, "Secrets in URLs"); the request lines urllib3 logs print it."""
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("urllib3.connectionpool").debug(
            '%s "%s %s HTTP/1.1" %s', "https://crm.example.com:443", "POST", "/rest/1/abc123def456/crm.item.list", 200)
    assert "abc123def456" not in caplog.text and "/rest/1/[redacted]/crm.item.list" in caplog.text
