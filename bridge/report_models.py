"""Tables of the reconciliation report: its runs and the differences they found.

A ``ReportRun`` is one pass of the report over an installation (on demand or daily): the
page polls its counts while it runs, and the next run reads only what changed since this
one started. A ``ReportRow`` is one difference, kept across runs with a state a person
changes (``open`` -> ``ignored``) or a later run finds gone (``fixed``): that is what makes
the open count on the main page and in the digest mean "still to look at".
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, mapped_column

from .extensions import db
from .models import UTCDateTime, utcnow
from .stored_messages import track


class ReportRun(db.Model):
    """One run of the reconciliation report of one installation."""

    __tablename__ = "report_runs"
    __table_args__ = (Index("ix_report_runs_installation", "installation_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    installation_id: Mapped[int] = mapped_column(ForeignKey("installations.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(20), default="queued")  # queued | running | finished | failed
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    # What this run read from: changes since the previous finished run's start; None: everything.
    since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked: Mapped[int] = mapped_column(Integer, default=0)  # invoices compared so far
    found: Mapped[int] = mapped_column(Integer, default=0)  # differences seen by this run
    fixed: Mapped[int] = mapped_column(Integer, default=0)  # open rows this run found gone
    error: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReportRow(db.Model):
    """One difference between the platform and the ledger, as long as it lasts."""

    __tablename__ = "report_rows"
    __table_args__ = (
        UniqueConstraint("installation_id", "kind", "platform_id", "ledger_id"),
        Index("ix_report_rows_installation_state", "installation_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    installation_id: Mapped[int] = mapped_column(ForeignKey("installations.id", ondelete="CASCADE"))
    # gone_in_ledger | gone_on_platform | amounts | payments | missing_in_ledger | missing_on_platform
    kind: Mapped[str] = mapped_column(String(30))
    platform_id: Mapped[str] = mapped_column(String(120), default="")  # "": the ledger's alone
    ledger_id: Mapped[str] = mapped_column(String(120), default="")  # "": the platform's alone
    ledger_number: Mapped[str] = mapped_column(String(255), default="")
    issued: Mapped[date | None] = mapped_column(Date)  # the invoice's date: the report's period
    what: Mapped[str] = mapped_column(Text, default="")
    what_i18n: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    actions: Mapped[list[str]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(20), default="open")  # open | fixed | ignored
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


track(ReportRow, "what")


def open_count(installation_id: int) -> int:
    """The differences still to look at: the main page's and the daily digest's number."""
    return db.session.scalar(select(func.count()).select_from(ReportRow).where(
        ReportRow.installation_id == installation_id, ReportRow.state == "open")) or 0
