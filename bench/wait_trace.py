"""Where the others' wait goes in the fairness bench (``bench/fairness.py --trace FILE``).

A lone invoice's time from save to Xero draft has four parts, each read from what the
system itself records:

- ``delivered``: from the save until bridge stored the portal's event (``InboxEvent.received_at``);
- ``translated``: until the event was translated into work (``InboxEvent.processed_at``);
- ``started``: until the run made its first call (the sandbox's request log, by portal);
- ``ran``: until the Xero invoice write was answered.

While the bench runs, the deployment is sampled twice a second: the Huey queue's length and
which work is running, the big installation's and the others'. For each of the slowest
invoices the trace shows the samples of its wait, so a long ``started`` can be put beside what
held the threads at that moment.
"""
from __future__ import annotations

import collections
import json
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path

from deployment import percentile, seconds

PARTS = ("delivered", "translated", "started", "ran")


class Sampler:
    """Samples of the deployment's queue and running work, taken from the bench's loop."""

    def __init__(self, app, huey_path: Path, big_installation: int, every: float = 0.5) -> None:
        self.app, self.huey_path, self.big, self.every = app, huey_path, big_installation, every
        self.samples: list[dict] = []
        self._next = 0.0

    def maybe_sample(self) -> None:
        if time.monotonic() < self._next:
            return
        self._next = time.monotonic() + self.every
        self.samples.append({"at": time.time(), "huey_queued": self._huey_queued(), **self._work()})

    def _huey_queued(self) -> int | None:
        """Tasks in Huey's SQLite queue (None on another storage)."""
        if not self.huey_path.exists():
            return None
        with sqlite3.connect(self.huey_path, timeout=1) as queue:
            try:
                return queue.execute("SELECT count(*) FROM task").fetchone()[0]
            except sqlite3.Error:
                return None

    def _work(self) -> dict:
        from sqlalchemy import func, select

        from bridge.extensions import db
        from bridge.models import WorkItem

        counts: collections.Counter = collections.Counter()
        with self.app.app_context():
            for installation_id, flow, state, n in db.session.execute(
                    select(WorkItem.installation_id, WorkItem.flow, WorkItem.state, func.count())
                    .where(WorkItem.state.in_(("queued", "running", "waiting")))
                    .group_by(WorkItem.installation_id, WorkItem.flow, WorkItem.state)):
                whose = f"big {flow}" if installation_id == self.big else "others"
                counts[f"{state}: {whose}"] += n
            db.session.remove()
        return dict(counts)


def _events(app) -> dict[int, list[tuple[float, float | None]]]:
    """Each installation's Bitrix24 invoice events: (received, processed) as epoch seconds."""
    from sqlalchemy import select

    from bridge.extensions import db
    from bridge.models import InboxEvent

    by_installation: dict[int, list[tuple[float, float | None]]] = collections.defaultdict(list)
    with app.app_context():
        for installation_id, received, processed in db.session.execute(
                select(InboxEvent.installation_id, InboxEvent.received_at, InboxEvent.processed_at)
                .where(InboxEvent.source == "bitrix24").order_by(InboxEvent.received_at)):
            by_installation[installation_id].append((_epoch(received), _epoch(processed) if processed else None))
        db.session.remove()
    return by_installation


def _epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def breakdown(app, saves: list[dict], portal_calls: dict[str, list[float]], samples: list[dict],
              started: float, slowest: int = 5) -> dict:
    """The parts of each drafted invoice's wait (``saves``: domain, installation_id, saved,
    drafted), their percentiles, and the slowest invoices (when they were saved, in seconds
    from the big one's start) with the samples of their wait."""
    events = _events(app)
    rows = []
    for save in saves:
        if save.get("drafted") is None:
            continue
        saved, drafted = save["saved"], save["drafted"]
        event = next(((r, p) for r, p in events.get(save["installation_id"], []) if r >= saved - 0.01), None)
        first_call = next((at for at in portal_calls.get(save["domain"], []) if at >= saved), None)
        marks = [saved, event[0] if event else None, event[1] if event else None, first_call, drafted]
        if None in marks:
            continue
        parts = {name: round(max(0.0, marks[i + 1] - marks[i]), 3) for i, name in enumerate(PARTS)}
        rows.append({"domain": save["domain"], "saved": saved, "saved_at_second": round(saved - started, 1),
                     "total": round(drafted - saved, 3), **parts})
    summary = {name: {"p50": seconds(percentile([r[name] for r in rows], 0.5)),
                      "p95": seconds(percentile([r[name] for r in rows], 0.95)),
                      "max": seconds(max((r[name] for r in rows), default=None))} for name in PARTS}
    worst = sorted(rows, key=lambda r: r["total"], reverse=True)[:slowest]
    for row in worst:
        during = [s for s in samples if row["saved"] <= s["at"] <= row["saved"] + row["total"]]
        row["samples"] = [{**s, "at": round(s["at"] - row["saved"], 1)} for s in during]
    return {"invoices": len(rows), "parts": summary, "slowest": worst}


def unspent_budget(calls: list[float], started: float, ended: float, samples: list[dict],
                   rate: float = 2.0, capacity: float = 50.0, longest: int = 8) -> dict:
    """Where the big installation's own run was not bound by its portal's limit: the seconds
    its Bitrix24 budget (a leaky bucket of ``capacity`` refilled at ``rate`` a second, full
    at the start) sat full, so time passed that no request used. Those seconds are what its
    wall time has above the limit's pace; the longest such spells come with the samples of
    what its work was doing then."""
    level, moment, full_total, spells = capacity, started, 0.0, []
    for at in [*sorted(c for c in calls if started <= c <= ended), ended]:
        filled_at = moment + (capacity - level) / rate
        if filled_at < at:
            full_total += at - filled_at
            spells.append((filled_at, at))
        level = min(capacity, level + (at - moment) * rate) - 1
        moment = at
    spells.sort(key=lambda spell: spell[0] - spell[1])
    return {"seconds": round(ended - started, 1), "budget_full_seconds": round(full_total, 1),
            "requests": len([c for c in calls if started <= c <= ended]),
            "longest_full_spells": [
                {"from": round(a - started, 1), "seconds": round(b - a, 1),
                 "samples": [{k: v for k, v in s.items() if k != "at"} for s in samples if a <= s["at"] <= b][:4]}
                for a, b in spells[:longest]]}


def write(path: str, trace: dict) -> None:
    Path(path).write_text(json.dumps(trace, indent=1))
