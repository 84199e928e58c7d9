"""The DG1 client against mocked HTTP: auth, paging, problem+json errors, the shared budget."""
from __future__ import annotations

import json

import pytest
import responses
from responses import matchers

from bridge.connectors.dg1.client import DG1Client, budget_key
from bridge.errors import BudgetExhausted, NeedsReconnect, PermanentError, RetryableError
from bridge.extensions import db
from bridge.ratelimit import DatabaseLimiter

from .conftest import SAMPLE_ORDER

BASE = "https://api.dg1.test/api/v1"
PROBLEM = {"content_type": "application/problem+json"}


def problem(kind: str, status: int, detail: str, **extra) -> dict:
    return {"type": f"https://api.dg1.ch/problems/{kind}", "title": kind.replace("-", " ").capitalize(),
            "status": status, "detail": detail, "instance": "/api/v1/x", **extra}


def make_client(**kwargs) -> DG1Client:
    return DG1Client(BASE, "t1", "key-t1", sleep=kwargs.pop("sleep", lambda s: None), **kwargs)


@responses.activate
def test_every_call_carries_the_tenant_key_as_bearer_and_pages_follow_the_cursor():
    responses.get(f"{BASE}/sites/ch/products", json={"data": [{"id": "1"}, {"id": "2"}], "next_cursor": "c2"},
                  match=[matchers.header_matcher({"Authorization": "Bearer key-t1"}),
                         matchers.query_param_matcher({"limit": "100", "updated_since": "2025-05-01T00:00:00Z"})])
    responses.get(f"{BASE}/sites/ch/products", json={"data": [{"id": "3"}], "next_cursor": None},
                  match=[matchers.query_param_matcher({"limit": "100", "cursor": "c2",
                                                       "updated_since": "2025-05-01T00:00:00Z"})])
    found = list(make_client().products("ch", updated_since="2025-05-01T00:00:00Z"))
    assert [p["id"] for p in found] == ["1", "2", "3"]


@responses.activate
def test_money_arrives_as_decimal_and_an_unknown_order_is_none():
    responses.get(f"{BASE}/sites/pro/orders/100013", json=SAMPLE_ORDER)
    responses.get(f"{BASE}/sites/pro/orders/999", status=404, json=problem("not-found", 404, "no order 999"),
                  **PROBLEM)
    order = make_client().order("pro", "100013")
    assert order["totals"]["grand_total"] == "108.12"
    assert make_client().order("pro", "999") is None


@responses.activate
def test_a_refused_status_change_is_permanent_and_keeps_dg1s_words():
    responses.patch(f"{BASE}/sites/ch/orders/7", status=409, **PROBLEM, json=problem(
        "invalid-transition", 409, "cannot change status from CANCELLED to COMPLETED",
        current_status="CANCELLED", allowed=[]))
    with pytest.raises(PermanentError) as caught:
        make_client().patch_order("ch", "7", status="COMPLETED")
    error = caught.value
    assert error.code == "invalid-transition"
    assert "status change" in error.message and error.fix
    assert error.ledger_messages == ["cannot change status from CANCELLED to COMPLETED", "Allowed next statuses: none"]


@responses.activate
def test_a_revoked_key_asks_for_a_new_one():
    responses.get(f"{BASE}/sites", status=401, json=problem("unauthorized", 401, "unknown API key"), **PROBLEM,
                  headers={"WWW-Authenticate": 'Bearer realm="dg1", error="invalid_token"'})
    with pytest.raises(NeedsReconnect) as caught:
        make_client().sites()
    assert "API key" in caught.value.message and "add-tenant" in caught.value.fix


@responses.activate
def test_a_refused_stock_body_lists_each_bad_item():
    responses.put(f"{BASE}/sites/ch/stock", status=422, **PROBLEM, json=problem(
        "validation-failed", 422, "stock items are invalid",
        errors=[{"index": 0, "message": "quantity must be a whole number >= 0"}]))
    with pytest.raises(PermanentError) as caught:
        make_client().put_stock("ch", [{"sku": "A", "quantity": -1}])
    assert caught.value.ledger_messages == ["stock items are invalid", "quantity must be a whole number >= 0"]


