"""``make run`` twice: the second run starts with a database as empty as the sandbox's systems."""
from __future__ import annotations

from bridge.demo import fresh_demo_state


def test_a_new_demo_run_forgets_the_last_runs_database_and_queue_but_keeps_the_keys(tmp_path):
    for name in ("bridge.db", "bridge.db-wal", "huey.db", "token_encryption_key.secret", "secret_key.secret"):
        (tmp_path / name).write_text("from the last run")
    removed = fresh_demo_state({"BRIDGE_INSTANCE_PATH": str(tmp_path)})
    assert sorted(p.name for p in removed) == ["bridge.db", "bridge.db-wal", "huey.db"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key.secret", "token_encryption_key.secret"]


def test_a_database_the_user_named_is_never_touched(tmp_path):
    (tmp_path / "bridge.db").write_text("mine")
    (tmp_path / "huey.db").write_text("mine")
    assert fresh_demo_state({"BRIDGE_INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "sqlite:///x.db",
                             "HUEY_SQLITE_PATH": "/tmp/q.db"}) == []
    assert (tmp_path / "bridge.db").exists() and (tmp_path / "huey.db").exists()
