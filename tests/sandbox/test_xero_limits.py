"""Rate limits (minute, day, concurrent) and the Idempotency-Key window."""
from __future__ import annotations

import threading
import time

import requests

from tests.sandbox.xero_fixtures import xero, xero_spec  # noqa: F401


def test_minute_limit_gives_429_with_retry_after_and_headers(xero):
    first = xero.call("GET", "Organisation")
    assert first.headers["X-MinLimit-Remaining"] == "59"
    assert first.headers["X-DayLimit-Remaining"] == "4999"
    assert first.headers["X-AppMinLimit-Remaining"] == "9999"
    for _ in range(59):
        assert xero.call("GET", "Organisation").status_code == 200
    refused = xero.call("GET", "Organisation")
    assert refused.status_code == 429
    assert refused.headers["X-Rate-Limit-Problem"] == "minute"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-MinLimit-Remaining"] == "0"
    # another organisation has its own window
    other = xero.new_org()
    xero.token = xero.mint([xero.tenant_id, other])
    xero.tenant_id = other
    assert xero.call("GET", "Organisation").status_code == 200
    xero.advance(61)
    xero.token = xero.mint([refused.request.headers["xero-tenant-id"]])
    xero.tenant_id = refused.request.headers["xero-tenant-id"]
    assert xero.call("GET", "Organisation").status_code == 200


def test_day_limit_is_configurable_and_says_day(xero):
    xero.control("POST", "settings", json={"day_limit": 3, "minute_limit": 60})
    for _ in range(3):
        assert xero.call("GET", "Organisation").status_code == 200
    refused = xero.call("GET", "Organisation")
    assert refused.status_code == 429 and refused.headers["X-Rate-Limit-Problem"] == "day"
    assert int(refused.headers["Retry-After"]) > 3600
    xero.advance(86401)
    xero.token = xero.mint()
    assert xero.call("GET", "Organisation").status_code == 200


def test_sixth_concurrent_call_is_refused(xero):
    xero.control("POST", "hold", json={"on": True})
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(
        requests.get(f"{xero.api}/Organisation", headers=xero.headers(), timeout=30).status_code)) for _ in range(5)]
    try:
        for t in threads:
            t.start()
        for _ in range(200):  # until the five are in flight
            if sum(xero.control("GET", "limits").json()["inflight"].values()) == 5:
                break
            time.sleep(0.02)
        sixth = requests.get(f"{xero.api}/Organisation", headers=xero.headers(), timeout=10)
        assert sixth.status_code == 429 and sixth.headers["X-Rate-Limit-Problem"] == "concurrent"
        assert sixth.headers["Retry-After"]
    finally:
        xero.control("POST", "hold", json={"on": False})
        for t in threads:
            t.join(timeout=10)
    assert results == [200] * 5


def test_idempotency_replay_conflict_expiry_and_length(xero):
    body = {"Contacts": [{"Name": "Once Only"}]}
    key = {"Idempotency-Key": "contact-once-1"}
    first = xero.call("PUT", "Contacts", json=body, headers=key)
    again = xero.call("PUT", "Contacts", json=body, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.json()["Contacts"][0]["ContactID"] == first.json()["Contacts"][0]["ContactID"]
    assert len(xero.call("GET", "Contacts").json()["Contacts"]) == 1
    changed = xero.call("PUT", "Contacts", json={"Contacts": [{"Name": "Other"}]}, headers=key)
    assert changed.status_code == 400
    # errors are replayed too
    bad_key = {"Idempotency-Key": "bad-1"}
    assert xero.call("PUT", "Contacts", json=body, headers=bad_key).status_code == 400  # name taken
    xero.call("POST", f"Contacts/{first.json()['Contacts'][0]['ContactID']}", json={"Name": "Renamed"})
    assert xero.call("PUT", "Contacts", json=body, headers=bad_key).status_code == 400  # replayed error
    # after 6 minutes the key is forgotten: the same request runs again (and creates again)
    xero.advance(361)
    rerun = xero.call("PUT", "Contacts", json=body, headers=key)
    assert rerun.status_code == 200
    assert rerun.json()["Contacts"][0]["ContactID"] != first.json()["Contacts"][0]["ContactID"]
    assert xero.call("PUT", "Contacts", json=body, headers={"Idempotency-Key": "k" * 129}).status_code == 400
