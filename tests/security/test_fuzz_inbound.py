"""Property-based fuzzing of every inbound endpoint: whatever arrives, never a 500, and
nothing is stored unless the request proves who sent it."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from bridge.extensions import db
from bridge.models import InboxEvent, LedgerConnection

MEMBER, APP_TOKEN = "fuzz-member-1", "fuzz-application-token"
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

text = st.text(max_size=60)
# What an HTTP header can carry at all (no control characters).
header_text = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=60)
form_values = st.dictionaries(st.sampled_from([
    "event", "event_handler_id", "data[FIELDS][ID]", "data[FIELDS][ENTITY_TYPE_ID]", "ts", "auth[member_id]",
    "auth[application_token]", "auth[domain]", "auth[client_endpoint]", "data[CLEAN]", "data", "auth",
    "data[FIELDS]", "data[FIELDS][ID][0]"]), text, max_size=10)


@pytest.fixture
def world(app_ctx):
    from bridge.connectors.bitrix24 import store
    from bridge.connectors.dg1.tenants import add_tenant

    store.save_oauth(member_id=MEMBER, domain="fuzz.bitrix24.com", application_token=APP_TOKEN, tokens={
        "access_token": "at-fuzz-1", "refresh_token": "rt-fuzz-1", "expires_in": 3600, "member_id": MEMBER,
        "client_endpoint": "https://fuzz.bitrix24.com/rest/", "server_endpoint": "https://oauth.bitrix.info/rest/"})
    installation = add_tenant("fuzz", api_key="k" * 20, webhook_secret="dg1-webhook-secret",
                              launch_secret="dg1-launch-secret")
    db.session.add(LedgerConnection(installation_id=installation.id, ledger="xero", organisation_id="tenant-fuzz"))
    db.session.commit()
    return app_ctx


def stored() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(InboxEvent))


@FUZZ
@given(fields=form_values)
def test_bitrix24_events_without_the_application_token_store_nothing(world, fields):
    client = world.test_client()
    fields = {k: v for k, v in fields.items() if not (k == "auth[application_token]" and v == APP_TOKEN)}
    response = client.post("/hooks/bitrix24", data=fields)
    assert response.status_code in (400, 401)
    assert stored() == 0


@FUZZ
@given(event_id=text, entity=text, ts=text)
def test_bitrix24_events_with_the_token_never_500(world, event_id, entity, ts):
    client = world.test_client()
    response = client.post("/hooks/bitrix24", data={
        "event": "ONCRMDYNAMICITEMUPDATE", "data[FIELDS][ID]": event_id, "data[FIELDS][ENTITY_TYPE_ID]": entity,
        "ts": ts, "auth[member_id]": MEMBER, "auth[application_token]": APP_TOKEN})
    assert response.status_code < 500


@FUZZ
@given(body=st.binary(max_size=300), signature=st.one_of(st.none(), header_text))
def test_xero_webhooks_with_a_wrong_signature_get_401_and_store_nothing(world, body, signature):
    client = world.test_client()
    headers = {"x-xero-signature": signature} if signature is not None else {}
    response = client.post("/hooks/xero", data=body, headers=headers, content_type="application/json")
    assert response.status_code == 401 and response.get_data() == b""
    assert stored() == 0


@FUZZ
@given(payload=st.recursive(st.none() | st.booleans() | st.integers() | text,
                            lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children,
                                                                                                 max_size=3),
                            max_leaves=12))
def test_correctly_signed_xero_garbage_never_500s(world, payload):
    client = world.test_client()
    body = json.dumps(payload).encode()
    key = world.config["XERO_WEBHOOK_KEY"].encode()
    signature = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()
    response = client.post("/hooks/xero", data=body, headers={"x-xero-signature": signature},
                           content_type="application/json")
    assert response.status_code < 500


# A timestamp inside the 5-minute window, taken when the example is drawn: only then is it
# the signature that refuses (a random timestamp is refused before the signature is looked at).
fresh_timestamp = st.integers(-290, 290).map(lambda offset: str(int(time.time()) + offset))
signed_body = st.fixed_dictionaries({"event_id": text, "topic": st.sampled_from(["order.placed", "order.updated"]),
                                     "site_id": text, "data": st.fixed_dictionaries({"order_id": text})}).map(
    lambda event: json.dumps(event).encode())


@FUZZ
@given(body=st.one_of(signed_body, st.binary(max_size=300)), timestamp=fresh_timestamp,
       signature=st.one_of(header_text, st.binary(min_size=32, max_size=32).map(lambda b: base64.b64encode(b).decode())),
       delivery=header_text)
def test_dg1_webhooks_with_a_wrong_signature_are_refused_by_the_signature(world, body, timestamp, signature,
                                                                          delivery):
    """Fresh timestamps, well-formed events, signatures of the right shape: only the
    signature is wrong, and it alone refuses them."""
    client = world.test_client()
    response = client.post("/hooks/dg1/fuzz", data=body, content_type="application/json", headers={
        "X-DG1-Timestamp": timestamp, "X-DG1-Signature": signature, "X-DG1-Delivery-Id": delivery or "d"})
    assert response.status_code == 401 and response.json["error"] == "signature does not match"
    assert stored() == 0


@FUZZ
@given(body=st.binary(max_size=300), timestamp=header_text, signature=header_text, delivery=header_text,
       topic=header_text)
def test_dg1_webhooks_with_a_wrong_signature_store_nothing(world, body, timestamp, signature, delivery, topic):
    client = world.test_client()
    response = client.post("/hooks/dg1/fuzz", data=body, content_type="application/json", headers={
        "X-DG1-Timestamp": timestamp, "X-DG1-Signature": signature, "X-DG1-Delivery-Id": delivery,
        "X-DG1-Topic": topic})
    assert 400 <= response.status_code < 500
    assert stored() == 0


@FUZZ
@given(payload=st.dictionaries(text, text, max_size=5), topic=header_text, delivery=header_text)
def test_correctly_signed_dg1_garbage_never_500s(world, payload, topic, delivery):
    client = world.test_client()
    body = json.dumps(payload).encode()
    timestamp = str(int(time.time()))
    signature = base64.b64encode(hmac.new(b"dg1-webhook-secret", timestamp.encode() + b"." + body,
                                          hashlib.sha256).digest()).decode()
    response = client.post("/hooks/dg1/fuzz", data=body, content_type="application/json", headers={
        "X-DG1-Timestamp": timestamp, "X-DG1-Signature": signature, "X-DG1-Delivery-Id": delivery or "d",
        "X-DG1-Topic": topic})
    assert response.status_code < 500


@FUZZ
@given(params=st.dictionaries(st.sampled_from(["tenant", "site", "user", "ts", "page", "sig"]), text, max_size=6))
def test_forged_dg1_launches_are_refused(world, params):
    client = world.test_client()
    response = client.get("/dg1/launch", query_string=params)
    assert response.status_code in (400, 401, 404)


@FUZZ
@given(fields=form_values, query=st.dictionaries(st.sampled_from(["DOMAIN", "LANG", "PROTOCOL", "APP_SID"]), text,
                                                   max_size=4))
def test_forged_bitrix24_iframe_launches_are_refused(world, fields, query):
    client = world.test_client()
    fields = {k: v for k, v in fields.items() if v != APP_TOKEN}
    for path in ("/bitrix24/app", "/bitrix24/placement/invoice"):
        response = client.post(path, data=fields, query_string=query)
        assert response.status_code in (400, 401), (path, response.status_code)
