"""API budgets shared by every process: token buckets, sliding windows, concurrency caps,
header budgets.

Each external API has limits per key (a Xero organisation, a Bitrix24 portal, a Bexio
company), and they hold across all web and worker processes, so the state cannot live in
memory. The embedded default keeps it in the database; the scale-out keeps it in Redis.
pyrate-limiter covers a Redis token bucket but no concurrency cap and no budgets learnt
from response headers, so both backends are written here, small and alike.

Database backend: every decision is one short committed transaction on its own
connection (never the caller's session), made atomic by a conditional UPDATE that both
SQLite and PostgreSQL execute under a row/database write lock.
"""
from __future__ import annotations

import math
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator, Protocol

from sqlalchemy import text

from .errors import BudgetExhausted, PacingWait
from .messages import N_


@dataclass(frozen=True)
class Limits:
    """What one key may do. ``rate`` calls per second refill a bucket of ``burst``; or, with
    ``window`` set, at most ``burst`` calls in any ``window`` seconds (``rate`` unused).

    The window is for APIs that count calls in a rolling window (Xero: 60 in any 60 s). A
    bucket can only approximate that from below: it passes its burst plus a window's refill
    in any window, so it must keep both at half the limit and makes a run of 60 calls wait
    a minute that Xero would have taken at once. The window keeps the time of each of the
    last ``burst`` calls, taken when the call is sent (after its concurrency slot), so it
    passes exactly what the API counts."""

    rate: float
    burst: int
    concurrency: int | None = None
    window: float | None = None
    # A call never waits longer than this for a token or a slot inside a job; beyond it
    # the job is rescheduled instead of holding a worker.
    max_wait: float = 10.0
    slot_ttl: float = 120.0  # a crashed holder's slot frees itself after this
    # The limit in a user's words, for the sync log and the invoice tab while bridge waits
    # ("Xero's limit of 60 calls a minute per organisation"); the budget key if empty.
    name: str = ""


class Clock(Protocol):
    def __call__(self) -> float: ...


def _fmt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


class Limiter:
    """Interface of both backends."""

    def __init__(self, clock: Clock = time.time, sleep=time.sleep) -> None:
        self.clock = clock
        self.sleep = sleep

    # -- token bucket -------------------------------------------------------------------
    def take(self, key: str, limits: Limits) -> None:
        """Take one token, waiting up to ``limits.max_wait``; raise PacingWait beyond."""
        deadline = self.clock() + limits.max_wait
        while True:
            paused = self.paused_until(key)
            now = self.clock()
            if paused and paused > now:
                raise BudgetExhausted(N_("API budget for %(key)s paused", key=key), resume_at=_fmt(paused),
                                      retry_after=paused - now)
            wait = self._try_window(key, limits, now) if limits.window else self._try_take(key, limits, now)
            if wait <= 0:
                return
            if now + wait > deadline:
                raise PacingWait(N_("%(limit)s is reached for now: the next call is possible in %(seconds)s s. bridge "
                                    "waits and goes on by itself.", seconds=math.ceil(wait),
                                    limit=limits.name or N_("The rate limit of %(key)s", key=key)),
                                 retry_after=wait, code="rate_limited")
            self.sleep(wait)

    # -- concurrency --------------------------------------------------------------------
    @contextmanager
    def slot(self, key: str, limits: Limits) -> Iterator[None]:
        if not limits.concurrency:
            yield
            return
        holder = uuid.uuid4().hex
        deadline = self.clock() + limits.max_wait
        delay = 0.02
        while not self._try_slot(key, holder, limits):
            if self.clock() > deadline:
                raise PacingWait(N_("%(count)s calls are already in flight (%(limit)s). bridge waits and goes on by "
                                    "itself.",
                                    count=limits.concurrency, limit=limits.name or key),
                                 retry_after=1.0, code="concurrency")
            self.sleep(delay)
            delay = min(delay * 2, 0.5)
        try:
            yield
        finally:
            self._release_slot(key, holder)

    @contextmanager
    def call(self, key: str, limits: Limits) -> Iterator[None]:
        """Both: a token and a concurrency slot for the duration of the call. A window's
        token is taken once the slot is held, so the time it keeps is the time of sending
        (a call that waited for a slot after its token would reach the API later than its
        place in the window says)."""
        if limits.window:
            with self.slot(key, limits):
                self.take(key, limits)
                yield
            return
        self.take(key, limits)
        with self.slot(key, limits):
            yield

    # -- budgets reported by the API ------------------------------------------------------
    def pause(self, key: str, seconds: float, reason: str) -> float:
        until = self.clock() + seconds
        self._set_pause(key, until, reason)
        return until

    # backend hooks
    def _try_take(self, key: str, limits: Limits, now: float) -> float: raise NotImplementedError
    def _try_window(self, key: str, limits: Limits, now: float) -> float: raise NotImplementedError
    def _try_slot(self, key: str, holder: str, limits: Limits) -> bool: raise NotImplementedError
    def _release_slot(self, key: str, holder: str) -> None: raise NotImplementedError
    def _set_pause(self, key: str, until: float, reason: str) -> None: raise NotImplementedError
    def paused_until(self, key: str) -> float | None: raise NotImplementedError
    def observe(self, key: str, remaining_minute: int | None = None,
                remaining_day: int | None = None) -> None: raise NotImplementedError
    def budget(self, key: str) -> dict: raise NotImplementedError
    def in_flight(self, key: str) -> int: raise NotImplementedError


