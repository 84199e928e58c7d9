"""Tables of the Xero connector: the local index of each organisation's contacts.

Matching an invoice's customer against Xero costs up to three lookups per customer
(ContactNumber, e-mail, name). ``XeroContact`` keeps the few fields the identity rules need,
per organisation, so a known customer is matched without a call; ``XeroContactIndexState``
remembers how far the index has read Xero (its If-Modified-Since) and whether a webhook
said a contact changed since. The index is a cache: dropping it costs one full re-read.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ...extensions import db
from ...models import UTCDateTime, utcnow


class XeroContact(db.Model):
    __tablename__ = "xero_contacts"
    __table_args__ = (UniqueConstraint("organisation_id", "contact_id"),
                      Index("ix_xero_contacts_org_number", "organisation_id", "contact_number"),
                      Index("ix_xero_contacts_org_email", "organisation_id", "email_key"),
                      Index("ix_xero_contacts_org_name", "organisation_id", "name_key"))

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[str] = mapped_column(String(64))
    contact_id: Mapped[str] = mapped_column(String(64))
    contact_number: Mapped[str | None] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(255), default="")
    name_key: Mapped[str] = mapped_column(String(255), default="")  # normalised, lower case
    email: Mapped[str] = mapped_column(String(255), default="")
    email_key: Mapped[str] = mapped_column(String(255), default="")  # stripped, lower case
    status: Mapped[str] = mapped_column(String(20), default="ACTIVE")
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # Xero's UpdatedDateUTC


class XeroContactIndexState(db.Model):
    __tablename__ = "xero_contact_index_state"

    organisation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    loaded: Mapped[bool] = mapped_column(Boolean, default=False)  # a full read has completed
    stale: Mapped[bool] = mapped_column(Boolean, default=False)  # a CONTACT webhook arrived since
    read_from: Mapped[datetime | None] = mapped_column(UTCDateTime)  # next If-Modified-Since (Xero's clock)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # our clock, last read
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
