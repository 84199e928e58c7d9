"""Installing and uninstalling: the life of an ``Installation`` common to every platform.

An uninstall event is only a request. The shared secret that signs it (Bitrix24's
application_token) is handed to every page of the app that any portal user opens, so it
proves nothing about who sent the event. Hence:

- ``request_uninstall`` (called by the callback) changes nothing but the request: the
  installation keeps syncing, nothing is deleted, and one check is asked of the job engine,
  at most one per installation per ``UNINSTALL_CHECK_WINDOW_SECONDS`` however many events
  come (a flood of forged events must not turn into a storm of token refreshes);
- the platform's check (e.g. ``connectors/bitrix24/uninstall.py``) asks the platform itself
  and then calls ``uninstall`` (confirmed) or ``refuse_uninstall`` (the platform still has
  the app), or raises a retryable error (inconclusive: nothing changes, retried with backoff);
- ``uninstall`` is the one way an installation ends: ledger connections are cut at once, its
  tokens deleted; the data stays, and with ``clean`` it is purged ``UNINSTALL_GRACE_DAYS``
  later by the daily ``purge_uninstalled`` job unless the app is installed again before
  (``restore``).
"""
from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from flask import current_app
from huey import crontab
from sqlalchemy import delete, select, update

from .extensions import db
from .insert_ignore import insert_ignore
from .messages import N_
from .engine import enqueue_after_commit, periodic, run_work
from .models import Credential, InboxEvent, Installation, LedgerConnection, WorkItem, utcnow

UNINSTALL_OBJECT = "app:uninstall"  # the work item's object key of an installation's uninstall check


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(installation: Installation | None, token: str | None) -> bool:
    """Constant-time check of a callback's shared secret (e.g. Bitrix24 application_token)."""
    if installation is None or not token or not installation.app_token_hash:
        return False
    return hmac.compare_digest(installation.app_token_hash, token_hash(token))


def check_window() -> timedelta:
    return timedelta(seconds=float(current_app.config.get("UNINSTALL_CHECK_WINDOW_SECONDS", 900)))


def grace_period() -> timedelta:
    return timedelta(days=int(current_app.config.get("UNINSTALL_GRACE_DAYS", 30)))


def request_uninstall(installation: Installation, *, clean: bool, flow: str) -> bool:
    """An uninstall event came (authenticated by the shared secret only): ask ``flow`` to
    check it with the platform. Nothing else changes. Returns True when a check was newly
    queued or scheduled, False when one is pending already (it covers this event too).

    The check runs no sooner than one window after the last one: a flood of events costs
    one check per window, and a real uninstall that follows a refused forgery is still
    checked (at the end of the window), never dropped. ``clean`` is remembered if any event
    of the request asked for it: the platform's own event may come after a forged one."""
    t = utcnow()
    installation.uninstall_requested_at = t  # the newest: a check that started before it does not cover it
    installation.uninstall_clean = bool(installation.uninstall_clean) or clean
    last = installation.uninstall_checked_at
    due = max(t, last + check_window()) if last is not None else t
    db.session.execute(insert_ignore(WorkItem.__table__), [{
        "installation_id": installation.id, "flow": flow, "object_key": UNINSTALL_OBJECT, "state": "idle",
        "dirty": False, "attempts": 0, "runs": 0, "options": {}, "created_at": t, "updated_at": t}])
    item_id = db.session.scalar(select(WorkItem.id).where(
        WorkItem.installation_id == installation.id, WorkItem.flow == flow, WorkItem.object_key == UNINSTALL_OBJECT))
    # Only an idle item is asked again: one queued or waiting already covers this event, and
    # one running is marked dirty so that it runs once more (its answer may predate the event).
    asked = db.session.execute(update(WorkItem).where(WorkItem.id == item_id, WorkItem.state == "idle").values(
        state="queued" if due <= t else "waiting", next_attempt_at=None if due <= t else due, updated_at=t)
        .returning(WorkItem.id)).scalar_one_or_none()
    db.session.execute(update(WorkItem).where(WorkItem.id == item_id, WorkItem.state == "running")
                       .values(dirty=True))
    if asked is not None and due <= t:
        enqueue_after_commit(run_work, item_id)
    db.session.commit()
    if asked is not None and due > t:  # the sweeper runs it then too, should this be lost
        run_work.schedule((item_id,), delay=(due - t).total_seconds())
    return asked is not None


