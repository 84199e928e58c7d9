"""Identity: authorize, code exchange, refresh rotation and grace, expiry, revocation, connections."""
from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlparse

import requests

from tests.sandbox.xero_fixtures import xero, xero_spec  # noqa: F401
from tests.support.xero_spec import install_validator

CALLBACK = "http://127.0.0.1:9/oauth/xero/callback"
SCOPE = "openid profile email offline_access accounting.invoices accounting.contacts accounting.settings"


def authorize_params(**over: str) -> dict:
    return {"response_type": "code", "client_id": "bridge-demo", "redirect_uri": "https://bridge.example/cb",
            "scope": SCOPE, "state": "s-123", **over}


def register(xero, uri: str = "https://bridge.example/cb") -> None:
    xero.control("POST", "redirect-uris", json={"uri": uri}).raise_for_status()


def consent_and_get_code(xero, **over: str) -> tuple[str, dict]:
    authz = f"{xero.url}/login.xero.com/identity/connect/authorize"
    page = requests.get(authz, params=authorize_params(**over), timeout=5)
    assert page.status_code == 200 and "Allow access" in page.text
    consent = page.text.split('name="consent" value="')[1].split('"')[0]
    resp = requests.post(authz, data={"consent": consent, "tenant": [xero.tenant_id], "action": "allow"},
                         allow_redirects=False, timeout=5)
    assert resp.status_code == 302
    query = parse_qs(urlparse(resp.headers["Location"]).query)
    return query["code"][0], query


def token_call(xero, basic: bool = True, **form: str) -> requests.Response:
    session = install_validator(requests.Session())
    auth = ("bridge-demo", "bridge-demo-secret") if basic else None
    if not basic:
        form = {**form, "client_id": "bridge-demo", "client_secret": "bridge-demo-secret"}
    return session.post(f"{xero.url}/identity.xero.com/connect/token", data=form, auth=auth, timeout=5)


def jwt_payload(token: str) -> dict:
    parts = token.split(".")
    assert len(parts) == 3
    return json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))


def test_consent_page_then_code_exchange_gives_jwt_and_refresh_token(xero):
    register(xero)
    code, query = consent_and_get_code(xero)
    assert query["state"] == ["s-123"]
    resp = token_call(xero, grant_type="authorization_code", code=code, redirect_uri="https://bridge.example/cb")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 1800 and body["refresh_token"]
    claims = jwt_payload(body["access_token"])
    assert claims["authentication_event_id"] and claims["exp"] - claims["nbf"] == 1800
    # the code is single use
    again = token_call(xero, grant_type="authorization_code", code=code, redirect_uri="https://bridge.example/cb")
    assert again.status_code == 400 and again.json() == {"error": "invalid_grant"}
    # connections of this auth event only
    conns = xero.session.get(f"{xero.url}/api.xero.com/connections",
                             params={"authEventId": claims["authentication_event_id"]},
                             headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=5).json()
    assert [c["tenantId"] for c in conns] == [xero.tenant_id]


def test_code_expires_after_five_minutes_and_client_secret_in_body_works(xero):
    register(xero)
    code, _ = consent_and_get_code(xero)
    xero.advance(301)
    resp = token_call(xero, basic=False, grant_type="authorization_code", code=code,
                      redirect_uri="https://bridge.example/cb")
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


def test_authorize_refuses_unregistered_or_http_redirects_and_broad_scopes(xero):
    authz = f"{xero.url}/login.xero.com/identity/connect/authorize"
    # not registered: an error page, never a redirect
    resp = requests.get(authz, params=authorize_params(redirect_uri="https://evil.example/cb"),
                        allow_redirects=False, timeout=5)
    assert resp.status_code == 400
    # registered but http on a host other than localhost: refused unless the demo relaxation is on
    resp = requests.get(authz, params=authorize_params(redirect_uri=CALLBACK), allow_redirects=False, timeout=5)
    assert resp.status_code == 400
    xero.control("POST", "settings", json={"allow_http_redirects": True, "auto_approve": True})
    resp = requests.get(authz, params=authorize_params(redirect_uri=CALLBACK), allow_redirects=False, timeout=5)
    assert resp.status_code == 302 and "code=" in resp.headers["Location"] and "state=s-123" in resp.headers["Location"]
    # a deprecated broad scope is invalid_scope
    resp = requests.get(authz, params=authorize_params(redirect_uri=CALLBACK, scope="openid accounting.transactions"),
                        allow_redirects=False, timeout=5)
    assert resp.status_code == 302
    assert parse_qs(urlparse(resp.headers["Location"]).query)["error"] == ["invalid_scope"]
    # unknown client
    resp = requests.get(authz, params=authorize_params(client_id="nope"), allow_redirects=False, timeout=5)
    assert resp.status_code == 400


