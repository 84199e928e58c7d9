"""Work done in child processes by multi-process tests (module level so it can be pickled)."""
from __future__ import annotations

import time

from sqlalchemy import create_engine


def _engine(url: str):
    from bridge.factory import _sqlite_pragmas  # noqa: F401  (registers the SQLite pragmas)

    return create_engine(url)


def take_tokens(url: str, key: str, attempts: int, start_at: float) -> int:
    from bridge.errors import RetryableError
    from bridge.ratelimit import DatabaseLimiter, Limits

    limiter = DatabaseLimiter(_engine(url))
    limits = Limits(rate=0.001, burst=10, max_wait=0)
    time.sleep(max(start_at - time.time(), 0))
    taken = 0
    for _ in range(attempts):
        try:
            limiter.take(key, limits)
            taken += 1
        except RetryableError:
            pass
    return taken


def hold_slot(url: str, key: str, hold: float, start_at: float) -> bool:
    from bridge.errors import RetryableError
    from bridge.ratelimit import DatabaseLimiter, Limits

    limiter = DatabaseLimiter(_engine(url))
    limits = Limits(rate=1000, burst=1000, concurrency=2, max_wait=0)
    time.sleep(max(start_at - time.time(), 0))
    try:
        with limiter.slot(key, limits):
            time.sleep(hold)
            return True
    except RetryableError:
        return False


def refresh_tokens(url: str, key: str, credential_id: int, token_url: str, start_at: float) -> str:
    import requests

    from bridge.vault import Vault

    vault = Vault(_engine(url), key)

    def refresher(data):
        response = requests.post(token_url, data={"refresh_token": data["refresh_token"]}, timeout=10)
        response.raise_for_status()
        return response.json()

    time.sleep(max(start_at - time.time(), 0))
    return vault.fresh(credential_id, refresher).access_token
