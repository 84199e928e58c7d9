"""Per-tenant request rate limit on the sandbox clock (a sliding one-second window)."""
from __future__ import annotations

import math
from collections import deque


class RateLimiter:
    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self._hits: dict[str, deque[float]] = {}

    def hit(self, tenant_id: str, now: float) -> tuple[bool, int, int]:
        """Count a request: (allowed, remaining, retry_after seconds). Call under the lock."""
        window = self._hits.setdefault(tenant_id, deque())
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= self.per_second:
            return False, 0, max(1, math.ceil(window[0] + 1.0 - now))
        window.append(now)
        return True, self.per_second - len(window), 0

    def reset(self) -> None:
        self._hits.clear()
