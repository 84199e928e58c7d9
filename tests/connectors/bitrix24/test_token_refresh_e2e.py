"""End to end over real HTTP: an expired access token is renewed at the sandbox's OAuth server
with the secrets in a POST form (the sandbox reads it, as oauth.bitrix24.tech does), and no
URL bridge sends carries the client secret or the refresh token."""
from __future__ import annotations

import requests

from bridge.connectors.bitrix24 import store
from bridge.vault import vault_for_app

from .conftest import ACME  # noqa: F401  (the portal the `installed` fixture installs)


def test_an_expired_token_is_renewed_with_no_secret_in_any_url(live, installed, monkeypatch):
    sent: list[tuple[str, str]] = []
    real_send = requests.Session.send

    def recording_send(session, request, **kwargs):
        sent.append((request.method, request.url))
        return real_send(session, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", recording_send)
    with live.app.app_context():
        installation = store.find(installed["auth"]["member_id"])
        before = vault_for_app(live.app).read(installation.credential_id).data["refresh_token"]
        live.control("clock", json={"advance": 2 * 3600})  # the access token (1 hour) has expired
        assert store.client_for(installation).call("profile").result
        after = vault_for_app(live.app).read(installation.credential_id).data["refresh_token"]
    secret = live.app.config["BITRIX24_CLIENT_SECRET"]
    renewals = [(method, url) for method, url in sent if "/oauth/token/" in url]
    assert [method for method, _ in renewals] == ["POST"] and after != before  # renewed, by form, once
    assert all(secret not in url and before not in url and "client_secret" not in url for _, url in sent)
