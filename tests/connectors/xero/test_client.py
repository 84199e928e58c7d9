"""The accounting client against mocked HTTP: budgets, batches, idempotency, paging."""
import json
from decimal import Decimal

import pytest
import responses
from responses import matchers

from bridge.errors import BudgetExhausted, PermanentError, RetryableError
from bridge.extensions import db
from bridge.models import LedgerConnection
from bridge.ratelimit import limiter_for_app

from .conftest import TENANT, envelope

LIMIT_HEADERS = {"X-MinLimit-Remaining": "58", "X-DayLimit-Remaining": "4990", "X-AppMinLimit-Remaining": "9999"}


def test_every_call_carries_tenant_accept_and_bearer_and_budgets_are_learnt(app_ctx, ledger, mocked, api):
    mocked.get(f"{api}/Accounts", json=envelope("Accounts", []), headers=LIMIT_HEADERS,
               match=[matchers.header_matcher({"xero-tenant-id": TENANT, "Accept": "application/json",
                                               "Authorization": "Bearer access-one"})])
    assert ledger.sales_accounts() == []
    budget = limiter_for_app(app_ctx).budget(f"xero:{TENANT}")
    assert budget["remaining_day"] == 4990 and budget["remaining_minute"] == 58


def test_a_batch_with_one_bad_element_keeps_the_good_ones(ledger, mocked, api):
    good = {"InvoiceID": "inv-1", "InvoiceNumber": "B24-1", "Status": "DRAFT", "Type": "ACCREC",
            "StatusAttributeString": "OK", "Total": 10}
    bad = {"InvoiceID": "00000000-0000-0000-0000-000000000000", "InvoiceNumber": "B24-2",
           "StatusAttributeString": "ERROR", "HasValidationErrors": True,
           "ValidationErrors": [{"Message": "The TaxType code 'OUTPUT' cannot be used with account code '200'."}],
           "LineItems": [{"ValidationErrors": [{"Message": "Account code '999' is not a valid code for this document."}]}]}
    mocked.put(f"{api}/Invoices", json=envelope("Invoices", [good, bad]),
               match=[matchers.query_param_matcher({"summarizeErrors": "false", "unitdp": "4"})])
    result = ledger.client.save_invoices([{"InvoiceNumber": "B24-1"}, {"InvoiceNumber": "B24-2"}], "key-1", create=True)
    first, second = result.elements
    assert first.ok and first.data["InvoiceID"] == "inv-1"
    assert not second.ok and isinstance(second.error, PermanentError)
    assert second.error.message == "The tax rate OUTPUT and the sales account 200 of a line do not go together in Xero."
    assert "Settings" in second.error.fix
    assert second.error.ledger_messages == [
        "The TaxType code 'OUTPUT' cannot be used with account code '200'.",
        "Account code '999' is not a valid code for this document."]


def test_writes_carry_an_idempotency_key_and_a_new_one_after_an_error(ledger, mocked, api):
    calls = []

    def answer(request):
        calls.append(request.headers["Idempotency-Key"])
        if len(calls) == 1:
            return 429, {"Retry-After": "2", "X-Rate-Limit-Problem": "minute"}, ""
        return 200, {}, json.dumps(envelope("Payments", [{"PaymentID": "p-1", "StatusAttributeString": "OK"}]))

    mocked.add_callback(responses.PUT, f"{api}/Payments", callback=answer)
    waits = []
    ledger.client.sleep = waits.append
    result = ledger.client.save_payments([{"Amount": Decimal("5.00")}], "pay-key")
    assert result.elements[0].ok
    # Xero caches an error under its key (NOTES 2): the repeat must use another one.
    assert calls[0] == "pay-key" and calls[1] != "pay-key" and len(calls[1]) <= 128
    assert waits == [2.0]  # exactly Retry-After (NOTES 7)
    assert json.loads(mocked.calls[0].request.body) == {"Payments": [{"Amount": 5.00}]}
    assert b'"Amount":5.00' in mocked.calls[0].request.body


def test_a_429_with_a_long_retry_after_is_left_to_the_job_engine(ledger, mocked, api):
    mocked.get(f"{api}/TaxRates", status=429, headers={"Retry-After": "40", "X-Rate-Limit-Problem": "minute"})
    ledger.client.sleep = lambda s: pytest.fail("must not wait 40 s inside a job")
    with pytest.raises(RetryableError) as caught:
        ledger.tax_codes()
    assert caught.value.retry_after == 40 and not isinstance(caught.value, BudgetExhausted)


