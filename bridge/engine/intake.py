"""Intake: a verified callback stored once, durably, before it is answered.

A callback is written to the inbox and acknowledged; its task is enqueued only after that
row commits, so no answered callback exists only in a queue. ``inbox`` (its other half)
claims the stored events and translates them into work requests.
"""
from __future__ import annotations

import logging
import weakref
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, create_engine, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from ..extensions import db
from ..insert_ignore import insert_ignore
from ..models import InboxEvent, Installation
from .context import enqueue_after_commit, now
from .tasks import process_inbox

log = logging.getLogger(__name__)


def record_inbound(source: str, dedup_key: str, *, installation_id: int | None, topic: str,
                   object_key: str | None, payload: str) -> bool:
    """Store a verified callback once. Returns False for a duplicate (no new row; a job only
    if the first copy was already processed, see below).

    Commits. The processing task is enqueued after the commit.
    """
    stmt = insert_ignore(InboxEvent.__table__).values({
        "source": source, "dedup_key": dedup_key[:255], "installation_id": installation_id, "topic": topic,
        "object_key": object_key, "payload": payload, "state": "pending", "attempts": 0,
        "received_at": now()}).returning(InboxEvent.__table__.c.id)
    event_id = db.session.execute(stmt).scalar_one_or_none()
    if event_id is not None:
        enqueue_after_commit(process_inbox, event_id)
    else:
        # A duplicate of an event already processed is looked at once more. Events are thin
        # ("object X changed"), and a dedup key can be coarser than the changes it stands
        # for (Bitrix24's ts has whole seconds): a second change within the same second
        # must not be lost. Flows are idempotent, so a true duplicate costs a no-op run.
        reopened = db.session.execute(
            update(InboxEvent).where(InboxEvent.dedup_key == dedup_key[:255], InboxEvent.state == "done")
            .values(state="pending", lease_until=None).returning(InboxEvent.id)).scalar_one_or_none()
        if reopened is not None:
            enqueue_after_commit(process_inbox, reopened)
    db.session.commit()
    return event_id is not None


# --------------------------------------------------------------------------------------
# The callback hot path: verify and store in one statement
# --------------------------------------------------------------------------------------
#
# A callback's answer waits for its inbox row to be durable, and on PostgreSQL every round
# trip to the server is most of that wait. ``store_callback`` needs one: a single
# autocommitted ``INSERT .. SELECT`` that stores the row only if the installation the
# callback names exists and its secret matches (the SELECT), once per dedup key
# (ON CONFLICT DO NOTHING), and returns the new id. A single statement in autocommit mode
# is its own transaction: when it returns, the row is committed, so the job can be
# enqueued at once ("enqueue after commit"). Only the rare remainder - a duplicate, or a
# callback that is refused - takes the ordinary path through the session.

_INGEST_ENGINE = "bridge_ingest_engine"


def _ingest_engine():
    """The engine the hot path writes with. On SQLite the app's own (no network, nothing
    to save). On a server database its own pool without the pre-ping (one round trip per
    checkout saved; a connection the server dropped fails once and is replaced, see
    ``_execute_once``); in tests a NullPool so no connection outlives its test app."""
    engine = db.engine
    if engine.dialect.name == "sqlite":
        return engine
    app = current_app._get_current_object()
    cached = app.extensions.get(_INGEST_ENGINE)
    if cached is not None and cached.url == engine.url:
        return cached
    options: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"}
    if app.config.get("BRIDGE_ENV") == "test":
        options["poolclass"] = NullPool
    cached = create_engine(engine.url, **options)
    weakref.finalize(app, cached.dispose)
    app.extensions[_INGEST_ENGINE] = cached
    return cached


def _execute_once(statement, params: dict[str, Any]) -> int | None:
    """Run the insert; a connection the server closed since its last use (a restart) is
    invalidated by SQLAlchemy and the statement runs once more on a new one. Running it
    twice is safe: a row the first attempt stored makes the second a no-op."""
    engine = _ingest_engine()
    for attempt in (1, 2):
        try:
            if engine is db.engine:  # SQLite: the app's engine, autocommitted per statement
                with engine.connect() as connection:
                    connection = connection.execution_options(isolation_level="AUTOCOMMIT")
                    return connection.execute(statement, params).scalar_one_or_none()
            with engine.connect() as connection:
                return connection.execute(statement, params).scalar_one_or_none()
        except DBAPIError as exc:
            if attempt == 2 or not exc.connection_invalidated:
                raise
    return None  # unreachable


_STORE_STATEMENTS: dict[tuple[str, tuple[str, ...]], Any] = {}


def _store_statement(dialect: str, owner_columns: tuple[str, ...]):
    """The INSERT .. SELECT, built once per dialect and owner shape and bound per call
    (building and compiling SQLAlchemy expressions per request cost more than the insert)."""
    key = (dialect, owner_columns)
    if key not in _STORE_STATEMENTS:
        table = InboxEvent.__table__
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        row = select(bindparam("source", type_=table.c.source.type), bindparam("dedup_key", type_=table.c.dedup_key.type),
                     Installation.id, bindparam("topic", type_=table.c.topic.type),
                     bindparam("object_key", type_=table.c.object_key.type),
                     bindparam("payload", type_=table.c.payload.type), literal("pending"), literal(0),
                     bindparam("received_at", type_=table.c.received_at.type)).where(
            Installation.state == "active",
            *(getattr(Installation, column) == bindparam(f"owner_{column}") for column in owner_columns))
        _STORE_STATEMENTS[key] = (
            insert(table).from_select(["source", "dedup_key", "installation_id", "topic", "object_key", "payload",
                                       "state", "attempts", "received_at"], row)
            .on_conflict_do_nothing().returning(table.c.id))
    return _STORE_STATEMENTS[key]


def store_callback(source: str, dedup_key: str, owner: dict[str, str], *, topic: str, object_key: str | None,
                   payload: str) -> int | None:
    """Store a callback if ``owner`` (column -> value of ``Installation``: the installation
    the callback names, with its secret's hash) finds that active installation and the
    dedup key is new. Returns the new row's id, with its job enqueued, or None: then the
    caller tells a duplicate from a refusal the ordinary way (``record_inbound``).

    Runs on its own connection: never call it with rows of the session it depends on
    still uncommitted."""
    columns = tuple(sorted(owner))
    statement = _store_statement(db.engine.dialect.name, columns)
    params = {"source": source, "dedup_key": dedup_key[:255], "topic": topic, "object_key": object_key,
              "payload": payload, "received_at": now(), **{f"owner_{c}": owner[c] for c in columns}}
    event_id = _execute_once(statement, params)
    if event_id is not None:
        try:
            process_inbox(event_id)
        except Exception:  # noqa: BLE001 - the row is committed; the sweeper enqueues it within a minute
            log.exception("inbox event %s stored but not enqueued; the sweeper will pick it up", event_id)
    return event_id