def refuse_uninstall(installation: Installation, *, checked_at: datetime) -> None:
    """The platform, asked at ``checked_at``, still has the app: the request is dropped
    (unless an event came after the check began: that one is checked at the window's end),
    nothing else changes. Committed."""
    db.session.execute(update(Installation).where(Installation.id == installation.id)
                       .values(uninstall_checked_at=checked_at))
    db.session.execute(update(Installation).where(Installation.id == installation.id,
                                                  Installation.uninstall_requested_at <= checked_at)
                       .values(uninstall_requested_at=None, uninstall_clean=False))
    db.session.commit()


def uninstall(installation: Installation, *, clean: bool) -> None:
    """The one uninstall, once confirmed: every token goes at once, the ledger connections
    are cut (inactive, their tokens deleted: no sync can run any more), the data stays.

    Without ``clean`` the links and sync log stay for good, so a re-install resumes where it
    was and never duplicates what was already synced. With ``clean`` they go at
    ``purge_after`` (the grace period), unless the app is installed again before."""
    t = utcnow()
    credential_ids = [installation.credential_id] + [c.credential_id for c in installation.ledger_connections]
    credential_ids = [c for c in credential_ids if c]
    installation.credential_id = None
    for connection in installation.ledger_connections:
        connection.credential_id = None
        connection.active = False
        connection.health = "needs_reconnect"
        connection.health_message = N_("The app was uninstalled.")
    db.session.flush()
    if credential_ids:
        db.session.execute(delete(Credential).where(Credential.id.in_(credential_ids)))
    installation.state = "uninstalled"
    installation.app_token_hash = None
    installation.uninstalled_at = t
    installation.purge_after = t + grace_period() if clean else None
    installation.uninstall_requested_at = None
    installation.uninstall_clean = False
    installation.updated_at = t
    db.session.commit()


def restore(installation: Installation) -> None:
    """A re-install: the installation row (and its links, settings and log) is the same one
    again; a purge planned by an uninstall with ``clean`` is called off. Not committed."""
    installation.state = "active"
    installation.uninstalled_at = None
    installation.purge_after = None
    installation.uninstall_requested_at = None
    installation.uninstall_clean = False


def purge_due(at: datetime | None = None) -> int:
    """Delete what uninstalls with ``clean`` left once their grace period is over. Returns
    the number of installations purged."""
    at = at or utcnow()
    due = list(db.session.scalars(select(Installation).where(
        Installation.state == "uninstalled", Installation.purge_after.is_not(None), Installation.purge_after <= at)))
    for installation in due:
        db.session.execute(delete(InboxEvent).where(InboxEvent.installation_id == installation.id))
        db.session.delete(installation)  # cascades: settings, connections, links, work, records
    db.session.commit()
    return len(due)


@periodic(crontab(minute="27", hour="3"), 86400, name="purge_uninstalled")
def purge_uninstalled() -> dict[str, int]:
    """The daily maintenance of uninstalls: purge what their grace period no longer keeps."""
    return {"installations": purge_due()}


def active_connection(installation: Installation, ledger: str | None = None) -> LedgerConnection | None:
    query = select(LedgerConnection).where(LedgerConnection.installation_id == installation.id,
                                           LedgerConnection.active.is_(True))
    if ledger:
        query = query.where(LedgerConnection.ledger == ledger)
    return db.session.scalars(query.order_by(LedgerConnection.id)).first()