class DatabaseLimiter(Limiter):
    """Budgets in the ``rate_budgets`` and ``concurrency_slots`` tables."""

    def __init__(self, engine, **kwargs) -> None:
        super().__init__(**kwargs)
        self.engine = engine

    def _ensure(self, conn, key: str, limits: Limits | None, now: float) -> None:
        tokens = float(limits.burst) if limits else 0.0
        sql = ("INSERT INTO rate_budgets (key, tokens, refilled_at) VALUES (:k, :t, :n) "
               "ON CONFLICT (key) DO NOTHING")
        conn.execute(text(sql), {"k": key, "t": tokens, "n": now})

    def _try_take(self, key: str, limits: Limits, now: float) -> float:
        available = ("CASE WHEN tokens + (:now - refilled_at) * :rate > :burst THEN :burst "
                     "ELSE tokens + (:now - refilled_at) * :rate END")
        params = {"k": key, "now": now, "rate": limits.rate, "burst": float(limits.burst)}
        with self.engine.begin() as conn:
            self._ensure(conn, key, limits, now)
            taken = conn.execute(text(
                f"UPDATE rate_budgets SET tokens = {available} - 1, refilled_at = :now "
                f"WHERE key = :k AND {available} >= 1"), params).rowcount
            if taken:
                return 0.0
            current = conn.execute(text(f"SELECT {available} FROM rate_budgets WHERE key = :k"),
                                   params).scalar_one()
        return max((1 - float(current)) / limits.rate, 0.001)

    def _try_window(self, key: str, limits: Limits, now: float) -> float:
        """The window's calls are entries under ``window:<key>`` that expire ``window`` seconds
        after their call: slots nobody releases."""
        return self._add_expiring(key, "window:" + key, uuid.uuid4().hex, now, now + limits.window, limits.burst)

    def _try_slot(self, key: str, holder: str, limits: Limits) -> bool:
        now = self.clock()
        return self._add_expiring(key, key, holder, now, now + limits.slot_ttl, limits.concurrency) == 0

    def _add_expiring(self, key: str, entries: str, holder: str, now: float, expires_at: float, cap: int) -> float:
        """Add an entry to ``entries`` in ``concurrency_slots`` if fewer than ``cap`` are
        unexpired; returns 0 when added, else the seconds until the oldest expires."""
        with self.engine.begin() as conn:
            self._ensure(conn, key, None, now)
            # Lock the key's budget row first: concurrent acquirers queue here, so the
            # count below cannot be read by two of them at once (PostgreSQL READ COMMITTED).
            conn.execute(text("UPDATE rate_budgets SET observed_at = observed_at WHERE key = :k"), {"k": key})
            conn.execute(text("DELETE FROM concurrency_slots WHERE key = :k AND expires_at <= :now"),
                         {"k": entries, "now": now})
            added = conn.execute(text(
                "INSERT INTO concurrency_slots (key, holder, expires_at) "
                "SELECT :k, :h, :exp WHERE (SELECT count(*) FROM concurrency_slots WHERE key = :k2) < :cap"),
                {"k": entries, "k2": entries, "h": holder, "exp": expires_at, "cap": cap}).rowcount
            if added:
                return 0.0
            oldest = conn.execute(text("SELECT min(expires_at) FROM concurrency_slots WHERE key = :k"),
                                  {"k": entries}).scalar_one()
        return max(float(oldest) - now, 0.001)

    def _release_slot(self, key: str, holder: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM concurrency_slots WHERE key = :k AND holder = :h"),
                         {"k": key, "h": holder})

    def _set_pause(self, key: str, until: float, reason: str) -> None:
        with self.engine.begin() as conn:
            self._ensure(conn, key, None, self.clock())
            conn.execute(text("UPDATE rate_budgets SET paused_until = :u, pause_reason = :r WHERE key = :k"),
                         {"k": key, "u": until, "r": reason[:200]})

    def paused_until(self, key: str) -> float | None:
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT paused_until FROM rate_budgets WHERE key = :k"),
                                {"k": key}).scalar_one_or_none()

    def observe(self, key: str, remaining_minute: int | None = None, remaining_day: int | None = None) -> None:
        if remaining_minute is None and remaining_day is None:
            return
        now = self.clock()
        with self.engine.begin() as conn:
            self._ensure(conn, key, None, now)
            conn.execute(text(
                "UPDATE rate_budgets SET remaining_minute = COALESCE(:m, remaining_minute), "
                "remaining_day = COALESCE(:d, remaining_day), observed_at = :now WHERE key = :k"),
                {"k": key, "m": remaining_minute, "d": remaining_day, "now": now})

    def budget(self, key: str) -> dict:
        with self.engine.connect() as conn:
            row = conn.execute(text(
                "SELECT tokens, paused_until, pause_reason, remaining_minute, remaining_day, observed_at "
                "FROM rate_budgets WHERE key = :k"), {"k": key}).mappings().first()
        return dict(row) if row else {}

    def in_flight(self, key: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(text(
                "SELECT count(*) FROM concurrency_slots WHERE key = :k AND expires_at >= :now"),
                {"k": key, "now": self.clock()}).scalar_one()


_TAKE_LUA = """
local key = KEYS[1]
local now, rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', key, 'tokens', 'refilled_at')
local tokens = tonumber(state[1]) or burst
local refilled = tonumber(state[2]) or now
tokens = math.min(burst, tokens + (now - refilled) * rate)
if tokens >= 1 then
  redis.call('HSET', key, 'tokens', tokens - 1, 'refilled_at', now)
  return '0'
end
redis.call('HSET', key, 'tokens', tokens, 'refilled_at', now)
return tostring((1 - tokens) / rate)
"""

# An entry in a sorted set scored by its expiry, if fewer than ``cap`` are unexpired: '0' when
# added, else the seconds until the oldest expires. Concurrency slots (released by their
# holder) and a window's calls (never released) are both such entries.
_ADD_EXPIRING_LUA = """
local key = KEYS[1]
local now, ttl, cap, holder = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if redis.call('ZCARD', key) < cap then
  redis.call('ZADD', key, now + ttl, holder)
  redis.call('EXPIRE', key, math.ceil(ttl) + 1)
  return '0'
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return tostring(math.max(tonumber(oldest[2]) - now, 0.001))
"""


class RedisLimiter(Limiter):
    """The same budgets in Redis, for the scale-out (atomic Lua scripts)."""

    prefix = "bridge:rl:"

    def __init__(self, client, **kwargs) -> None:
        super().__init__(**kwargs)
        self.redis = client
        self._take = client.register_script(_TAKE_LUA)
        self._add_expiring = client.register_script(_ADD_EXPIRING_LUA)

    def _try_take(self, key: str, limits: Limits, now: float) -> float:
        return float(self._take(keys=[self.prefix + "bucket:" + key], args=[now, limits.rate, limits.burst]))

    def _try_window(self, key: str, limits: Limits, now: float) -> float:
        return float(self._add_expiring(keys=[self.prefix + "window:" + key],
                                        args=[now, limits.window, limits.burst, uuid.uuid4().hex]))

    def _try_slot(self, key: str, holder: str, limits: Limits) -> bool:
        return float(self._add_expiring(keys=[self.prefix + "slots:" + key],
                                        args=[self.clock(), limits.slot_ttl, limits.concurrency, holder])) == 0

    def _release_slot(self, key: str, holder: str) -> None:
        self.redis.zrem(self.prefix + "slots:" + key, holder)

    def _set_pause(self, key: str, until: float, reason: str) -> None:
        self.redis.hset(self.prefix + "budget:" + key, mapping={"paused_until": until, "pause_reason": reason})

    def paused_until(self, key: str) -> float | None:
        value = self.redis.hget(self.prefix + "budget:" + key, "paused_until")
        return float(value) if value else None

    def observe(self, key: str, remaining_minute: int | None = None, remaining_day: int | None = None) -> None:
        mapping = {"observed_at": self.clock()}
        if remaining_minute is not None:
            mapping["remaining_minute"] = remaining_minute
        if remaining_day is not None:
            mapping["remaining_day"] = remaining_day
        self.redis.hset(self.prefix + "budget:" + key, mapping=mapping)

    def budget(self, key: str) -> dict:
        raw = self.redis.hgetall(self.prefix + "budget:" + key)
        return {k.decode(): v.decode() for k, v in raw.items()}

    def in_flight(self, key: str) -> int:
        return self.redis.zcount(self.prefix + "slots:" + key, self.clock(), "+inf")


def limiter_for_app(app) -> Limiter:
    """The backend the configuration asks for (Redis when REDIS_URL is set)."""
    existing = app.extensions.get("bridge_limiter")
    if existing is not None:
        return existing
    if app.config.get("REDIS_URL") and app.config.get("RATE_LIMIT_BACKEND", "auto") != "database":
        import redis

        limiter: Limiter = RedisLimiter(redis.Redis.from_url(app.config["REDIS_URL"]))
    else:
        from .extensions import db

        with app.app_context():
            limiter = DatabaseLimiter(db.engine)
    app.extensions["bridge_limiter"] = limiter
    return limiter