def test_the_day_limit_pauses_the_organisation_for_every_worker(app_ctx, ledger, mocked, api, connection):
    mocked.get(f"{api}/Accounts", status=429, headers={"Retry-After": "7200", "X-Rate-Limit-Problem": "day",
                                                      "X-DayLimit-Remaining": "0"})
    with pytest.raises(BudgetExhausted) as caught:
        ledger.sales_accounts()
    assert 7100 < caught.value.retry_after <= 7200
    db.session.expire_all()
    row = db.session.get(LedgerConnection, connection.id)
    assert row.health == "paused" and row.paused_until is not None
    assert abs((row.paused_until - caught.value.resume_at).total_seconds()) < 1
    # The next call, from any worker, waits without calling Xero.
    calls_before = len(mocked.calls)
    with pytest.raises(BudgetExhausted):
        ledger.tax_codes()
    assert len(mocked.calls) == calls_before
    assert limiter_for_app(app_ctx).paused_until(f"xero:{TENANT}") is not None


def test_a_401_refreshes_once_and_repeats_the_call(app_ctx, ledger, mocked, api, token_url):
    mocked.get(f"{api}/Currencies", status=401, json={"Title": "Unauthorized"},
               match=[matchers.header_matcher({"Authorization": "Bearer access-one"})])
    mocked.get(f"{api}/Currencies", json=envelope("Currencies", [{"Code": "NZD"}]),
               match=[matchers.header_matcher({"Authorization": "Bearer access-two"})])
    mocked.post(token_url, json={"access_token": "access-two", "refresh_token": "refresh-two", "expires_in": 1800,
                                 "token_type": "Bearer"})
    assert ledger.client.currencies() == [{"Code": "NZD"}]
    assert "refresh_token=refresh-one" in mocked.calls[1].request.body


def test_paging_reads_until_a_short_page_and_ids_are_chunked_to_50(ledger, mocked, api):
    ids = [f"00000000-0000-0000-0000-{i:012d}" for i in range(120)]
    seen = []

    def answer(request):
        wanted = request.params["IDs"].split(",")
        seen.append(len(wanted))
        assert request.params["page"] == "1" and request.params["unitdp"] == "4"
        return 200, {}, json.dumps(envelope("Invoices", [{"InvoiceID": i, "Type": "ACCREC", "Status": "DRAFT",
                                                          "LineItems": []} for i in wanted]))

    mocked.add_callback(responses.GET, f"{api}/Invoices", callback=answer)
    documents = ledger.get_invoices(ids)
    assert seen == [50, 50, 20] and [d.ledger_id for d in documents] == ids

    pages = {"1": 1000, "2": 3}

    def paged(request):
        count = pages[request.params["page"]]
        assert request.params["pageSize"] == "1000"
        assert request.params["order"] == "UpdatedDateUTC ASC"  # an import goes on from its last contact
        assert request.headers["If-Modified-Since"] == "2026-01-02T03:04:05+00:00"
        return 200, {}, json.dumps(envelope("Contacts", [{"ContactID": f"c{n}", "Name": "x"} for n in range(count)]))

    mocked.add_callback(responses.GET, f"{api}/Contacts", callback=paged)
    from datetime import datetime, timezone
    parties = list(ledger.changed_parties(datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=timezone.utc)))
    assert len(parties) == 1003


def test_a_validation_exception_becomes_a_sentence_with_xeros_words_kept(ledger, mocked, api):
    mocked.post(f"{api}/Invoices/inv-9", status=400, json={
        "ErrorNumber": 10, "Type": "ValidationException", "Message": "A validation exception occurred",
        "Elements": [{"ValidationErrors": [{"Message": "Organisation is not subscribed to currency EUR"}]}]})
    with pytest.raises(PermanentError) as caught:
        ledger.client.update_invoice("inv-9", {"Status": "AUTHORISED"}, "k")
    assert caught.value.message == "The invoice's currency is not enabled in the Xero organisation."
    assert caught.value.ledger_messages == ["Organisation is not subscribed to currency EUR"]


def test_an_outage_is_retried_later_and_not_parsed(ledger, mocked, api):
    mocked.get(f"{api}/Organisation", status=503, body="Service Unavailable", content_type="text/plain")
    with pytest.raises(RetryableError) as caught:
        ledger.client.organisation()
    assert caught.value.status == 503
