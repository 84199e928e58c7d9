"""The durable job engine: inbox -> work items -> flow runs, on Huey.

Why it is shaped like this:

- A callback is written to the inbox and acknowledged; its task is enqueued only after
  that row commits (``enqueue_after_commit``), so no job ever points at a row that rolled
  back, and no answered callback exists only in a queue (``inbox``, ``context``).
- ``process_inbox`` turns an event into work requests for objects. Each object has one
  ``WorkItem`` per flow; asking for work on an object that is already queued changes
  nothing, and on one that is running marks it dirty so it runs once more afterwards (``work``).
- ``run_work`` claims a queued item with a conditional UPDATE (so a duplicate task is a
  no-op), runs the flow, and then settles it: done, retry later (exponential backoff,
  at least Retry-After), paused (a spent API budget), or failed (recorded for a person)
  (``claim``, ``run``, ``settle``).
- The sweeper re-enqueues what a dead worker left behind; leases make that safe (``sweeper``).
- Periodic jobs claim their period in ``periodic_runs`` first, so N consumers that all run
  a scheduler still run each job once per period (daily per-installation jobs claim each
  installation instead, so a crash halfway resumes with the rest) (``periodic``).

The engine imports no flow, connector, page, alert or the app factory: they register with
it (``registry``), and the worker process builds the app (``bridge.worker``). Its tunables
are in ``limits``. This package is the public API; import what flows and connectors need
from here.
"""
from __future__ import annotations

from ..extensions import huey
from .context import app_context, bind_app, enqueue_after_commit, now
from .inbox import handle_inbox_event, translate_inbox_events
from .intake import record_inbound, store_callback
from .periodic import claim_period, period_key, periodic
from .registry import (BATCH_SIZES, BATCHED_INBOX_SOURCES, FLOWS, INBOX_HANDLERS, WorkRequest, flow, inbox_handler,
                       on_failure)
from .run import execute_work, hand_over
from .settle import backoff_seconds
from .sweeper import prune_once, sweep_once
from .tasks import process_inbox, run_work
from .waits import Wait, why_waiting
from .work import LeaseLost, WorkContext, renew_lease, request_again, request_work, request_work_many

__all__ = [
    "BATCHED_INBOX_SOURCES", "BATCH_SIZES", "FLOWS", "INBOX_HANDLERS", "WorkContext", "WorkRequest", "app_context",
    "backoff_seconds", "bind_app", "claim_period", "enqueue_after_commit", "execute_work", "flow",
    "hand_over", "handle_inbox_event", "huey", "inbox_handler", "LeaseLost", "now", "on_failure", "period_key", "periodic", "process_inbox",
    "prune_once", "record_inbound", "renew_lease", "request_again", "request_work", "request_work_many", "run_work", "store_callback",
    "sweep_once", "translate_inbox_events", "Wait", "why_waiting",
]
