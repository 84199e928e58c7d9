import requests


def test_clock_moves_forward_for_every_system(sandbox):
    before = requests.get(f"{sandbox.url}/_sandbox/clock", timeout=5).json()["time"]
    after = requests.post(f"{sandbox.url}/_sandbox/clock", json={"advance": 3600}, timeout=5).json()["time"]
    assert after - before >= 3600
    assert sandbox.host.clock.time() >= after


def test_index_lists_limits_of_mounted_systems(sandbox):
    body = requests.get(f"{sandbox.url}/_sandbox/", timeout=5).json()
    assert set(body["systems"]) == set(sandbox.host.systems)
    assert set(body["limits"]) == set(sandbox.host.systems)
