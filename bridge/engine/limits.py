"""The engine's tunables: leases, batch sizes, attempts and backoff, in one place.

Read as ``limits.NAME`` at the moment they are used (never imported by value), so one
assignment here changes every module that applies them: a test that shortens the leases,
or an operator's patch, cannot leave one module on the old value.
"""
from __future__ import annotations

import os
import socket
from datetime import timedelta

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"
# An inbox event's claim while it is translated: as short as a run's lease, and renewed by the
# same heartbeat (``inbox.translate_inbox_events``), so a consumer that died or got stuck in a
# translation frees its events within WORK_LEASE + WORK_HEARTBEAT (the reaper), not 5 minutes.
INBOX_LEASE = timedelta(seconds=30)
# A stored event still untranslated this long after it came is overdue: its own task waits in
# the queue's line (first come, first served) behind another installation's burst, so the next
# task that finds nothing to do translates it (``inbox.translate_overdue``).
INBOX_OVERDUE = timedelta(seconds=1)
# Events translated per commit (see _claim_inbox_siblings), the size of the invoice export's runs.
INBOX_BATCH = 49
# A retry's task may fire a moment before the time it was scheduled for (the scheduler ticks).
RETRY_EARLY = timedelta(seconds=2)
# A run's lease, renewed by its heartbeat every WORK_HEARTBEAT while it is alive: a dead
# worker's work is free again WORK_LEASE after its last beat (the sweeper, every minute,
# hands it out). One UPDATE per running batch per WORK_HEARTBEAT (SQLite: 0.1 writes/s per
# worker thread), so the beats never crowd the callbacks' inserts.
WORK_LEASE = timedelta(seconds=30)
WORK_HEARTBEAT = timedelta(seconds=10)
# How long one task goes on running an installation's next batches (_run_batches).
DRAIN_SECONDS = 30.0
# Bulk runs (an import, a backfill, the export of what a backfill asked for) one installation
# may have going at once. Its next bulk flow waits until one of them ends or hands over, so
# one installation's backlog never holds every worker thread: with the consumer's 4, two
# stay for other installations and for its own user's work (``claim.fairest``, ``pick``).
# A soft cap: two claims at the same instant may both start (a third run, briefly).
# BRIDGE_BULK_RUNS_PER_INSTALLATION, at least 1.
BULK_RUNS_PER_INSTALLATION = max(1, int(os.environ.get("BRIDGE_BULK_RUNS_PER_INSTALLATION", "2")))
MAX_ATTEMPTS = 12
# Runs in a row that ended with their worker gone (the sweeper found the lease run out). A
# run that stops its worker every time (out of memory on one huge record, say) would be
# handed out again every lease, for ever; after this many it is stopped and shown as failed.
MAX_INTERRUPTIONS = 5
# From the second interruption in a row an item of a batch flow runs alone: one record that
# takes the worker down must not take its batch of 48 others to the limit with it. (The first
# is most often a restart: its batch runs again as a batch.)
RUN_ALONE_AFTER = 2
# Gathering window: a batch flow's newly queued work waits this long before its first run,
# so events arriving together share a batch (one ledger call) while a lone one waits no
# longer than this (plus the queue's scheduler tick, 1 s). BRIDGE_GATHER_SECONDS, 0 to 2;
# 0 under BRIDGE_ENV=test, whose tests drain the queue themselves and schedule nothing.
# 0.5 s by default: the events of one save come within it, and at full size (50
# installations, one importing and backfilling) it took the others' p99 from 5.1 to 4.2 s
# against 1 s, each lone invoice still 1 Xero call (docs/PERFORMANCE.md).
GATHER_SECONDS = max(0.0, min(2.0, float(os.environ.get(
    "BRIDGE_GATHER_SECONDS", "0" if os.environ.get("BRIDGE_ENV") == "test" else "0.5"))))
BACKOFF_BASE = 30.0  # seconds; doubles per attempt
BACKOFF_CAP = 6 * 3600.0
