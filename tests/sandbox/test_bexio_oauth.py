"""auth.bexio.com: the code flow, the token endpoint rules and the life of tokens."""
from __future__ import annotations

import base64
import json
import re
from urllib.parse import parse_qs, urlsplit

import requests

from .bexio_helpers import TIMEOUT, Api, control, mint

REALM = "/auth.bexio.com/realms/bexio/protocol/openid-connect"
CALLBACK = "http://127.0.0.1:9/oauth/bexio/callback"  # the fixture's app_url + product route
SCOPE = "openid offline_access company_profile email contact_edit kb_invoice_edit accounting"


def authorize(sandbox, redirect_uri: str = CALLBACK, scope: str = SCOPE, **extra) -> requests.Response:
    params = {"client_id": "bridge-demo", "redirect_uri": redirect_uri, "response_type": "code",
              "scope": scope, "state": "xyz", **extra}
    return requests.get(sandbox.url + REALM + "/auth", params=params, allow_redirects=False, timeout=TIMEOUT)


def approve(sandbox, page: requests.Response, login: str = "alpenblick:1") -> requests.Response:
    consent_id = re.search(r"name='consent_id' value='([^']+)'", page.text).group(1)
    return requests.post(sandbox.url + REALM + "/auth/consent",
                         data={"consent_id": consent_id, "login": login, "action": "allow"},
                         allow_redirects=False, timeout=TIMEOUT)


def code_from(response: requests.Response) -> dict:
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def exchange(sandbox, code: str, **overrides) -> requests.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
            "client_id": "bridge-demo", "client_secret": "bridge-demo-secret", **overrides}
    return requests.post(sandbox.url + REALM + "/token", data=data, timeout=TIMEOUT)


def refresh(sandbox, token: str, **overrides) -> requests.Response:
    data = {"grant_type": "refresh_token", "refresh_token": token, "client_id": "bridge-demo",
            "client_secret": "bridge-demo-secret", **overrides}
    return requests.post(sandbox.url + REALM + "/token", data=data, timeout=TIMEOUT)


def claims(jwt: str) -> dict:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_discovery_points_at_the_realm_endpoints(sandbox):
    doc = requests.get(sandbox.url + "/auth.bexio.com/realms/bexio/.well-known/openid-configuration",
                       timeout=TIMEOUT).json()
    assert doc["issuer"] == sandbox.url + "/auth.bexio.com/realms/bexio"
    assert doc["token_endpoint"] == sandbox.url + REALM + "/token"
    assert {"offline_access", "company_profile", "kb_invoice_edit"} <= set(doc["scopes_supported"])
    keys = requests.get(doc["jwks_uri"], timeout=TIMEOUT).json()["keys"]
    assert keys[0]["kty"] == "RSA"


