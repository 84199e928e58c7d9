"""Token refresh through the vault: invalid_grant, and a refresh response lost on the way."""
import pytest
import requests
from responses import matchers

from bridge.errors import NeedsReconnect, RetryableError
from bridge.extensions import db
from bridge.models import Credential, LedgerConnection, SyncRecord
from bridge.vault import vault_for_app

from .conftest import envelope


@pytest.fixture
def expired(app_ctx, connection):
    """Tokens whose access token has run out, so the next call refreshes first."""
    vault_for_app(app_ctx).replace(connection.credential_id, {"access_token": "access-one",
                                                              "refresh_token": "refresh-one", "expires_in": 1})
    return connection


def test_invalid_grant_marks_the_connection_needs_reconnect(app_ctx, expired, ledger, mocked, api, token_url):
    mocked.post(token_url, status=400, json={"error": "invalid_grant"})
    with pytest.raises(NeedsReconnect) as caught:
        ledger.tax_codes()
    assert "connect Xero again" in caught.value.fix
    db.session.expire_all()
    assert db.session.get(LedgerConnection, expired.id).health == "needs_reconnect"
    assert db.session.get(Credential, expired.credential_id).state == "needs_reconnect"
    # No accounting call was made with a dead token, and later calls fail fast without Xero.
    assert [c.request.url for c in mocked.calls] == [token_url]
    with pytest.raises(NeedsReconnect):
        ledger.sales_accounts()
    assert len(mocked.calls) == 1


def test_needs_reconnect_is_shown_on_the_sync_record_of_the_failed_run(app_ctx, expired, installation, mocked,
                                                                       token_url, run_jobs):
    from bridge.connectors.xero.connection import build
    from bridge.engine import FLOWS, WorkRequest, request_work

    mocked.post(token_url, status=400, json={"error": "invalid_grant"})
    FLOWS["test.xero_tax_codes"] = lambda ctx: build(installation).tax_codes()
    try:
        request_work(WorkRequest(installation.id, "test.xero_tax_codes", "settings:tax"))
        db.session.commit()
        run_jobs()
    finally:
        FLOWS.pop("test.xero_tax_codes")
    record = db.session.scalars(db.select(SyncRecord)).one()
    assert record.state == "failed" and record.error_code == "invalid_grant"
    assert record.error_fix == "Open Settings and connect Xero again."


def test_a_lost_refresh_response_is_retried_with_the_same_refresh_token(app_ctx, expired, ledger, mocked, api,
                                                                         token_url):
    # The first refresh reaches Xero but its answer is lost; Xero keeps the previous refresh
    # token valid for 30 minutes (NOTES 1), so the retry sends the same token and succeeds.
    mocked.post(token_url, body=requests.ConnectionError("connection reset"))
    with pytest.raises(RetryableError):
        ledger.tax_codes()
    mocked.replace("POST", token_url, json={"access_token": "access-two", "refresh_token": "refresh-two",
                                            "expires_in": 1800, "token_type": "Bearer"},
                   match=[matchers.urlencoded_params_matcher({"grant_type": "refresh_token",
                                                              "refresh_token": "refresh-one"})])
    mocked.get(f"{api}/TaxRates", json=envelope("TaxRates", []),
               match=[matchers.header_matcher({"Authorization": "Bearer access-two"})])
    assert ledger.tax_codes() == []
    tokens = vault_for_app(app_ctx).read(expired.credential_id)
    assert tokens.data["refresh_token"] == "refresh-two"  # the rotated token was saved before use
    assert db.session.get(LedgerConnection, expired.id).health == "ok"
