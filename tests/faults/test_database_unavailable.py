"""With the database unreachable, every request gets 503 and Retry-After, never a 500.

The callers can act on a 503 (Xero and DG1 re-send, a proxy retries, a person reloads; a
refused Bitrix24 event is found by the reconcile), and a 500 in test or debug mode would
show a stack. The slow suite proves the same against a PostgreSQL that is really
restarted (tests/faults/test_postgres_restart.py); this one needs no server: nothing
listens on the port.
"""
from __future__ import annotations

import socket

import pytest

from bridge import create_app


@pytest.fixture
def unreachable(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: connections are refused
    app = create_app({"BRIDGE_ENV": "test", "INSTANCE_PATH": str(tmp_path / "instance"),
                      "DATABASE_URL": f"postgresql+psycopg://nobody@127.0.0.1:{port}/nothing?connect_timeout=2"})
    return app.test_client()


def test_a_callback_is_refused_with_503_and_retry_after(unreachable):
    response = unreachable.post("/hooks/bitrix24", data={
        "event": "ONCRMDYNAMICITEMUPDATE", "data[FIELDS][ID]": "7", "data[FIELDS][ENTITY_TYPE_ID]": "31",
        "ts": "1700000000", "auth[member_id]": "member-1", "auth[application_token]": "token"})
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert "Traceback" not in response.text and "psycopg" not in response.text
    assert "Try again" in response.text


def test_xero_and_dg1_webhooks_and_pages_too(unreachable):
    for method, path in (("post", "/hooks/xero"), ("post", "/hooks/dg1/demo"), ("get", "/healthz")):
        response = getattr(unreachable, method)(path, data=b"{}", headers={"Content-Type": "application/json"})
        assert response.status_code in (401, 503), (path, response.status_code)
        assert response.status_code != 500
