import requests


def test_live_setup_serves_both_and_they_know_each_other(live):
    assert requests.get(f"{live.app_url}/healthz", timeout=5).json()["status"] == "ok"
    index = live.control("/", method="GET")
    assert index["app_url"] == live.app_url
    assert live.app.config["XERO_API_URL"] == f"{live.sandbox_url}/api.xero.com/api.xro/2.0"
