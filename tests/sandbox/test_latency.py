"""The simulated network round trip: one setting, every system's API calls, never the
control endpoints, off by default (asserted on the waits asked for, not on a clock)."""
import pytest
import requests

from bridge.sandbox import latency


@pytest.fixture
def waits(monkeypatch):
    asked: list[float] = []
    monkeypatch.setattr(latency, "pause", asked.append)
    return asked


API_CALLS = ["/api.xero.com/api.xro/2.0/Invoices", "/acme.bitrix24.com/rest/crm.item.list",
             "/api.bexio.com/2.0/kb_invoice", "/api.dg1.ch/api/v1/sites"]


def test_off_by_default(sandbox, waits):
    assert requests.get(f"{sandbox.url}/_sandbox/latency", timeout=5).json() == {"ms": 0}
    for path in API_CALLS:
        requests.get(sandbox.url + path, timeout=5)
    assert waits == []


def test_every_systems_api_call_waits_the_round_trip_and_control_calls_do_not(sandbox, waits):
    assert requests.post(f"{sandbox.url}/_sandbox/latency", json={"ms": 50}, timeout=5).json() == {"ms": 50}
    del waits[:]
    for path in API_CALLS:
        requests.get(sandbox.url + path, timeout=5)  # answered as usual (401s, 404s): the wait came first
    assert waits == [0.05] * len(API_CALLS)
    requests.get(f"{sandbox.url}/_sandbox/clock", timeout=5)
    requests.get(f"{sandbox.url}/_sandbox/xero/limits", timeout=5)
    assert waits == [0.05] * len(API_CALLS)
    requests.post(f"{sandbox.url}/_sandbox/latency", json={"ms": 0}, timeout=5)
    requests.get(sandbox.url + API_CALLS[0], timeout=5)
    assert len(waits) == len(API_CALLS)


def test_the_environment_sets_it_for_a_sandbox_started_elsewhere(monkeypatch):
    monkeypatch.setenv("SANDBOX_LATENCY_MS", "50")
    assert latency.Latency().seconds == 0.05
    monkeypatch.delenv("SANDBOX_LATENCY_MS")
    assert latency.Latency().seconds == 0