def test_localhost_http_redirect_is_allowed_without_relaxation(xero):
    register(xero, "http://localhost:5000/oauth/xero/callback")
    code, _ = consent_and_get_code(xero, redirect_uri="http://localhost:5000/oauth/xero/callback")
    assert code


def test_refresh_rotates_old_token_has_grace_then_invalid_grant(xero):
    first = xero.token["refresh_token"]
    r1 = token_call(xero, grant_type="refresh_token", refresh_token=first)
    assert r1.status_code == 200
    second = r1.json()["refresh_token"]
    assert second != first
    xero.advance(20 * 60)  # inside the 30-minute grace, the old one still works (a lost response)
    assert token_call(xero, grant_type="refresh_token", refresh_token=first).status_code == 200
    xero.advance(11 * 60)  # past the grace
    late = token_call(xero, grant_type="refresh_token", refresh_token=first)
    assert late.status_code == 400 and late.json() == {"error": "invalid_grant"}
    assert token_call(xero, grant_type="refresh_token", refresh_token=second).status_code == 200


def test_access_token_expires_after_1800_seconds(xero):
    assert xero.call("GET", "Organisation").status_code == 200
    xero.advance(1801)
    resp = xero.call("GET", "Organisation")
    assert resp.status_code == 401
    refreshed = token_call(xero, grant_type="refresh_token", refresh_token=xero.token["refresh_token"]).json()
    xero.token = refreshed
    assert xero.call("GET", "Organisation").status_code == 200


def test_no_offline_access_means_no_refresh_token(xero):
    token = xero.mint(scopes=["openid", "accounting.contacts"])
    assert "refresh_token" not in token


def test_tenant_header_missing_or_foreign_is_403(xero):
    other = xero.new_org()
    for tenant in ("", other):
        resp = xero.session.get(f"{xero.api}/Contacts", timeout=5, headers={
            "Accept": "application/json", "Authorization": f"Bearer {xero.token['access_token']}",
            "xero-tenant-id": tenant})
        assert resp.status_code == 403
        assert resp.json()["Title"] == "Forbidden" and resp.json()["Detail"] == "AuthenticationUnsuccessful"


def test_missing_scope_is_403(xero):
    xero.token = xero.mint(scopes=["offline_access", "accounting.contacts.read"])
    assert xero.call("GET", "Contacts").status_code == 200
    assert xero.call("PUT", "Contacts", json={"Contacts": [{"Name": "X"}]}).status_code == 403
    assert xero.call("GET", "Invoices").status_code == 403


def test_delete_connection_by_id_not_tenant_id(xero):
    auth = {"Authorization": f"Bearer {xero.token['access_token']}"}
    conns = xero.session.get(f"{xero.url}/api.xero.com/Connections", headers=auth, timeout=5).json()
    conn = conns[0]
    assert xero.session.delete(f"{xero.url}/api.xero.com/connections/{conn['tenantId']}", headers=auth,
                               timeout=5).status_code == 404
    assert xero.session.delete(f"{xero.url}/api.xero.com/connections/{conn['id']}", headers=auth,
                               timeout=5).status_code == 204
    assert xero.call("GET", "Contacts").status_code == 403


def test_revocation_removes_connections_and_refresh_token(xero):
    resp = requests.post(f"{xero.url}/identity.xero.com/connect/revocation", auth=("bridge-demo", "bridge-demo-secret"),
                         data={"token": xero.token["refresh_token"]}, timeout=5)
    assert resp.status_code == 200
    assert token_call(xero, grant_type="refresh_token", refresh_token=xero.token["refresh_token"]).status_code == 400
    fresh = xero.mint()
    assert [c["tenantId"] for c in fresh["connections"]] == [xero.tenant_id]


def test_wrong_client_secret_is_invalid_client(xero):
    resp = requests.post(f"{xero.url}/identity.xero.com/connect/token", auth=("bridge-demo", "wrong"),
                         data={"grant_type": "refresh_token", "refresh_token": xero.token["refresh_token"]}, timeout=5)
    assert resp.status_code == 400 and resp.json() == {"error": "invalid_client"}


def test_consent_page_refuses_framing_and_ticks_no_organisation_for_the_user(xero):
    """As at Xero: the page cannot be shown inside a portal's iframe, and ticking the
    organisation the README names selects it (nothing is pre-ticked to be unticked)."""
    register(xero)
    page = requests.get(f"{xero.url}/login.xero.com/identity/connect/authorize", params=authorize_params(), timeout=5)
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert 'name="tenant"' in page.text and " checked" not in page.text
