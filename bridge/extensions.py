"""Extension singletons, created once and bound to an app with ``init_app``.

The Huey instance must exist at import time (tasks are declared with its decorators), so
its storage is chosen here from the environment, the same way ``Config`` does:

- ``HUEY_STORAGE=memory`` (the default under ``BRIDGE_ENV=test``): tests drain it themselves;
- ``redis`` (the default when ``REDIS_URL`` is set): the scale-out queue, Huey's priority
  flavour (``PriorityRedisHuey``), since the engine queues tasks by class (``engine.tasks``);
- ``sqlite`` (the embedded default): ``instance/huey.db`` or ``HUEY_SQLITE_PATH``.
"""
from __future__ import annotations

import os

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from huey import MemoryHuey, PriorityRedisHuey, SqliteHuey
from huey.storage import PriorityRedisStorage, SqliteStorage
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from .config import DEFAULT_INSTANCE

try:
    from redis.exceptions import ResponseError
except ImportError:  # the embedded default runs without the Redis client
    ResponseError = ()  # type: ignore[assignment,misc]

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


# Atomically set aside a first-come queue (a Redis list) left by the plain RedisHuey, under
# the same key the priority queue (a sorted set) uses; nothing when the key is anything else.
_SET_ASIDE_LUA = """\
if redis.call('type', KEYS[1]).ok == 'list' then
  redis.call('rename', KEYS[1], KEYS[2])
  return 1
end
return 0"""


class _UpgradingPriorityRedisStorage(PriorityRedisStorage):
    """Huey's Redis queue with priorities, which also runs what the plain RedisHuey queued
    before an upgrade. Both keep the queue under the same key, the old one as a list and the
    new one as a sorted set, so the first command of the new kind on the old list fails
    with WRONGTYPE. Then, once, the list is set aside atomically (the next enqueue starts
    the sorted set) and its tasks are moved into the sorted set in their order, at the
    bulk class (``adopt_first_come_queue``). The consumer's first dequeue does it as well,
    so the old version's tasks run even before the web enqueues anything."""

    def adopt_first_come_queue(self) -> int:
        """Move the old first-come queue's tasks into this one; returns how many. Safe from
        many processes at once: each task is popped from the set-aside list by one."""
        aside = self.queue_key + ".first-come"
        self.conn.eval(_SET_ASIDE_LUA, 2, self.queue_key, aside)
        moved = 0
        while (data := self.conn.rpop(aside)) is not None:  # the old queue's oldest first
            super().enqueue(data, None)
            moved += 1
        return moved

    def _adopting(self, operation, *args):
        try:
            return operation(*args)
        except ResponseError as exc:
            if "WRONGTYPE" not in str(exc):
                raise
            self.adopt_first_come_queue()
            return operation(*args)

    def enqueue(self, data, priority=None):
        return self._adopting(super().enqueue, data, priority)

    def dequeue(self):
        return self._adopting(super().dequeue)

    def queue_size(self):
        return self._adopting(super().queue_size)


class _PriorityRedisHuey(PriorityRedisHuey):
    storage_class = _UpgradingPriorityRedisStorage


def make_redis_huey(url: str, name: str = "bridge") -> PriorityRedisHuey:
    """The scale-out queue (see ``_UpgradingPriorityRedisStorage`` for an upgrade from the
    plain RedisHuey)."""
    return _PriorityRedisHuey(name, url=url)


def make_huey():
    kind = queue_storage_kind()
    if kind == "memory":
        return MemoryHuey("bridge", immediate=False)
    if kind == "redis":
        return make_redis_huey(os.environ["REDIS_URL"])
    if kind == "sqlite":
        instance = os.environ.get("BRIDGE_INSTANCE_PATH") or str(DEFAULT_INSTANCE)
        path = os.environ.get("HUEY_SQLITE_PATH") or os.path.join(instance, "huey.db")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return _SqliteHuey("bridge", filename=path)
    raise RuntimeError(f"HUEY_STORAGE must be memory, sqlite or redis, not {kind!r}")


huey = make_huey()
