"""Extension singletons, created once and bound to an app with ``init_app``.

The Huey instance must exist at import time (tasks are declared with its decorators), so
its storage is chosen here from the environment, the same way ``Config`` does:

- ``HUEY_STORAGE=memory`` (the default under ``BRIDGE_ENV=test``): tests drain it themselves;
- ``redis`` (the default when ``REDIS_URL`` is set): the scale-out queue;
- ``sqlite`` (the embedded default): ``instance/huey.db`` or ``HUEY_SQLITE_PATH``.
"""
from __future__ import annotations

import os

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from huey import MemoryHuey, RedisHuey, SqliteHuey
from huey.storage import SqliteStorage
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from .config import DEFAULT_INSTANCE

# Stable constraint names, so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()


def queue_storage_kind() -> str:
    explicit = os.environ.get("HUEY_STORAGE")
    if explicit:
        return explicit
    if os.environ.get("BRIDGE_ENV") == "test":
        return "memory"
    if os.environ.get("REDIS_URL"):
        return "redis"
    return "sqlite"


class _WalNormalStorage(SqliteStorage):
    """Huey's SQLite queue with ``synchronous=NORMAL``, as ``bridge.db`` has (factory.py).

    Huey leaves SQLite's default, FULL, so every enqueue fsyncs the WAL: measured with
    ``bench/ingest_profile.py``, that one fsync was 5 ms of a callback's 12.6 ms, more than
    all of bridge's CPU. In WAL mode NORMAL cannot corrupt the file; a power cut may lose
    the last jobs, which the sweeper re-enqueues from the committed inbox rows."""

    def _create_connection(self):
        conn = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        return conn


class _SqliteHuey(SqliteHuey):
    storage_class = _WalNormalStorage


def make_huey():
    kind = queue_storage_kind()
    if kind == "memory":
        return MemoryHuey("bridge", immediate=False)
    if kind == "redis":
        return RedisHuey("bridge", url=os.environ["REDIS_URL"])
    if kind == "sqlite":
        instance = os.environ.get("BRIDGE_INSTANCE_PATH") or str(DEFAULT_INSTANCE)
        path = os.environ.get("HUEY_SQLITE_PATH") or os.path.join(instance, "huey.db")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return _SqliteHuey("bridge", filename=path)
    raise RuntimeError(f"HUEY_STORAGE must be memory, sqlite or redis, not {kind!r}")


huey = make_huey()
