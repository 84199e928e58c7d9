"""OAuth with auth.bexio.com against mocked responses: body parameters, rotation, reconnect."""
from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from bridge.connectors.bexio.auth import SCOPES, BexioOAuth
from bridge.connectors.bexio.connection import VaultTokens, oauth_for_app
from bridge.errors import NeedsReconnect, PermanentError
from bridge.extensions import db
from bridge.models import Credential, Installation, LedgerConnection
from bridge.vault import vault_for_app

REALM = "https://auth.bexio.com/realms/bexio"
OIDC = REALM + "/protocol/openid-connect"


def oauth(**kw) -> BexioOAuth:
    return BexioOAuth(auth_url=OIDC, client_id="app", client_secret="s3cret-value", **kw)


def token_body(refresh: str, access: str = "acc", **extra) -> dict:
    return {"access_token": access, "expires_in": 300, "refresh_token": refresh, "token_type": "Bearer",
            "scope": " ".join(SCOPES), **extra}


def jwt(claims: dict) -> str:
    part = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"e30.{part}.sig"


def form(call) -> dict:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


def test_the_authorize_url_asks_for_offline_access_with_state_nonce_and_pkce():
    url = oauth().authorize_url(redirect_uri="https://bridge.example/oauth/bexio/callback", state="st",
                                nonce="n1", code_challenge="ch")
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == OIDC + "/auth"
    assert "offline_access" in query["scope"].split() and "company_profile" in query["scope"].split()
    assert (query["state"], query["nonce"], query["code_challenge"], query["code_challenge_method"]) == \
        ("st", "n1", "ch", "S256")
    assert query["client_id"] == "app" and query["response_type"] == "code"


@responses.activate
def test_the_code_exchange_sends_every_parameter_in_the_body():
    responses.post(OIDC + "/token", json=token_body("r1"))
    oauth().exchange(code="c0de", redirect_uri="https://b/cb", code_verifier="v" * 43)
    call = responses.calls[0]
    assert urlsplit(call.request.url).query == ""  # NOTES §1: query parameters are not accepted
    body = form(call)
    assert body["grant_type"] == "authorization_code" and body["code"] == "c0de"
    assert body["client_id"] == "app" and body["client_secret"] == "s3cret-value"
    assert body["code_verifier"] == "v" * 43 and body["redirect_uri"] == "https://b/cb"


@responses.activate
def test_basic_client_authentication_is_a_setting():
    responses.post(OIDC + "/token", json=token_body("r2"))
    oauth(token_auth="client_secret_basic").refresh({"refresh_token": "r1"})
    call = responses.calls[0]
    assert call.request.headers["Authorization"].startswith("Basic ")
    assert "client_secret" not in form(call) and form(call)["refresh_token"] == "r1"


def test_the_identity_comes_from_the_company_profile_claims_and_checks_the_nonce():
    claims = {"iss": REALM, "aud": "app", "nonce": "n1", "company_id": "acme", "company_name": "Acme AG",
              "company_user_id": 4, "email": "o@acme.ch", "login_id": "uuid-1"}
    who = oauth().identity({"id_token": jwt(claims)}, nonce="n1")
    assert (who.company_id, who.company_name, who.user_id, who.email) == ("acme", "Acme AG", 4, "o@acme.ch")
    with pytest.raises(PermanentError):
        oauth().identity({"id_token": jwt(claims)}, nonce="other")
    with pytest.raises(PermanentError):
        oauth().identity({"id_token": jwt({**claims, "iss": "https://evil.example/realms/bexio"})}, nonce="n1")
    with pytest.raises(PermanentError) as caught:
        oauth().identity({"id_token": jwt({k: v for k, v in claims.items() if k != "company_id"})})
    assert caught.value.code == "no_company"


# -- refresh rotation through the vault ---------------------------------------------------------

@pytest.fixture
def connection(app_ctx):
    installation = Installation(platform="dg1", account_id="tenant-1")
    db.session.add(installation)
    db.session.flush()
    credential_id = vault_for_app(app_ctx).create("bexio", {"access_token": "a0", "refresh_token": "r1",
                                                             "expires_in": 1})
    row = LedgerConnection(installation_id=installation.id, ledger="bexio", organisation_id="acme",
                           credential_id=credential_id)
    db.session.add(row)
    db.session.commit()
    return row


@responses.activate
def test_each_refresh_stores_the_rotated_refresh_token_before_it_is_used(app_ctx, connection):
    url = app_ctx.config["BEXIO_AUTH_URL"] + "/token"
    responses.post(url, json=token_body("r2", access="a1", expires_in=1))
    responses.post(url, json=token_body("r3", access="a2"))
    tokens = VaultTokens(connection.id, connection.credential_id, oauth_for_app(app_ctx), app_ctx)
    assert tokens.current()[0] == "a1"  # the stored token was about to expire
    assert tokens.current()[0] == "a2"
    assert [form(c)["refresh_token"] for c in responses.calls] == ["r1", "r2"]
    assert all(form(c)["grant_type"] == "refresh_token" for c in responses.calls)
    stored = vault_for_app(app_ctx).read(connection.credential_id).data
    assert stored["refresh_token"] == "r3" and stored["access_token"] == "a2"


@responses.activate
def test_a_refresh_without_a_new_refresh_token_keeps_the_old_one(app_ctx, connection):
    responses.post(app_ctx.config["BEXIO_AUTH_URL"] + "/token",
                   json={"access_token": "a1", "expires_in": 300, "token_type": "Bearer"})
    tokens = VaultTokens(connection.id, connection.credential_id, oauth_for_app(app_ctx), app_ctx)
    assert tokens.current()[0] == "a1"
    assert vault_for_app(app_ctx).read(connection.credential_id).data["refresh_token"] == "r1"


@responses.activate
def test_invalid_grant_marks_the_connection_for_reconnect(app_ctx, connection):
    responses.post(app_ctx.config["BEXIO_AUTH_URL"] + "/token", status=400,
                   json={"error": "invalid_grant", "error_description": "Offline session not active"})
    tokens = VaultTokens(connection.id, connection.credential_id, oauth_for_app(app_ctx), app_ctx)
    with pytest.raises(NeedsReconnect) as caught:
        tokens.current()
    assert caught.value.ledger_messages == ["Offline session not active"]
    db.session.expire_all()
    assert db.session.get(LedgerConnection, connection.id).health == "needs_reconnect"
    assert db.session.get(Credential, connection.credential_id).state == "needs_reconnect"
    with pytest.raises(NeedsReconnect):  # and nobody tries the dead token again
        tokens.current()
    assert len(responses.calls) == 1


@responses.activate
def test_an_unavailable_realm_is_temporary(app_ctx, connection):
    from bridge.errors import RetryableError

    responses.post(app_ctx.config["BEXIO_AUTH_URL"] + "/token", status=503, body="<html>down</html>")
    tokens = VaultTokens(connection.id, connection.credential_id, oauth_for_app(app_ctx), app_ctx)
    with pytest.raises(RetryableError):
        tokens.current()
    db.session.expire_all()
    assert db.session.get(LedgerConnection, connection.id).health == "ok"
