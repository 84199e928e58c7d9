"""Xero's rate limits per organisation and app, on the sandbox clock (NOTES section 7).

Rolling windows: 60 calls in any 60 s and the day limit in any 24 h per (app, tenant),
10,000 calls in any 60 s per app, and at most 5 calls in flight per (app, tenant).
A refused call is not counted.
"""
from __future__ import annotations

import math
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Callable

from .settings import XeroSettings

MINUTE = 60.0
DAY = 86400.0


@dataclass
class Decision:
    allowed: bool
    headers: dict[str, str] = field(default_factory=dict)
    problem: str | None = None
    retry_after: int = 0


class RateLimiter:
    def __init__(self, clock: Callable[[], float], settings: XeroSettings) -> None:
        self._clock = clock
        self._settings = settings
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.minute: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self.day: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self.app_minute: dict[str, deque[float]] = defaultdict(deque)
        self.inflight: dict[tuple[str, str], int] = defaultdict(int)
        # What a test reads to see that a client kept to the limits: the most calls ever in
        # flight at once, and the calls refused, by problem.
        self.max_inflight: dict[tuple[str, str], int] = defaultdict(int)
        self.refused: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))

    @staticmethod
    def _trim(window: deque[float], now: float, span: float) -> None:
        while window and window[0] <= now - span:
            window.popleft()

    def acquire(self, client_id: str, tenant_id: str, day_limit: int | None = None) -> Decision:
        s = self._settings
        day_cap = day_limit or s.day_limit
        key = (client_id, tenant_id)
        with self._lock:
            now = self._clock()
            minute, day, app = self.minute[key], self.day[key], self.app_minute[client_id]
            self._trim(minute, now, MINUTE)
            self._trim(day, now, DAY)
            self._trim(app, now, MINUTE)

            def headers() -> dict[str, str]:
                return {"X-DayLimit-Remaining": str(max(day_cap - len(day), 0)),
                        "X-MinLimit-Remaining": str(max(s.minute_limit - len(minute), 0)),
                        "X-AppMinLimit-Remaining": str(max(s.app_minute_limit - len(app), 0))}

            def refuse(problem: str, window: deque[float] | None, span: float) -> Decision:
                self.refused[key][problem] += 1
                wait = 1 if window is None else max(1, math.ceil(window[0] + span - now))
                return Decision(False, {**headers(), "Retry-After": str(wait), "X-Rate-Limit-Problem": problem},
                                problem, wait)

            if len(day) >= day_cap:
                return refuse("day", day, DAY)
            if len(app) >= s.app_minute_limit:
                return refuse("appminute", app, MINUTE)
            if len(minute) >= s.minute_limit:
                return refuse("minute", minute, MINUTE)
            if self.inflight[key] >= s.concurrent_limit:
                return refuse("concurrent", None, 0)
            minute.append(now)
            day.append(now)
            app.append(now)
            self.inflight[key] += 1
            self.max_inflight[key] = max(self.max_inflight[key], self.inflight[key])
            return Decision(True, headers())

    def release(self, client_id: str, tenant_id: str) -> None:
        with self._lock:
            key = (client_id, tenant_id)
            self.inflight[key] = max(self.inflight[key] - 1, 0)

    def snapshot(self) -> dict:
        with self._lock:
            return {"inflight": {f"{c}/{t}": n for (c, t), n in self.inflight.items() if n},
                    "minute": {f"{c}/{t}": len(w) for (c, t), w in self.minute.items()},
                    "day": {f"{c}/{t}": len(w) for (c, t), w in self.day.items()},
                    "max_inflight": {f"{c}/{t}": n for (c, t), n in self.max_inflight.items()},
                    "refused": {f"{c}/{t}": dict(r) for (c, t), r in self.refused.items()}}
