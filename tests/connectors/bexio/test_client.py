"""The Bexio HTTP client against mocked responses: errors, paging, budgets, 401 renewal."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
import responses

from bridge.connectors.bexio.client import BexioClient, StaticToken, budget_key
from bridge.errors import BudgetExhausted, NeedsReconnect, PermanentError, RetryableError
from bridge.ratelimit import limiter_for_app

API = "https://api.bexio.com"


class Rotating:
    """A token source whose renewal hands out a new token, as a vault refresh would."""

    def __init__(self) -> None:
        self.version = 1
        self.renewed_from: list[int] = []

    def current(self):
        return f"token-{self.version}", self.version

    def renew(self, stale_version):
        self.renewed_from.append(stale_version)
        self.version += 1
        return f"token-{self.version}", self.version


def client(tokens=None, limiter=None) -> BexioClient:
    return BexioClient(api_url=API, tokens=tokens or StaticToken("t"), limiter=limiter, company_id="acme")


def error(status: int, message: str, **headers) -> dict:
    return dict(json={"error_code": status, "message": message}, status=status, headers=headers)


# -- the error table ------------------------------------------------------------------------

@responses.activate
def test_a_validation_error_keeps_bexios_own_message_and_says_what_to_do():
    responses.post(f"{API}/2.0/kb_invoice", **error(422, "The form could not be saved due to the following "
                                                         "errors: tax_id: only active sales taxes are allowed."))
    with pytest.raises(PermanentError) as caught:
        client().create_invoice({"positions": []})
    assert caught.value.message == "Bexio could not save the record."
    assert "only active sales taxes" in caught.value.ledger_messages[0]
    assert caught.value.fix and caught.value.status == 422


@responses.activate
def test_a_missing_network_link_is_its_own_error_with_the_setting_to_fix():
    responses.post(f"{API}/2.0/kb_invoice/3/send", **error(422, "missing_network_placeholder"))
    with pytest.raises(PermanentError) as caught:
        client().send_invoice(3, recipient="a@b.ch", subject="s", message="m")
    assert caught.value.code == "missing_network_placeholder" and "[Network Link]" in caught.value.fix


@responses.activate
def test_missing_rights_maintenance_and_server_errors():
    responses.get(f"{API}/2.0/contact/1", **error(403, "Missing rights"))
    responses.get(f"{API}/2.0/contact/2", **error(503, "Service Unavailable"))
    responses.get(f"{API}/2.0/contact/3", **error(500, "Server error"))
    with pytest.raises(PermanentError) as forbidden:
        client().get_contact(1)
    assert "rights" in forbidden.value.message and not isinstance(forbidden.value, NeedsReconnect)
    with pytest.raises(RetryableError) as maintenance:
        client().get_contact(2)
    assert "maintenance" in maintenance.value.message and maintenance.value.retry_after == 300
    with pytest.raises(RetryableError):
        client().get_contact(3)


# -- 401: renew once, then give up ----------------------------------------------------------------

@responses.activate
def test_a_401_renews_the_token_once_and_repeats_the_call():
    tokens = Rotating()
    responses.get(f"{API}/3.0/users/me", **error(401, "Unauthorized"))
    responses.get(f"{API}/3.0/users/me", json={"id": 1}, status=200)
    assert client(tokens).me() == {"id": 1}
    assert tokens.renewed_from == [1]
    assert responses.calls[1].request.headers["Authorization"] == "Bearer token-2"


@responses.activate
def test_a_second_401_asks_the_user_to_reconnect():
    seen = []
    tokens = Rotating()
    responses.get(f"{API}/3.0/users/me", **error(401, "Unauthorized"))
    c = client(tokens)
    c.on_auth_failure = seen.append
    with pytest.raises(NeedsReconnect) as caught:
        c.me()
    assert "Reconnect" in caught.value.fix and len(responses.calls) == 2 and seen


# -- paging -------------------------------------------------------------------------------------

@responses.activate
def test_2_0_lists_page_until_a_short_page():
    def page(request):
        offset = int(request.params["offset"])
        rows = [{"id": i} for i in range(offset, min(offset + 2, 5))]
        return 200, {}, json.dumps(rows)
    responses.add_callback(responses.GET, f"{API}/2.0/contact", callback=page)
    rows = list(client().pages("GET", "2.0/contact", page_size=2))
    assert [r["id"] for r in rows] == [0, 1, 2, 3, 4]
    assert [c.request.params["offset"] for c in responses.calls] == ["0", "2", "4"]
    assert all(c.request.params["limit"] == "2" for c in responses.calls)


@responses.activate
def test_3_0_lists_stop_at_x_total_count_and_never_ask_more_than_2000():
    responses.get(f"{API}/3.0/taxes", json=[{"id": 1, "value": 7.7}, {"id": 2, "value": 8.1}],
                  headers={"X-Total-Count": "2", "X-Limit": "2000", "X-Offset": "0"})
    taxes = list(client().pages("GET", "3.0/taxes", page_size=5000))
    assert len(responses.calls) == 1 and responses.calls[0].request.params["limit"] == "2000"
    assert taxes[0]["value"] == Decimal("7.7")  # a JSON number, read exactly


@responses.activate
def test_search_sends_exact_criteria_in_the_body():
    responses.post(f"{API}/2.0/kb_invoice/search", json=[])
    list(client().search_invoices([("api_reference", "dg1:t:s:12", "=")]))
    assert json.loads(responses.calls[0].request.body) == [
        {"field": "api_reference", "value": "dg1:t:s:12", "criteria": "="}]
    assert responses.calls[0].request.params["order_by"] == "id"


@responses.activate
def test_money_goes_out_as_strings_even_when_a_decimal_slips_into_a_body():
    responses.post(f"{API}/2.0/kb_invoice/4/payment", json={"id": 1, "value": "19.150000"}, status=201)
    c = client()
    c.post("2.0/kb_invoice/4/payment", {"value": Decimal("19.15"), "date": "2024-03-01"})
    assert json.loads(responses.calls[0].request.body)["value"] == "19.15"


# -- budgets: RateLimit-* and 429 into the shared budget of the company ----------------------------

@responses.activate
def test_a_429_pauses_the_company_budget_until_ratelimit_reset(app_ctx):
    limiter = limiter_for_app(app_ctx)
    responses.get(f"{API}/3.0/users/me", **error(429, "Too Many Requests", **{
        "RateLimit-Limit": "300", "RateLimit-Remaining": "0", "RateLimit-Reset": "42"}))
    c = client(limiter=limiter)
    with pytest.raises(BudgetExhausted) as caught:
        c.me()
    assert caught.value.retry_after == 42  # from RateLimit-Reset: Bexio sends no Retry-After
    assert limiter.paused_until(budget_key("acme")) is not None
    # Every other caller of the same company now waits without calling Bexio.
    other = client(limiter=limiter)
    with pytest.raises(BudgetExhausted):
        other.me()
    assert len(responses.calls) == 1


@responses.activate
def test_the_last_call_of_the_minute_pauses_before_a_certain_429(app_ctx):
    limiter = limiter_for_app(app_ctx)
    responses.get(f"{API}/3.0/users/me", json={"id": 1}, headers={
        "RateLimit-Limit": "300", "RateLimit-Remaining": "0", "RateLimit-Reset": "17"})
    c = client(limiter=limiter)
    assert c.me() == {"id": 1}
    assert limiter.budget(budget_key("acme"))["remaining_minute"] == 0
    with pytest.raises(BudgetExhausted) as caught:
        c.me()
    assert 15 < caught.value.retry_after <= 17 and len(responses.calls) == 1


@responses.activate
def test_another_company_keeps_its_own_budget(app_ctx):
    limiter = limiter_for_app(app_ctx)
    responses.get(f"{API}/3.0/users/me", **error(429, "Too Many Requests", **{"RateLimit-Reset": "30"}))
    with pytest.raises(BudgetExhausted):
        client(limiter=limiter).me()
    other = BexioClient(api_url=API, tokens=StaticToken("t"), limiter=limiter, company_id="other")
    responses.replace(responses.GET, f"{API}/3.0/users/me", json={"id": 7})
    assert other.me() == {"id": 7}
