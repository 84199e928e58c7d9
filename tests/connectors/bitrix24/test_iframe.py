"""Iframe trust on mocked HTTP: the user is confirmed with the portal once per access token."""
from __future__ import annotations

import responses

from bridge.connectors.bitrix24 import store
from bridge.connectors.bitrix24.iframe import confirm_user, frame_source

MEMBER = "m-iframe"


def make_installation():
    return store.save_oauth(member_id=MEMBER, domain="x.bitrix24.com", application_token="app-token-1", tokens={
        "access_token": "at", "refresh_token": "rt", "expires_in": 3600, "member_id": MEMBER,
        "client_endpoint": "https://x.bitrix24.com/rest/", "server_endpoint": "https://oauth.bitrix.info/rest/"})


@responses.activate
def test_each_access_token_is_confirmed_once(app_ctx):
    installation = make_installation()
    responses.post("https://x.bitrix24.com/rest/profile",
                   json={"result": {"ID": 3, "ADMIN": False, "NAME": "Bob", "LAST_NAME": "Sales"}, "time": {}})
    first = confirm_user(installation, "user-token-1", "3600")
    second = confirm_user(installation, "user-token-1", "3600")
    assert (first.user_id, first.is_admin, second.user_id) == (3, False, 3)
    assert len(responses.calls) == 1
    confirm_user(installation, "user-token-2", "3600")
    assert len(responses.calls) == 2


def test_frame_ancestors_is_the_portal_of_the_installation(app_ctx):
    assert frame_source(make_installation()) == "https://x.bitrix24.com"
    assert frame_source(None) is None
