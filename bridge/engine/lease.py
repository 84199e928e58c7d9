"""The heartbeat: a running batch's leases renewed from their own thread while it is alive.

Why a thread: a flow's checkpoints come when its work allows (a slow ledger call, a page
of an import), and a lease long enough to cover the slowest of them held a dead worker's
work for as long (it was 10 minutes). Beats from a thread that lives as long as the run
let the lease be short (``limits.WORK_LEASE``, 30 s): a dead worker's beats stop with it,
and its work is free 30 s after the last one. Each beat is one UPDATE of the batch's rows
on its own connection, checked against the generations the run claimed: a beat that
renews nothing means another run owns the work, and this run's next write or settle is
refused (``WorkContext.ensure_still_owner``).
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from ..extensions import db
from . import limits
from .work import renewal

log = logging.getLogger(__name__)


class Heartbeat:
    """``with Heartbeat(generations):`` renews those items' leases every WORK_HEARTBEAT.

    ``renew`` builds the renewal statement from ``owned`` (row id -> the generation claimed);
    a work run's by default, an inbox translation's claim of its events with
    ``inbox.claim_renewal``."""

    def __init__(self, owned: dict[int, int], renew: Callable[[dict[int, int]], Any] = renewal) -> None:
        self.owned = dict(owned)
        self.renew = renew
        self.engine = db.engine  # bound now: the thread has no app context
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bridge-heartbeat", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        # Not waited for long: a beat may be queued behind this run's own uncommitted write
        # (SQLite has one writer), and a beat landing after the run settled renews nothing
        # (it renews running items only, of this run's generation).
        self._stop.set()
        self._thread.join(timeout=0.5)

    def _run(self) -> None:
        while not self._stop.wait(limits.WORK_HEARTBEAT.total_seconds()):
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - a missed beat is retried at the next; the lease allows three
                log.warning("heartbeat for work %s failed", sorted(self.owned), exc_info=True)

    def beat(self) -> int:
        """Renew now; returns how many leases were renewed (fewer: some were taken over)."""
        with self.engine.begin() as connection:
            renewed = connection.execute(self.renew(self.owned)).rowcount
        if renewed < len(self.owned):
            self.lost.set()
        return renewed
