"""Typed SQLAlchemy 2.0 models: everything bridge remembers.

The tables fall in four groups:

- who: ``Installation`` (a Bitrix24 portal or DG1 tenant), ``LedgerConnection`` (its Xero
  organisation or Bexio company), ``Credential`` (encrypted tokens, see vault.py),
  ``InstallationSettings``;
- identity: ``Link`` binds a platform object to its ledger object; it is what makes a
  retry update instead of create;
- work: ``InboxEvent`` (every verified callback, deduplicated), ``WorkItem`` (one per
  object and flow: the coalescing point), ``SyncRecord`` (the per-attempt log users see);
- bookkeeping: ``Cursor`` (reconcile/import/backfill checkpoints), ``RateBudget`` and
  ``ConcurrencySlot`` (API budgets shared by every process), ``PeriodicRun`` (one run of a
  periodic job per period, whatever the number of consumers).

Times are stored as naive UTC and read back as aware UTC (``UTCDateTime``), so SQLite and
PostgreSQL behave the same.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer,
                        String, Text, TypeDecorator, UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db
from .stored_messages import track


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every database (SQLite has no time zones)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use bridge.models.utcnow()")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return value.replace(tzinfo=timezone.utc) if value is not None else None


# A big integer id on PostgreSQL, and SQLite's rowid alias there (only INTEGER PRIMARY KEY is).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Credential(Timestamps, db.Model):
    """Tokens of one authorisation, encrypted; refreshed by one process at a time."""

    __tablename__ = "credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    system: Mapped[str] = mapped_column(String(20))
    ciphertext: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(20), default="ok")  # ok | needs_reconnect
    state_message: Mapped[str | None] = mapped_column(Text)
    refresh_lease_owner: Mapped[str | None] = mapped_column(String(64))
    refresh_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Installation(Timestamps, db.Model):
    """bridge installed into one platform account (a Bitrix24 portal, a DG1 tenant)."""

    __tablename__ = "installations"
    __table_args__ = (UniqueConstraint("platform", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    account_id: Mapped[str] = mapped_column(String(100))  # Bitrix24 member_id, DG1 tenant id
    domain: Mapped[str] = mapped_column(String(255), default="")
    state: Mapped[str] = mapped_column(String(20), default="active")  # active | uninstalled
    # SHA-256 of the shared secret the platform signs callbacks with (Bitrix24
    # application_token): enough to verify, useless to a thief of the database.
    app_token_hash: Mapped[str | None] = mapped_column(String(64))
    credential_id: Mapped[int | None] = mapped_column(ForeignKey("credentials.id", ondelete="SET NULL"))
    endpoints: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    language: Mapped[str] = mapped_column(String(10), default="en")
    # An uninstall takes effect only once confirmed with the platform (bridge/installations.py):
    # the event waits for its check (requested, clean asked), one check per window (checked_at);
    # confirmed, it is uninstalled_at, and with clean its data goes at purge_after.
    uninstall_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    uninstall_clean: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    uninstall_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    uninstalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    purge_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the engine last claimed work of this installation: the one served longest ago goes
    # next, so no installation's backlog delays another's (``engine.claim.pick``).
    served_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    credential: Mapped[Credential | None] = relationship()
    settings: Mapped["InstallationSettings | None"] = relationship(
        back_populates="installation", cascade="all, delete-orphan", uselist=False)
    ledger_connections: Mapped[list["LedgerConnection"]] = relationship(
        back_populates="installation", cascade="all, delete-orphan")


class InstallationSettings(db.Model):
    """Validated settings of one installation (schema in bridge/settings.py)."""

    __tablename__ = "installation_settings"

    installation_id: Mapped[int] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    installation: Mapped[Installation] = relationship(back_populates="settings")


class LedgerConnection(Timestamps, db.Model):
    """An installation's link to one ledger organisation, and that link's health."""

    __tablename__ = "ledger_connections"
    __table_args__ = (UniqueConstraint("installation_id", "ledger", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    installation_id: Mapped[int] = mapped_column(ForeignKey("installations.id", ondelete="CASCADE"))
    ledger: Mapped[str] = mapped_column(String(20))  # xero | bexio
    organisation_id: Mapped[str] = mapped_column(String(100))  # Xero tenantId, Bexio company id
    organisation_name: Mapped[str] = mapped_column(String(255), default="")
    connection_ref: Mapped[str | None] = mapped_column(String(100))  # Xero connection id
    credential_id: Mapped[int | None] = mapped_column(ForeignKey("credentials.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    health: Mapped[str] = mapped_column(String(20), default="ok")  # ok | needs_reconnect | paused | error
    health_message: Mapped[str | None] = mapped_column(Text)
    health_message_i18n: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # its id (stored_messages.py)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    installation: Mapped[Installation] = relationship(back_populates="ledger_connections")
    credential: Mapped[Credential | None] = relationship()


class Link(Timestamps, db.Model):
    """(installation, kind, platform id) <-> (installation, ledger organisation, kind, ledger id).

    Both sides are unique within an installation, so one platform object never gets two
    ledger objects and one ledger object never belongs to two platform objects of one
    installation; two installations sharing a ledger organisation each have their own links.
    Kind ``party_person``: a platform person who is a contact person of a ledger company,
    ledger id ``<company id>#person:<e-mail or name>`` (bridge/sync/links.py).
    ``content_hash`` is what we last wrote (to skip no-op updates and to recognise our own
    writes coming back as events).
    """

    __tablename__ = "links"
    __table_args__ = (
        UniqueConstraint("installation_id", "kind", "platform_id"),
        UniqueConstraint("installation_id", "ledger", "ledger_org", "kind", "ledger_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    installation_id: Mapped[int] = mapped_column(ForeignKey("installations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))  # invoice | party | party_person | product | payment ...
    platform_id: Mapped[str] = mapped_column(String(120))
    ledger: Mapped[str] = mapped_column(String(20))
    ledger_org: Mapped[str] = mapped_column(String(100))
    ledger_id: Mapped[str | None] = mapped_column(String(120))
    ledger_number: Mapped[str | None] = mapped_column(String(255))
    ledger_status: Mapped[str | None] = mapped_column(String(30))
    ledger_version: Mapped[str | None] = mapped_column(String(64))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class InboxEvent(db.Model):
    """A verified inbound callback, stored before it is acknowledged.

    ``dedup_key`` is unique: a platform re-sending the same event makes no second row and
    no second job. ``payload`` is the raw body, pruned after the retention period.
    """

    __tablename__ = "inbox_events"
    __table_args__ = (Index("ix_inbox_events_state_received", "state", "received_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(20))  # bitrix24 | xero | dg1
    installation_id: Mapped[int | None] = mapped_column(ForeignKey("installations.id", ondelete="CASCADE"))
    dedup_key: Mapped[str] = mapped_column(String(255), unique=True)
    topic: Mapped[str] = mapped_column(String(100), default="")
    object_key: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), default="pending")  # pending|processing|done|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WorkItem(Timestamps, db.Model):
    """The one pending sync of one object in one flow.

    Events for an object that is already queued change nothing; events for an object whose
    sync is running set ``dirty`` so it runs once more afterwards. That is how a burst of
    1,000 events on 50 invoices becomes at most 100 runs.
    """

    __tablename__ = "work_items"
    __table_args__ = (
        UniqueConstraint("installation_id", "flow", "object_key"),
        Index("ix_work_items_state_next", "state", "next_attempt_at"),
        # The fair pick (``engine.claim.fairest``): ready groups and their oldest without a sort.
        Index("ix_work_items_pick", "state", "installation_id", "flow", "priority", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    installation_id: Mapped[int] = mapped_column(ForeignKey("installations.id", ondelete="CASCADE"))
    flow: Mapped[str] = mapped_column(String(50))
    object_key: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20), default="idle")  # idle | queued | running | waiting
    dirty: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    # Runs in a row whose worker stopped before they settled (``engine.limits.MAX_INTERRUPTIONS``).
    interruptions: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The newest inbox event stored when the last run was claimed: the events up to it told
    # of changes that run read (``engine.request_work``).
    covered_through: Mapped[int | None] = mapped_column(BigInteger)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Its class (``engine.claim``): 0 what a user waits for (Sync now, Retry, a live event),
    # 1 bulk (imports, backfills, reconcile); within an installation the first goes first.
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Fencing: each claim adds one; a run may renew, write and settle only while the item
    # still has the generation it claimed (``engine.work.WorkContext.ensure_still_owner``).
    lease_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


# The ``error_code`` of a record skipped because the user switched sync off on that one
# invoice (the platform's sync box): the invoice tab says so in the box's own words.
SKIPPED_BY_SYNC_BOX = "sync_box_off"
# ... and of one skipped because the invoice is cancelled (or deleted) on the platform: its
# tab says so, never "Synced", since later edits of it are not sent.
SKIPPED_CANCELLED = "cancelled_on_platform"


class SyncRecord(db.Model):
    """One attempt to sync one object: what a user reads in the sync log and invoice tab."""

    __tablename__ = "sync_records"
    __table_args__ = (
        Index("ix_sync_records_installation_created", "installation_id", "created_at"),
        Index("ix_sync_records_object", "installation_id", "object_kind", "object_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    installation_id: Mapped[int] = mapped_column(ForeignKey("installations.id", ondelete="CASCADE"))
    work_item_id: Mapped[int | None] = mapped_column(ForeignKey("work_items.id", ondelete="SET NULL"))
    flow: Mapped[str] = mapped_column(String(50))
    object_kind: Mapped[str] = mapped_column(String(30))
    object_id: Mapped[str] = mapped_column(String(120))
    direction: Mapped[str] = mapped_column(String(20))  # to_ledger | to_platform
    # running | succeeded | retrying | failed | conflict | skipped
    state: Mapped[str] = mapped_column(String(20), default="running")
    sent: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    received: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    error_code: Mapped[str | None] = mapped_column(String(100))
    error_message: Mapped[str | None] = mapped_column(Text)  # in words a user understands
    error_fix: Mapped[str | None] = mapped_column(Text)  # what to change, e.g. a setting
    ledger_messages: Mapped[list[str] | None] = mapped_column(JSON)  # the ledger's own words
    warning: Mapped[str | None] = mapped_column(Text)  # succeeded or skipped, but worth reading
    # The id and parameters of the three texts above, rendered in the viewer's language
    # (bridge/stored_messages.py); None for text written before messages had ids.
    error_message_i18n: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error_fix_i18n: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    warning_i18n: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


track(SyncRecord, "error_message", "error_fix", "warning")
track(LedgerConnection, "health_message")


class Cursor(db.Model):
    """Where a long or repeated read stopped (reconcile, import, backfill, polls)."""

    __tablename__ = "cursors"
    __table_args__ = (UniqueConstraint("scope", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(120))  # e.g. "installation:5", "xero:<tenant>"
    name: Mapped[str] = mapped_column(String(120))
    value: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RateBudget(db.Model):
    """A token bucket and header-reported budgets for one API key (e.g. one Xero org).

    Times are epoch seconds (floats): the bucket arithmetic is done in SQL-free Python under
    a row lock, and floats avoid time-zone handling in the hot path.
    """

    __tablename__ = "rate_budgets"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float, default=0.0)
    refilled_at: Mapped[float] = mapped_column(Float, default=0.0)
    paused_until: Mapped[float | None] = mapped_column(Float)
    pause_reason: Mapped[str | None] = mapped_column(String(200))
    remaining_minute: Mapped[int | None] = mapped_column(Integer)
    remaining_day: Mapped[int | None] = mapped_column(Integer)
    observed_at: Mapped[float | None] = mapped_column(Float)


class ConcurrencySlot(db.Model):
    """One call in flight against a concurrency-capped API (Xero: 5 per organisation)."""

    __tablename__ = "concurrency_slots"
    __table_args__ = (Index("ix_concurrency_slots_key", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[float] = mapped_column(Float)


class PeriodicRun(db.Model):
    """Claimed by the first consumer to start a periodic job in its period; others skip."""

    __tablename__ = "periodic_runs"
    __table_args__ = (UniqueConstraint("job", "period_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(100))
    period_key: Mapped[str] = mapped_column(String(40))
    owner: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Intent(db.Model):
    """A create call about to go to a ledger, committed before it goes (bridge/sync/intents.py).

    One row per (installation, ledger, kind, platform object): the latest create attempt,
    with the Idempotency-Key it carries. ``outcome`` is written once the ledger answered
    (``created`` with ``ledger_id``, or ``refused``); a row without one means the answer was
    lost (a crash, a timeout), so the retry looks the ledger up by what bridge owns before
    creating. With an outcome, or with no row at all, the lookup is skipped: a lone invoice
    then costs only its own write.
    """

    __tablename__ = "intents"
    __table_args__ = (UniqueConstraint("installation_id", "ledger", "kind", "platform_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    installation_id: Mapped[int] = mapped_column(ForeignKey("installations.id", ondelete="CASCADE"))
    ledger: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(30))  # invoice | party
    platform_id: Mapped[str] = mapped_column(String(120))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[str | None] = mapped_column(String(20))  # None: unknown | created | refused
    ledger_id: Mapped[str | None] = mapped_column(String(120))
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
