"""The embedded queue (Huey on SQLite) commits an enqueue without an fsync, like bridge.db:
with SQLite's default (FULL) each callback's enqueue waited for the disk (5 of 12.6 ms in
bench/ingest_profile.py), and WAL with NORMAL cannot corrupt the file."""
from bridge import extensions


def test_the_sqlite_queue_runs_in_wal_with_normal_sync(tmp_path, monkeypatch):
    monkeypatch.setenv("HUEY_STORAGE", "sqlite")
    monkeypatch.setenv("HUEY_SQLITE_PATH", str(tmp_path / "huey.db"))
    queue = extensions.make_huey()
    connection = queue.storage.conn
    assert connection.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert connection.execute("pragma synchronous").fetchone()[0] == 1  # NORMAL (FULL is 2)
    queue.storage.enqueue(b"job")
    assert queue.storage.queue_size() == 1
