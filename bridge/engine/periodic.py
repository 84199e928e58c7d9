"""Periodic jobs: once per period, however many consumers run a scheduler.

Each job claims its period in ``periodic_runs`` first (a unique row), so N consumers that
all run Huey's scheduler still run it once; daily per-installation jobs claim each
installation instead, so a crash halfway resumes with the rest. The Huey names keep the
module they were declared in before the engine became a package (``tasks.LEGACY_MODULE``).
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable

from huey import crontab

from ..extensions import db, huey
from ..insert_ignore import insert_ignore
from ..models import PeriodicRun
from . import limits
from .context import app_context, now
from .tasks import LEGACY_MODULE
from .work import BULK, asking_as

log = logging.getLogger(__name__)


def claim_period(job: str, period_key: str, *, commit: bool = True) -> bool:
    """Claim ``job`` for ``period_key``; False if someone already did. With ``commit=False``
    the claim joins the caller's transaction, so it commits (or rolls back) together with
    the work it stands for."""
    # RETURNING, not rowcount: rowcount of INSERT .. ON CONFLICT is unreliable across drivers.
    inserted = db.session.execute(insert_ignore(PeriodicRun.__table__).values({
        "job": job, "period_key": period_key, "owner": limits.WORKER_ID,
        "started_at": now()}).returning(PeriodicRun.__table__.c.id)).scalar_one_or_none()
    if commit:
        db.session.commit()
    return inserted is not None


def period_key(period_seconds: int, at: datetime | None = None) -> str:
    at = at or now()
    return str(int(at.timestamp()) // period_seconds)


def periodic(cron: crontab, period_seconds: int, name: str | None = None, *, per_item: bool = False):
    """A Huey periodic task that runs at most once per period across all consumers.

    With ``per_item`` the whole period is not claimed up front: the job gets the period key
    and claims each item it queues (``claim_period(f"{job}:{item}", key, commit=False)``, in
    the transaction that queues it). A crash halfway then leaves the rest to the next
    trigger in the period instead of skipping them until the next period, and no item runs
    twice; such jobs are scheduled more often than their period so that a next trigger comes.
    """
    def decorate(fn: Callable[..., Any]):
        job = name or fn.__name__

        def run_once() -> Any:
            # What a periodic job asks for (a reconcile, a poll, a daily sweep) is bulk work.
            with app_context(), asking_as(BULK):
                if per_item:
                    return fn(period_key(period_seconds))
                if not claim_period(job, period_key(period_seconds)):
                    log.info("periodic %s: already run in this period", job)
                    return None
                return fn()

        run_once.__name__ = job
        run_once.__module__ = LEGACY_MODULE  # the name queued messages carry
        return huey.periodic_task(cron, name=job)(run_once)
    return decorate
