"""The engine's two Huey tasks: translate an inbox event, run a work item.

Their names are pinned to what they were called before the engine was a package
(``bridge.jobs.process_inbox``, ``bridge.jobs.run_work``): Huey finds a queued message's
task by that name, so messages queued before an upgrade still run after it.

The tasks sit below the modules that enqueue them (inbox, work, settle, sweeper) and
their bodies are bound by the modules that implement them (``runs``): a task's body runs
the engine and the engine enqueues the task, and binding instead of importing keeps that
from being an import cycle.
"""
from __future__ import annotations

from typing import Any, Callable

from ..extensions import huey
from .context import app_context

# The module Huey's names carry (``<module>.<name>``): the engine's home before the package.
LEGACY_MODULE = "bridge.jobs"

_BODIES: dict[str, Callable[[int], Any]] = {}

USER_LINE, EVENT_LINE, RESUME_LINE, BULK_LINE = 30, 20, 10, 0
_WORK_CLASS_LINES = (USER_LINE, BULK_LINE)  # by ``WorkItem.priority``: 0 interactive, 1 bulk


def runs(task_name: str) -> Callable[[Callable[[int], Any]], Callable[[int], Any]]:
    """Make the decorated function the body of the task ``task_name``."""
    def bind(fn: Callable[[int], Any]) -> Callable[[int], Any]:
        _BODIES[task_name] = fn
        return fn
    return bind


def _pinned(priority: int) -> Callable[[Callable[..., Any]], Any]:
    def declare(fn: Callable[..., Any]) -> Any:
        fn.__module__ = LEGACY_MODULE
        return huey.task(name=fn.__name__, priority=priority)(fn)
    return declare


@_pinned(EVENT_LINE)
def process_inbox(event_id: int) -> None:
    with app_context():
        _BODIES["process_inbox"](event_id)


@_pinned(BULK_LINE)
def run_work(item_id: int) -> None:
    with app_context():
        _BODIES["run_work"](item_id)


def line_of(work_class: int, *, resumed: bool = False) -> int:
    """The queue priority of a task for work of ``work_class`` (``WorkItem.priority``);
    ``resumed``: a bulk run's next batch (see the module's docstring)."""
    line = _WORK_CLASS_LINES[min(max(work_class, 0), 1)]
    return RESUME_LINE if resumed and line == BULK_LINE else line


def enqueue_work(item_id: int, work_class: int, *, delay: float | None = None, resumed: bool = False) -> None:
    """Enqueue ``run_work(item_id)`` in its class's line; after ``delay`` seconds if given
    (Huey's scheduler then queues it with the same priority)."""
    priority = line_of(work_class, resumed=resumed)
    if delay is None:
        run_work(item_id, priority=priority)
    else:
        run_work.schedule((item_id,), delay=delay, priority=priority)
