"""Fixtures for the Xero connector's unit tests: a connected installation whose HTTP is
mocked with ``responses``."""
from __future__ import annotations

import base64
import json
import time

import pytest
import responses

from bridge.extensions import db
from bridge.models import LedgerConnection
from bridge.vault import vault_for_app

TENANT = "7f1c2a4e-0000-4000-8000-000000000001"


def jwt(claims: dict) -> str:
    encode = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")  # noqa: E731
    return f"{encode({'alg': 'RS256'})}.{encode(claims)}.signature"


def envelope(plural: str, items: list, **extra) -> dict:
    return {"Id": "b1e4", "Status": "OK", "ProviderName": "bridge", "DateTimeUTC": "/Date(1700000000000)/",
            plural: items, **extra}


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def api(app_ctx):
    return app_ctx.config["XERO_API_URL"]


@pytest.fixture
def token_url(app_ctx):
    return app_ctx.config["XERO_TOKEN_URL"]


@pytest.fixture
def connection(app_ctx, installation):
    vault = vault_for_app(app_ctx)
    credential_id = vault.create("xero", {"access_token": "access-one", "refresh_token": "refresh-one",
                                          "expires_at": time.time() + 1800})
    row = LedgerConnection(installation_id=installation.id, ledger="xero", organisation_id=TENANT,
                           organisation_name="Acme Ltd", connection_ref="conn-1", credential_id=credential_id)
    db.session.add(row)
    db.session.commit()
    return row


@pytest.fixture
def ledger(connection, installation):
    from bridge.connectors.xero.connection import build

    ledger = build(installation, connection)
    # These tests hold the identity rules against Xero itself, one lookup at a time; the
    # contact index that answers them locally in production has its own (test_bulk_*).
    ledger.index = None
    ledger.client.sleep = lambda seconds: None  # Retry-After waits are asserted, not slept
    return ledger
