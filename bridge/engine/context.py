"""Where the engine's code runs: inside an app context, with its enqueues held until commit.

- Tasks run inside the app the process built: the web process's (tests, the demo) or the
  worker's (``bridge.worker`` builds it and binds it here). The engine never builds an app
  itself, so it never imports the factory (which imports the flows, which import the engine).
- ``enqueue_after_commit``: no job ever points at a row that rolled back.
"""
from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime
from typing import Any

from flask import has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import utcnow

_bound_app = None


def bind_app(app) -> None:
    """The app tasks run in when no app context is active (the worker's)."""
    global _bound_app
    _bound_app = app


def app_context():
    """An app context for a task: the current one, or the bound app's."""
    if has_app_context():
        return nullcontext()
    if _bound_app is None:
        raise RuntimeError("No app is bound to the job engine: start the worker as "
                           "'huey_consumer bridge.worker.huey', which builds the app.")
    return _bound_app.app_context()


_PENDING = "bridge_pending_enqueues"


def enqueue_after_commit(task, *args: Any) -> None:
    """Enqueue ``task(*args)`` once the current transaction commits; drop it on rollback."""
    db.session.info.setdefault(_PENDING, []).append((task, args))


@event.listens_for(Session, "after_commit")
def _flush_enqueues(session: Session) -> None:
    # Enqueueing writes to the queue's own storage, never to this session, so it is safe
    # inside the commit event.
    for task, args in session.info.pop(_PENDING, []):
        task(*args)


@event.listens_for(Session, "after_rollback")
def _drop_enqueues(session: Session) -> None:
    session.info.pop(_PENDING, None)


def now() -> datetime:
    return utcnow()
