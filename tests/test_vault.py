"""Tokens are encrypted at rest and refreshed exactly once however many processes ask."""
from __future__ import annotations

import multiprocessing
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from flask import Flask, jsonify, request
from sqlalchemy import text

from bridge.errors import NeedsReconnect
from bridge.extensions import db
from bridge.vault import Vault
from tests.support import procs
from tests.support.servers import serve_in_thread


@pytest.fixture
def vault(app_ctx):
    return Vault(db.engine, app_ctx.config["TOKEN_ENCRYPTION_KEY"])


def expired_credential(vault: Vault) -> int:
    past = (datetime.now(timezone.utc) - timedelta(minutes=1)).timestamp()
    credential_id = vault.create("xero", {"access_token": "at-old-1234567", "refresh_token": "rt-old-1234567",
                                          "expires_at": past})
    db.session.commit()
    return credential_id


@pytest.fixture
def token_server():
    """A token endpoint that rotates refresh tokens, counts calls and answers slowly."""
    calls: list[str] = []
    lock = threading.Lock()
    server = Flask("token-server")

    @server.post("/token")
    def token():
        time.sleep(0.5)  # wide enough for a racing second refresh to happen if allowed
        with lock:
            calls.append(request.form["refresh_token"])
            n = len(calls)
        return jsonify(access_token=f"at-new-{n}-abcdef", refresh_token=f"rt-new-{n}-abcdef", expires_in=1800)

    running = serve_in_thread(server)
    running.calls = calls
    yield running
    running.stop()


def test_tokens_are_not_stored_in_plain_text(app, vault):
    vault.create("xero", {"access_token": "ACCESS-SECRET-VALUE", "refresh_token": "REFRESH-SECRET-VALUE"})
    db.session.commit()
    dump = "\n".join(str(row) for row in db.session.execute(text("SELECT * FROM credentials")))
    assert "ACCESS-SECRET-VALUE" not in dump and "REFRESH-SECRET-VALUE" not in dump
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        db.engine.dispose()
        path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
        raw = b"".join(open(p, "rb").read() for p in (path, path + "-wal") if __import__("os").path.exists(p))
        assert b"SECRET-VALUE" not in raw


def test_fresh_tokens_are_returned_without_refreshing(vault):
    future = (datetime.now(timezone.utc) + timedelta(minutes=20)).timestamp()
    credential_id = vault.create("xero", {"access_token": "at-1234567", "refresh_token": "rt-1234567",
                                          "expires_at": future})
    db.session.commit()
    assert vault.fresh(credential_id, lambda data: pytest.fail("refreshed")).access_token == "at-1234567"


def test_rotated_refresh_token_is_saved_and_extra_fields_kept(vault):
    credential_id = expired_credential(vault)
    db.session.execute(text("UPDATE credentials SET ciphertext = :c WHERE id = :id"),
                       {"c": vault.encrypt({"access_token": "a-1234567", "refresh_token": "r-1234567",
                                            "tenant_ids": ["t1"], "expires_at": 1}), "id": credential_id})
    db.session.commit()
    tokens = vault.fresh(credential_id, lambda d: {"access_token": "a2-1234567", "refresh_token": "r2-1234567",
                                                   "expires_in": 1800})
    again = vault.read(credential_id)
    assert again.data["refresh_token"] == "r2-1234567" and again.data["tenant_ids"] == ["t1"]
    assert again.version == tokens.version == 2


def test_invalid_grant_marks_the_connection_for_reconnecting(vault):
    credential_id = expired_credential(vault)

    def refuse(data):
        raise NeedsReconnect("Xero refused the refresh token (invalid_grant).", fix="Reconnect Xero")

    with pytest.raises(NeedsReconnect):
        vault.fresh(credential_id, refuse)
    with pytest.raises(NeedsReconnect) as caught:
        vault.read(credential_id)
    assert "invalid_grant" in caught.value.message


def test_a_401_forces_one_refresh_even_before_expiry(vault):
    future = (datetime.now(timezone.utc) + timedelta(minutes=20)).timestamp()
    credential_id = vault.create("xero", {"access_token": "at-1234567", "refresh_token": "rt-1234567",
                                          "expires_at": future})
    db.session.commit()
    calls = []
    refresher = lambda d: calls.append(1) or {"access_token": "at-2-1234567", "expires_in": 1800}  # noqa: E731
    first = vault.fresh(credential_id, refresher, stale_version=1)
    second = vault.fresh(credential_id, refresher, stale_version=1)  # a second worker saw the same 401
    assert first.access_token == second.access_token == "at-2-1234567"
    assert len(calls) == 1


def test_two_processes_refreshing_at_once_make_one_refresh_call(app, vault, token_server):
    credential_id = expired_credential(vault)
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    key = app.config["TOKEN_ENCRYPTION_KEY"]
    start = time.time() + 1.5
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.starmap(procs.refresh_tokens,
                               [(url, key, credential_id, token_server.url + "/token", start)] * 2)
    assert token_server.calls == ["rt-old-1234567"]
    assert results == ["at-new-1-abcdef", "at-new-1-abcdef"]
    assert vault.read(credential_id).data["refresh_token"] == "rt-new-1-abcdef"
