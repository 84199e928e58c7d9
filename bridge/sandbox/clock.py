"""A clock tests and demos can move forward (token expiry, idempotency windows, daily jobs)."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone


class SandboxClock:
    def __init__(self) -> None:
        self._offset = 0.0
        self._frozen: float | None = None  # a fixed "now" (moved only by advance)
        self._lock = threading.Lock()

    def time(self) -> float:
        """Seconds since the epoch, as the simulated systems see it."""
        with self._lock:
            return (time.time() if self._frozen is None else self._frozen) + self._offset

    def freeze(self, at: float | None) -> None:
        """Stop the clock at ``at`` (None: follow the wall clock again). A frozen clock
        makes a test's history the same whenever it runs: time passes only by ``advance``."""
        with self._lock:
            self._frozen, self._offset = at, 0.0

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=timezone.utc)

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._offset += seconds
        return self.time()

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0
            self._frozen = None