def test_code_flow_through_the_approve_page_gives_tokens_with_company_claims(sandbox):
    page = authorize(sandbox)
    assert page.status_code == 200 and "Allow" in page.text
    params = code_from(approve(sandbox, page, "seeland:101"))
    assert params["state"] == "xyz" and params["iss"].endswith("/realms/bexio")
    response = exchange(sandbox, params["code"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0 and body["refresh_token"]
    assert set(body["scope"].split()) == set(SCOPE.split())
    id_claims = claims(body["id_token"])
    assert id_claims["company_id"] == "seeland" and id_claims["company_user_id"] == 101
    assert re.fullmatch(r"[0-9a-f-]{36}", id_claims["sub"]) and id_claims["sub"] == id_claims["login_id"]
    assert id_claims["locale"] == "de-CH" and "shard_id" not in id_claims
    me = Api(sandbox, token=body["access_token"]).get("/3.0/users/me").json()
    assert me["id"] == 101
    info = requests.get(sandbox.url + REALM + "/userinfo", timeout=TIMEOUT,
                        headers={"Authorization": f"Bearer {body['access_token']}"}).json()
    assert info["company_name"] == "Seeland Velo GmbH"


def test_a_code_is_single_use_and_bound_to_its_redirect_uri(sandbox):
    code = code_from(approve(sandbox, authorize(sandbox)))["code"]
    wrong = exchange(sandbox, code, redirect_uri="http://127.0.0.1:9/other")
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    code = code_from(approve(sandbox, authorize(sandbox)))["code"]
    assert exchange(sandbox, code).status_code == 200
    again = exchange(sandbox, code)
    assert again.status_code == 400 and again.json() == {"error": "invalid_grant",
                                                         "error_description": "Code not valid"}


def test_token_parameters_in_the_query_string_are_not_accepted(sandbox):
    code = code_from(approve(sandbox, authorize(sandbox)))["code"]
    params = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
              "client_id": "bridge-demo", "client_secret": "bridge-demo-secret"}
    response = requests.post(sandbox.url + REALM + "/token", params=params, timeout=TIMEOUT)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_client_secret_post_and_basic_both_work_and_a_wrong_secret_is_401(sandbox):
    code = code_from(approve(sandbox, authorize(sandbox)))["code"]
    assert exchange(sandbox, code, client_secret="nope").status_code == 401
    code = code_from(approve(sandbox, authorize(sandbox)))["code"]
    basic = requests.post(sandbox.url + REALM + "/token", auth=("bridge-demo", "bridge-demo-secret"),
                          data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
                          timeout=TIMEOUT)
    assert basic.status_code == 200, basic.text


def test_unregistered_redirect_uri_is_refused_without_redirecting(sandbox):
    response = authorize(sandbox, redirect_uri="http://127.0.0.1:7777/oauth/bexio/callback")
    assert response.status_code == 400 and "redirect_uri" in response.text
    assert "Location" not in response.headers


def test_loopback_relaxation_is_a_named_demo_setting_off_by_default(sandbox):
    assert control(sandbox, "/", method="GET").json()["settings"]["any_loopback_redirect"] is False
    control(sandbox, "/settings", {"any_loopback_redirect": True})
    uri = "http://localhost:7777/oauth/bexio/callback"
    assert authorize(sandbox, redirect_uri=uri).status_code == 200
    assert authorize(sandbox, redirect_uri="https://evil.example/cb").status_code == 400


def test_auto_approve_redirects_at_once_when_the_demo_turns_it_on(sandbox):
    assert authorize(sandbox).status_code == 200  # the approve page by default
    control(sandbox, "/settings", {"auto_approve": True})
    params = code_from(authorize(sandbox, login_hint="owner@seeland.example"))
    body = exchange(sandbox, params["code"]).json()
    assert claims(body["id_token"])["company_id"] == "seeland"


def test_unknown_scope_and_denied_consent_come_back_as_errors(sandbox):
    params = code_from(authorize(sandbox, scope="openid kb_invoice_everything"))
    assert params["error"] == "invalid_scope" and params["state"] == "xyz"
    page = authorize(sandbox)
    consent_id = re.search(r"name='consent_id' value='([^']+)'", page.text).group(1)
    denied = requests.post(sandbox.url + REALM + "/auth/consent", allow_redirects=False, timeout=TIMEOUT,
                           data={"consent_id": consent_id, "login": "alpenblick:1", "action": "deny"})
    assert code_from(denied)["error"] == "access_denied"


def test_refresh_rotates_and_a_used_refresh_token_is_stale(sandbox):
    first = mint(sandbox)
    second = refresh(sandbox, first["refresh_token"])
    assert second.status_code == 200
    new = second.json()
    assert new["refresh_token"] != first["refresh_token"]
    stale = refresh(sandbox, first["refresh_token"])
    assert stale.status_code == 400 and stale.json()["error"] == "invalid_grant"
    assert refresh(sandbox, new["refresh_token"]).status_code == 200


def test_scopes_cannot_grow_on_refresh(sandbox):
    token = mint(sandbox, scope="openid offline_access contact_show")["refresh_token"]
    response = refresh(sandbox, token, scope="openid offline_access contact_show kb_invoice_edit")
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"


def test_access_token_expires_on_sandbox_time_and_refresh_revives_access(sandbox):
    tokens = mint(sandbox)
    api = Api(sandbox, token=tokens["access_token"])
    assert api.get("/3.0/users/me").status_code == 200
    requests.post(f"{sandbox.url}/_sandbox/clock", json={"advance": tokens["expires_in"] + 1}, timeout=TIMEOUT)
    expired = api.get("/3.0/users/me")
    assert expired.status_code == 401 and expired.json()["error_code"] == 401
    renewed = refresh(sandbox, tokens["refresh_token"]).json()
    assert Api(sandbox, token=renewed["access_token"]).get("/3.0/users/me").status_code == 200


def test_offline_session_idles_out_after_a_year_but_lives_while_used(sandbox):
    token = mint(sandbox)["refresh_token"]
    for _ in range(2):  # used every 300 days: still alive after 600 days
        requests.post(f"{sandbox.url}/_sandbox/clock", json={"advance": 300 * 86400}, timeout=TIMEOUT)
        response = refresh(sandbox, token)
        assert response.status_code == 200
        token = response.json()["refresh_token"]
    requests.post(f"{sandbox.url}/_sandbox/clock", json={"advance": 366 * 86400}, timeout=TIMEOUT)
    dead = refresh(sandbox, token)
    assert dead.status_code == 400 and dead.json()["error"] == "invalid_grant"


def test_without_offline_access_the_refresh_token_is_short_lived(sandbox):
    token = mint(sandbox, scope="openid contact_show")["refresh_token"]
    requests.post(f"{sandbox.url}/_sandbox/clock", json={"advance": 31 * 60}, timeout=TIMEOUT)
    assert refresh(sandbox, token).status_code == 400


def test_the_sign_in_page_refuses_to_be_framed_as_bexio_does(sandbox):
    page = authorize(sandbox)
    assert page.status_code == 200 and "Allow" in page.text
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
