"""The per-portal leaky bucket (NOTES s9): +1 per HTTP request, drains Y per second, over X -> 503."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LeakyBucket:
    drain_per_second: float
    capacity: int
    level: float = 0.0
    updated: float = 0.0

    def admit(self, now: float) -> bool:
        """Count one request; False (and no count) when the bucket is full."""
        if self.updated:
            self.level = max(0.0, self.level - (now - self.updated) * self.drain_per_second)
        self.updated = now
        if self.level + 1 > self.capacity:
            return False
        self.level += 1
        return True


# NOTES s9: Enterprise 5/s burst 250, every other plan 2/s burst 50.
PLAN_LIMITS = {"enterprise": (5.0, 250)}
DEFAULT_LIMITS = (2.0, 50)


def bucket_for_plan(plan: str) -> LeakyBucket:
    rate, cap = PLAN_LIMITS.get(plan, DEFAULT_LIMITS)
    return LeakyBucket(rate, cap)
