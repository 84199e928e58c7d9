"""The inbox: stored callbacks (``intake``) claimed and translated into work requests.

``process_inbox`` translates the event (a burst a batch per commit) and starts the work it
asked for; a claim is a lease renewed while the translation runs, so a dead worker's
events are taken up again within seconds.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import case, func, select, update

from ..errors import PermanentError
from ..extensions import db
from ..messages import N_
from ..models import InboxEvent, Installation
from . import limits
from .claim import turn
from .context import now
from .lease import Heartbeat
from .registry import BATCH_SIZES, BATCHED_INBOX_SOURCES, INBOX_HANDLERS, WorkRequest
from .run import WHEN_IDLE, execute_work
from .tasks import runs
from .work import gathering, request_work_many

log = logging.getLogger(__name__)


def _claim_inbox(event_id: int) -> InboxEvent | None:
    t = now()
    # Most tasks of a burst find their event translated already, with a batch (below): a read
    # tells them so without taking the database's write lock.
    state, lease_until = db.session.execute(select(InboxEvent.state, InboxEvent.lease_until)
                                            .where(InboxEvent.id == event_id)).first() or (None, None)
    db.session.commit()
    if state not in ("pending", "processing") or (state == "processing" and lease_until and lease_until >= t):
        return None
    claimed = db.session.execute(
        update(InboxEvent)
        .where(InboxEvent.id == event_id)
        .where((InboxEvent.state == "pending") |
               ((InboxEvent.state == "processing") & (InboxEvent.lease_until < t)))
        .values(state="processing", lease_until=t + limits.INBOX_LEASE, attempts=InboxEvent.attempts + 1)
    ).rowcount
    db.session.commit()
    return db.session.get(InboxEvent, event_id) if claimed else None


def _claim_inbox_siblings(event: InboxEvent, limit: int) -> list[InboxEvent]:
    """Claim up to ``limit`` more pending events of the same source and installation: a burst
    of callbacks (a thousand invoices created by an import) is translated a batch at a time,
    one commit for the batch instead of two per event. Their own tasks find them done."""
    if limit <= 0 or event.installation_id is None or event.source not in BATCHED_INBOX_SOURCES:
        return []
    t = now()
    candidates = (select(InboxEvent.id).where(InboxEvent.source == event.source,
                                              InboxEvent.installation_id == event.installation_id,
                                              InboxEvent.state == "pending")
                  .order_by(InboxEvent.id).limit(limit).scalar_subquery())
    ids = db.session.execute(
        update(InboxEvent).where(InboxEvent.id.in_(candidates), InboxEvent.state == "pending")
        .values(state="processing", lease_until=t + limits.INBOX_LEASE, attempts=InboxEvent.attempts + 1)
        .returning(InboxEvent.id)).scalars().all()
    db.session.commit()
    if not ids:
        return []
    return list(db.session.scalars(select(InboxEvent).where(InboxEvent.id.in_(ids)).order_by(InboxEvent.id)))


@runs("process_inbox")
def handle_inbox_event(event_id: int) -> None:
    """Translate the event (with a batch of its installation's pending ones), then start the
    work it asked for.

    The work starts here, not behind the burst's own event tasks in the queue (a thousand
    invoices imported at once put a thousand tasks ahead of any work task: four seconds
    before the first run). The rest of the burst is translated meanwhile by those tasks;
    an event that a run has already covered (stored before the run began reading) asks for
    no second run (``request_work``)."""
    requested = translate_inbox_events(event_id)
    if not requested:
        requested = translate_overdue()  # found nothing to do: an event waiting in the line instead
    if gathering():
        return  # the batch's first run waits out the gathering window in its scheduled task
    for item_id in _first_per_batch_flow(requested):
        execute_work(item_id)


def translate_inbox_events(event_id: int) -> list[tuple[int, str]]:
    """Translate the event into work requests, and with it a batch of pending events of its
    installation (``_claim_inbox_siblings``). Returns the work items newly queued (id and
    flow; their tasks are enqueued).

    The claim is held like a run's lease: short (INBOX_LEASE), renewed by a heartbeat while
    the translation is alive, and given up at once when an error escapes the translation.
    Before, a claim was 5 minutes long and only the minute's sweep looked at it: events
    whose translation never finished (a consumer killed, or an error escaping the
    translation, which left the whole batch claimed) stayed ``processing`` for 5 minutes
    while every consumer idled. Now the reaper hands them out again within
    WORK_LEASE + WORK_HEARTBEAT, as it does a dead run's work."""
    inbox_event = _claim_inbox(event_id)
    if inbox_event is None:
        return []  # done already, or another worker holds it
    owned = {inbox_event.id: inbox_event.attempts}
    try:
        events = [inbox_event, *_claim_inbox_siblings(inbox_event, limits.INBOX_BATCH - 1)]
        owned.update({claimed.id: claimed.attempts for claimed in events})
        with Heartbeat(owned, renew=claim_renewal):
            return _translate_batch(events)
    except Exception:
        _give_up_claim(owned)
        raise


