"""The local index of one organisation's Xero contacts (tables in ``models.py``).

Why: the identity rules (link -> ContactNumber -> e-mail -> exact name) would otherwise cost
up to three GETs per customer per invoice. The index holds what those rules read, so a
known customer is matched without a call, and a batch of invoices costs at most one
incremental read (If-Modified-Since) plus one chunked lookup for customers it does not know.

How it stays fresh:

- the first use reads every contact once (pages of 1000, archived ones included);
- afterwards, reads are incremental from ``read_from`` - the newest UpdatedDateUTC seen, on
  Xero's clock, never ours, less a minute's overlap - when the index was last read more than ``fresh_for`` ago or a
  CONTACT webhook marked it stale (``mark_stale``, called by the inbox handler);
- every contact bridge writes or reads (saves, imports, lookups) is upserted as it passes.

It is a cache: Xero stays the authority, and a stale entry can only make a lookup happen
(a miss) or be caught by Xero's own unique-name rule on the write.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from sqlalchemy import or_, select, update

from ...extensions import db
from ...insert_ignore import insert_ignore
from ...models import utcnow
from . import mapper
from .models import XeroContact, XeroContactIndexState

FRESH_FOR = timedelta(seconds=30)
# Reads start this much before the newest change seen: a contact saved at the same moment by
# a slower request may carry an earlier UpdatedDateUTC than one already read. The overlap
# costs a few repeated rows, not a call.
OVERLAP = timedelta(minutes=1)


def name_key(name: str | None) -> str:
    return mapper.normalise_name(name or "").lower()


def email_key(email: str | None) -> str:
    return (email or "").strip().lower()


@dataclass(frozen=True)
class IndexedContact:
    contact_id: str
    contact_number: str | None
    name: str
    email: str
    status: str

    def as_contact(self) -> dict[str, Any]:
        """The Xero JSON fields the identity rules read (no ContactPersons: see ``partial``)."""
        return {"ContactID": self.contact_id, "ContactNumber": self.contact_number, "Name": self.name,
                "EmailAddress": self.email, "ContactStatus": self.status, "_partial": True}


def mark_stale(organisation_id: str) -> None:
    """A CONTACT webhook arrived: the next use reads the changes first. Runs in the caller's
    transaction (the inbox handler's), so it never opens a second writer on SQLite."""
    db.session.execute(update(XeroContactIndexState).where(
        XeroContactIndexState.organisation_id == organisation_id).values(stale=True))


class ContactIndex:
    """The index of one organisation; the ledger asks it before asking Xero."""

    def __init__(self, organisation_id: str, *, fresh_for: timedelta = FRESH_FOR,
                 now: Callable[[], datetime] = utcnow) -> None:
        self.organisation_id = organisation_id
        self.fresh_for = fresh_for
        self.now = now

    # -- freshness ----------------------------------------------------------------------------
    def _state(self) -> XeroContactIndexState | None:
        return db.session.get(XeroContactIndexState, self.organisation_id)

    def needs_read(self) -> bool:
        state = self._state()
        return (state is None or not state.loaded or state.stale or state.checked_at is None
                or state.checked_at <= self.now() - self.fresh_for)

    def refresh(self, client, *, force: bool = False) -> bool:
        """Read what changed in Xero since the last read (everything, the first time).

        Returns whether Xero was called. The HTTP read happens before any write here, and
        the caller's session is committed at the end, as every flow step does.
        """
        if not force and not self.needs_read():
            return False
        state = self._state()
        since = state.read_from - OVERLAP if state is not None and state.loaded and state.read_from else None
        db.session.commit()  # no transaction held across the call
        contacts = list(client.contacts(since=since, include_archived=True))
        self.upsert(contacts, commit=False)
        # Two workers may read an organisation for the first time at once: one row for both.
        db.session.execute(insert_ignore(XeroContactIndexState.__table__).values(
            organisation_id=self.organisation_id, loaded=False, stale=False))
        state = self._state()
        newest = max((mapper.parse_datetime(c.get("UpdatedDateUTC")) for c in contacts
                      if c.get("UpdatedDateUTC")), default=None)
        if newest is not None and (state.read_from is None or newest > state.read_from):
            state.read_from = newest  # records changed at or after it come back: re-upserted, harmless
        state.loaded, state.stale, state.checked_at = True, False, self.now()
        db.session.add(state)
        db.session.commit()
        return True

    # -- writing ------------------------------------------------------------------------------
    def upsert(self, contacts: Iterable[dict[str, Any]], *, commit: bool = True) -> None:
        """Insert or update entries from Xero contact JSON (a read, a save's answer)."""
        by_id = {c["ContactID"]: c for c in contacts if c and c.get("ContactID")}
        if not by_id:
            return
        # Rows another worker may be inserting at the same moment: inserted if missing, then read.
        db.session.execute(insert_ignore(XeroContact.__table__),
                           [{"organisation_id": self.organisation_id, "contact_id": contact_id} for contact_id in by_id])
        existing = {row.contact_id: row for row in db.session.scalars(select(XeroContact).where(
            XeroContact.organisation_id == self.organisation_id, XeroContact.contact_id.in_(list(by_id))))}
        for contact_id, contact in by_id.items():
            row = existing[contact_id]
            updated = mapper.parse_datetime(contact.get("UpdatedDateUTC"))
            if row.updated_at is not None and updated is not None and updated < row.updated_at:
                continue  # an older copy (e.g. a slow page) never overwrites a newer one
            row.contact_number = contact.get("ContactNumber") or None
            row.name = mapper.normalise_name(contact.get("Name") or "")
            row.name_key = name_key(contact.get("Name"))
            row.email = (contact.get("EmailAddress") or "").strip()
            row.email_key = email_key(contact.get("EmailAddress"))
            row.status = contact.get("ContactStatus") or "ACTIVE"
            row.updated_at = updated or row.updated_at
            db.session.add(row)
        if commit:
            db.session.commit()

    # -- reading ------------------------------------------------------------------------------
    def lookup(self, *, ids: Iterable[str] = (), numbers: Iterable[str] = (), emails: Iterable[str] = (),
               names: Iterable[str] = ()) -> list[IndexedContact]:
        """Every entry matching any of the given ids, ContactNumbers, e-mails or names (one query)."""
        ids, numbers = [i for i in set(ids) if i], [n for n in set(numbers) if n]
        emails = [e for e in {email_key(e) for e in emails} if e]
        names = [n for n in {name_key(n) for n in names} if n]
        conditions = []
        if ids:
            conditions.append(XeroContact.contact_id.in_(ids))
        if numbers:
            conditions.append(XeroContact.contact_number.in_(numbers))
        if emails:
            conditions.append(XeroContact.email_key.in_(emails))
        if names:
            conditions.append(XeroContact.name_key.in_(names))
        if not conditions:
            return []
        rows = db.session.scalars(select(XeroContact).where(
            XeroContact.organisation_id == self.organisation_id, or_(*conditions)).order_by(XeroContact.id))
        return [IndexedContact(r.contact_id, r.contact_number, r.name, r.email, r.status) for r in rows]

    def count(self) -> int:
        return db.session.query(XeroContact).filter(XeroContact.organisation_id == self.organisation_id).count()
