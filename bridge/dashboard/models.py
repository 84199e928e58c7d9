"""Tables of the dashboard, the alerts and the operator console.

``LedgerTransaction`` is the local copy of Xero bank transactions and payments the dashboard
reads: a view never calls Xero, the refresh job does (``refresh.py``). Amounts are stored as
integers in ten-thousandths (``amount_e4``): SQLite has no decimal type, and summing floats
would make the totals drift by cents; integer sums are exact on every database and are turned
back into ``Decimal`` when read.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models import BigId, UTCDateTime, utcnow
from ..stored_messages import track

AMOUNT_SCALE = 4  # amount_e4 = amount * 10**4


def to_e4(amount: Decimal) -> int:
    return int((Decimal(amount) * 10 ** AMOUNT_SCALE).to_integral_value())


def from_e4(value: int | None) -> Decimal:
    return (Decimal(value or 0).scaleb(-AMOUNT_SCALE)).quantize(Decimal("0.01"))


class LedgerTransaction(db.Model):
    """One Xero bank transaction or payment, as last read from Xero."""

    __tablename__ = "ledger_transactions"
    __table_args__ = (
        UniqueConstraint("connection_id", "kind", "ledger_id"),
        Index("ix_ledger_transactions_connection_date", "connection_id", "date"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("ledger_connections.id", ondelete="CASCADE"))
    installation_id: Mapped[int] = mapped_column(ForeignKey("installations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # bank_transaction | payment
    ledger_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(40), default="")  # RECEIVE, SPEND, ACCRECPAYMENT ...
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="")
    contact_id: Mapped[str | None] = mapped_column(String(64))
    contact_name: Mapped[str] = mapped_column(String(255), default="")
    account_id: Mapped[str | None] = mapped_column(String(64))
    account_code: Mapped[str] = mapped_column(String(20), default="")
    account_name: Mapped[str] = mapped_column(String(255), default="")
    reference: Mapped[str] = mapped_column(String(255), default="")
    document_number: Mapped[str] = mapped_column(String(255), default="")  # the paid invoice's number
    currency: Mapped[str] = mapped_column(String(3), default="")
    amount_e4: Mapped[int] = mapped_column(BigInteger, default=0)
    reconciled: Mapped[bool | None] = mapped_column(db.Boolean)
    ledger_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def amount(self) -> Decimal:
        return from_e4(self.amount_e4)


class SentAlert(db.Model):
    """An alert claimed for (installation, cause, day): the unique key is what makes an alert
    go out at most once per cause per day, whatever the number of workers."""

    __tablename__ = "sent_alerts"
    __table_args__ = (UniqueConstraint("installation_id", "cause", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    installation_id: Mapped[int] = mapped_column(ForeignKey("installations.id", ondelete="CASCADE"))
    cause: Mapped[str] = mapped_column(String(150))
    day: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD, UTC
    message: Mapped[str] = mapped_column(Text, default="")
    message_i18n: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # its id (bridge/stored_messages.py)
    channels: Mapped[str] = mapped_column(String(50), default="")  # e.g. "bitrix24,email"
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


track(SentAlert, "message")


class Operator(db.Model):
    """A person of the partner running bridge for several clients (the operator console)."""

    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))  # werkzeug.security
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