def translate_overdue() -> list[tuple[int, str]]:
    """Translate the overdue events (stored more than INBOX_OVERDUE ago, still pending) of the
    installation whose turn it is (served longest ago, ``claim.turn``), a batch of them.

    Called by a task that found nothing to do (its event translated with a batch already,
    its work taken by a run). The queue is first come, first served: one installation's burst
    (an import's thousands of callbacks, a backfill's work) puts hundreds of such tasks ahead
    of another installation's lone event, whose own task then waited 10-20 s in the line
    (bench/fairness.py). Those tasks now translate it on their way; its work is then run
    in turn (``claim.pick``). One indexed read when nothing is overdue."""
    t = now()
    overdue = db.session.execute(select(InboxEvent.installation_id, func.min(InboxEvent.id)).where(
        InboxEvent.state == "pending", InboxEvent.received_at < t - limits.INBOX_OVERDUE)
        .group_by(InboxEvent.installation_id)).all()
    if not overdue:
        db.session.commit()
        return []
    served = dict(db.session.execute(select(Installation.id, Installation.served_at).where(
        Installation.id.in_({i for i, _ in overdue if i is not None}))).all())
    db.session.commit()
    _, event_id = min(overdue, key=lambda row: (turn(served.get(row[0]), 0), row[1]))
    return translate_inbox_events(event_id)


WHEN_IDLE.append(translate_overdue)


def claim_renewal(owned: dict[int, int], *, lease_until=None):
    """The inbox claim's renewal (event id -> ``attempts`` when claimed: each claim adds
    one, so it is the claim's generation): only events still ``processing`` under this
    claim, never one another consumer has claimed since or that is done."""
    return (update(InboxEvent).where(InboxEvent.id.in_(list(owned)), InboxEvent.state == "processing",
                                     InboxEvent.attempts == case(owned, value=InboxEvent.id))
            .values(lease_until=lease_until or now() + limits.INBOX_LEASE))


def _give_up_claim(owned: dict[int, int]) -> None:
    """An error escaped the translation: its events' claim runs out now, so the reaper
    (within WORK_HEARTBEAT) hands them out again instead of their lease running on. If the
    database itself is what failed, the claim still runs out within INBOX_LEASE."""
    try:
        db.session.rollback()
        db.session.execute(claim_renewal(owned, lease_until=now() - timedelta(seconds=1)))
        db.session.commit()
    except Exception:  # noqa: BLE001 - the lease runs out by itself; the original error is what matters
        db.session.rollback()
        log.warning("inbox events %s: could not give up their claim", sorted(owned), exc_info=True)


def _translate_batch(events: list[InboxEvent]) -> list[tuple[int, str]]:
    """Translate and commit; the work items newly queued (id and flow). The batch's work
    is asked for at once and commits once; if that fails, each of its events is handled on
    its own, so one bad event holds up none of the others."""
    if len(events) > 1:
        try:
            requested = request_work_many([ask for claimed in events for ask in _asks(claimed)])
            db.session.commit()
            return requested
        except Exception:  # noqa: BLE001 - retried one by one below, each error on its own event
            db.session.rollback()
    return [queued for claimed in events for queued in _handle_claimed(claimed.id)]


def _first_per_batch_flow(requested: list[tuple[int, str]]) -> list[int]:
    """One of the work items newly queued per batch flow (its run claims the others);
    single-item flows are left to their own tasks."""
    first: dict[str, int] = {}
    for item_id, flow_name in requested:
        if BATCH_SIZES.get(flow_name, 1) > 1:
            first.setdefault(flow_name, item_id)
    return list(first.values())


def _asks(event: InboxEvent) -> list[tuple[WorkRequest, int | None]]:
    """The event's work requests, each with the event id it counts as (``request_work``);
    marks the event done (committed with its requests)."""
    handler = INBOX_HANDLERS.get(event.source)
    if handler is None:
        raise PermanentError(N_("No handler for %(source)s events.", source=event.source))
    # A re-opened event (``record_inbound``: a second change behind the same dedup key) kept
    # its old id, which no longer says when the change came: it counts as news.
    seen_as = None if event.processed_at else event.id
    asks = [(request, seen_as) for request in handler(event)]
    event.state = "done"
    event.processed_at = now()
    event.last_error = None
    return asks


def _handle_claimed(event_id: int) -> list[tuple[int, str]]:
    try:
        requested = request_work_many(_asks(db.session.get(InboxEvent, event_id)))
        db.session.commit()
        return requested
    except Exception as exc:  # recorded on the row; the sweeper retries non-permanent ones
        db.session.rollback()
        inbox_event = db.session.get(InboxEvent, event_id)
        permanent = isinstance(exc, PermanentError) or inbox_event.attempts >= limits.MAX_ATTEMPTS
        inbox_event.state = "failed" if permanent else "pending"
        inbox_event.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        inbox_event.lease_until = None
        db.session.commit()
        log.warning("inbox event %s: %s", event_id, inbox_event.last_error)
        return []
