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


def runs(task_name: str) -> Callable[[Callable[[int], Any]], Callable[[int], Any]]:
    """Make the decorated function the body of the task ``task_name``."""
    def bind(fn: Callable[[int], Any]) -> Callable[[int], Any]:
        _BODIES[task_name] = fn
        return fn
    return bind


def _pinned(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn.__module__ = LEGACY_MODULE
    return huey.task(name=fn.__name__)(fn)


@_pinned
def process_inbox(event_id: int) -> None:
    with app_context():
        _BODIES["process_inbox"](event_id)


@_pinned
def run_work(item_id: int) -> None:
    with app_context():
        _BODIES["run_work"](item_id)
