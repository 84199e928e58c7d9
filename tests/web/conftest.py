"""A Bitrix24 installation whose user is already confirmed, so the iframe pages open offline."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from bridge.connectors.bitrix24 import store
from bridge.connectors.bitrix24.models import Bitrix24Viewer
from bridge.extensions import db
from bridge.models import utcnow

MEMBER = "m-ui"
APP_TOKEN = "app-token-ui"
AUTH_ID = "user-token-ui"


@pytest.fixture
def portal(app_ctx):
    installation = store.save_oauth(member_id=MEMBER, domain="acme.bitrix24.com", application_token=APP_TOKEN, tokens={
        "access_token": "at", "refresh_token": "rt", "expires_in": 3600, "member_id": MEMBER,
        "client_endpoint": "https://acme.bitrix24.com/rest/", "server_endpoint": "https://oauth.bitrix.info/rest/"})
    db.session.add(Bitrix24Viewer(token_hash=store.hash_token(AUTH_ID), installation_id=installation.id, user_id=1,
                                  is_admin=True, name="Ada Admin", expires_at=utcnow() + timedelta(hours=1)))
    db.session.commit()
    return installation


def launch(client, path: str, options: dict | None = None, lang: str = "en"):
    """POST the page as the portal frames it (NOTES s2)."""
    return client.post(f"{path}?DOMAIN=acme.bitrix24.com&LANG={lang}", data={
        "member_id": MEMBER, "APPLICATION_TOKEN": APP_TOKEN, "AUTH_ID": AUTH_ID, "AUTH_EXPIRES": "3600",
        "PLACEMENT": "CRM_SMART_INVOICE_DETAIL_TAB" if options else "DEFAULT",
        "PLACEMENT_OPTIONS": json.dumps(options or {})})


def token_in(html: str, name: str = "token") -> str:
    match = re.search(rf'name="{name}" value="([^"]+)"', html) or re.search(r'token=([A-Za-z0-9_.\-]+)', html)
    assert match, "no form token on the page"
    return match.group(1)
