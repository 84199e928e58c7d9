"""Running queued Huey tasks in the test process, and counting them.

Tests use an in-memory queue (``HUEY_STORAGE=memory``) and drain it themselves, so a test
sees a burst's whole chain of tasks run, in order, without a consumer process.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from bridge.extensions import huey


def run_queued_tasks(limit: int = 10_000) -> int:
    """Execute everything in the queue now, including what the tasks enqueue. Returns the
    number of tasks run. Scheduled (delayed) tasks stay scheduled."""
    count = 0
    while count < limit:
        task = huey.dequeue()
        if task is None:
            break
        huey.execute(task)
        count += 1
    return count


@contextmanager
def counting_task_runs() -> Iterator[dict[str, int]]:
    """Count executed tasks by name (a test measuring coalescing reads this)."""
    counts: dict[str, int] = {}

    def count(signal, task, *args):
        counts[task.name] = counts.get(task.name, 0) + 1

    huey.signal("executing")(count)
    try:
        yield counts
    finally:
        huey.disconnect_signal(count)
