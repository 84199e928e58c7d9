"""Shared fixtures: ``app``, ``client``, ``runner``, ``run_jobs``.

The suite runs on SQLite by default and on PostgreSQL when ``DATABASE_URL`` is set (CI
runs it both ways). Jobs go to an in-memory Huey queue that tests drain with
``run_jobs()``, so every test decides when background work happens.
"""
from __future__ import annotations

import os

os.environ["BRIDGE_ENV"] = "test"  # before bridge is imported: selects the in-memory queue

import pytest  # noqa: E402

from bridge import create_app  # noqa: E402
from bridge.extensions import db, huey  # noqa: E402
from tests.support.schema import fresh_schema  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip on a developer's machine when something optional is missing; fail in CI,
    whose .ci/run installs everything."""
    if not condition:
        if IN_CI:
            pytest.fail(f"required in CI: {reason}")
        pytest.skip(reason)


def database_url(tmp_path) -> str:
    return os.environ.get("DATABASE_URL") or f"sqlite:///{tmp_path / 'bridge.db'}"


@pytest.fixture
def app(tmp_path):
    app = create_app({"BRIDGE_ENV": "test", "INSTANCE_PATH": str(tmp_path / "instance"),
                      "DATABASE_URL": database_url(tmp_path)})
    with app.app_context():
        fresh_schema()
    huey.flush()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    huey.flush()


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def run_jobs(app):
    """Run every queued job (and the jobs they queue) now; returns how many ran."""
    from tests.support.tasks import run_queued_tasks

    def run() -> int:
        with app.app_context():
            return run_queued_tasks()
    return run


@pytest.fixture
def installation(app_ctx):
    """One active Bitrix24 installation (the owner most rows need)."""
    from bridge.models import Installation

    row = Installation(platform="bitrix24", account_id="member-1", domain="acme.bitrix24.com")
    db.session.add(row)
    db.session.commit()
    return row


@pytest.fixture
def live(tmp_path):
    """bridge and the sandbox on real ports, talking over real HTTP (see tests/support/live.py)."""
    from tests.support.live import start_live

    running = start_live(tmp_path, database_url(tmp_path))
    yield running
    running.stop()
    with running.app.app_context():
        db.session.remove()
        db.engine.dispose()
    huey.flush()


@pytest.fixture
def stand_in_flows(monkeypatch):
    """Replace flows by recorders for one test (restored afterwards, real flows included).

    ``runs = stand_in_flows("invoice_to_ledger")``; each run appends
    ``(flow, object_key, options)``.
    """
    from bridge import engine

    runs: list[tuple[str, str, dict]] = []

    def install(*names: str) -> list[tuple[str, str, dict]]:
        for name in names:
            monkeypatch.setitem(engine.FLOWS, name,
                                lambda ctx, name=name: runs.append((name, ctx.object_key, ctx.options)))
            monkeypatch.setitem(engine.BATCH_SIZES, name, 1)
        return runs
    return install