@responses.activate
def test_patch_sends_an_idempotency_key_that_is_the_same_for_the_same_change_only():
    responses.patch(f"{BASE}/sites/ch/orders/7", json=SAMPLE_ORDER)
    client = make_client()
    client.patch_order("ch", "7", status="COMPLETED")
    client.patch_order("ch", "7", status="COMPLETED")
    client.patch_order("ch", "7", external_refs={"bexio_invoice_id": "42"})
    keys = [call.request.headers["Idempotency-Key"] for call in responses.calls]
    assert keys[0] == keys[1] != keys[2]
    assert json.loads(responses.calls[2].request.body) == {"external_refs": {"bexio_invoice_id": "42"}}


@responses.activate
def test_stock_goes_in_batches_of_100_and_results_come_back_in_order():
    def echo(request):
        items = json.loads(request.body)
        return 200, {}, json.dumps({"results": [{"sku": i["sku"], "status": "ok"} for i in items]})

    responses.add_callback(responses.PUT, f"{BASE}/sites/ch/stock", callback=echo)
    items = [{"sku": f"S{n}", "quantity": n} for n in range(150)]
    results = make_client().put_stock("ch", items)
    assert [len(json.loads(c.request.body)) for c in responses.calls] == [100, 50]
    assert [r["sku"] for r in results] == [i["sku"] for i in items]


@responses.activate
def test_a_503_is_retried_in_place_when_dg1_asks_for_a_short_wait():
    responses.get(f"{BASE}/sites", status=503, headers={"Retry-After": "1"}, **PROBLEM,
                  json=problem("service-unavailable", 503, "retry later"))
    responses.get(f"{BASE}/sites", json={"data": [{"id": "ch"}], "next_cursor": None})
    slept = []
    assert make_client(sleep=slept.append).sites() == [{"id": "ch"}]
    assert slept == [1.0]


@responses.activate
def test_a_long_outage_is_left_to_the_job_engine():
    responses.get(f"{BASE}/sites", status=503, headers={"Retry-After": "120"}, **PROBLEM,
                  json=problem("service-unavailable", 503, "retry later"))
    with pytest.raises(RetryableError) as caught:
        make_client().sites()
    assert caught.value.retry_after == 120


class FakeClock:
    def __init__(self) -> None:
        self.t = 2_000_000.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


@responses.activate
def test_429_pauses_the_tenants_shared_budget_for_every_client(app_ctx):
    clock = FakeClock()
    limiter = DatabaseLimiter(db.engine, clock=clock, sleep=clock.sleep)
    responses.get(f"{BASE}/sites", status=429, headers={"Retry-After": "30"}, **PROBLEM,
                  json=problem("rate-limited", 429, "at most 10 requests per second per tenant"))
    with pytest.raises(BudgetExhausted):
        make_client(limiter=limiter, sleep=clock.sleep).sites()
    assert limiter.paused_until(budget_key("t1")) == pytest.approx(clock.t + 30)
    # Another worker's client of the same tenant does not even call DG1 until then.
    with pytest.raises(BudgetExhausted):
        make_client(limiter=limiter, sleep=clock.sleep).sites()
    assert len(responses.calls) == 1


@responses.activate
def test_429_with_a_one_second_retry_after_is_waited_out_and_the_call_goes_through(app_ctx):
    clock = FakeClock()
    limiter = DatabaseLimiter(db.engine, clock=clock, sleep=clock.sleep)
    responses.get(f"{BASE}/sites", status=429, headers={"Retry-After": "1"}, **PROBLEM,
                  json=problem("rate-limited", 429, "at most 10 requests per second per tenant"))
    responses.get(f"{BASE}/sites", json={"data": [{"id": "ch"}], "next_cursor": None})
    start = clock.t
    assert make_client(limiter=limiter, sleep=clock.sleep).sites()[0]["id"] == "ch"
    assert clock.t - start >= 1
