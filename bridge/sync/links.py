"""The binder: links between platform objects and their ledger twins.

A link is written in the same transaction as the sync record that reports it, right after
the ledger answered. If the process dies between the ledger's answer and this write, the
next attempt finds no link, looks the ledger up by external key (``Ledger.find_invoice``
/ ``match_party``) and binds what it finds instead of creating a second one.

Who owns what (docs/sync.md, "Links"): within one installation a ledger object belongs to
one platform object. A contact person of a ledger company is a link of its own kind
(``party_person``, ledger id ``<company id>#person:<e-mail or name>``), so a person who came
in as part of a company is known as such, and the company's contact is never taken for
the person (``PartyClaims``). Two installations sharing one ledger organisation each keep
their own links, to the same ledger objects if need be.

A unique violation is never an unexpected error: a ledger object already held by another
platform object is a ``LinkTaken`` conflict in plain words (nothing is written), and a
link another worker wrote at the same moment is a ``LinkRace`` retry.
"""
from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from typing import Any, Iterator

from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from ..errors import ConflictError, RetryableError
from ..extensions import db
from ..insert_ignore import insert_ignore
from ..models import Link, LedgerConnection
from ..messages import N_


def _encode(document: Any) -> str:
    def default(value: Any) -> Any:
        if is_dataclass(value):
            return asdict(value)
        return str(value)  # Decimal, date, datetime, enum: their exact text
    return json.dumps(document, sort_keys=True, default=default, separators=(",", ":"))


def content_hash(document: Any) -> str:
    """A stable fingerprint of what we send (or last saw), to skip no-op writes and to
    recognise our own writes when they come back as events."""
    return hashlib.sha256(_encode(document).encode()).hexdigest()


def jsonable(document: Any) -> Any:
    """A copy safe for a JSON column (money as exact strings, never floats)."""
    return json.loads(_encode(document))


_MEMO = "bridge_links"


@contextmanager
def remembered_links(installation_id: int, kind: str, platform_ids: list[str]) -> Iterator[None]:
    """Within the block, each link is read once: the batch's links of ``kind`` in one query
    up front, any other on first use; ``bind`` keeps them current. A batch of 49 invoices
    looked each link up six times (to read, to prepare, to match, to bind, to show the
    reference); that was a sixth of the run. A link the block's transaction made and then
    rolled back is read again."""
    memo: dict[tuple[int, str, str], Link | None] = {(installation_id, kind, pid): None for pid in platform_ids}
    for link in db.session.scalars(select(Link).where(Link.installation_id == installation_id, Link.kind == kind,
                                                      Link.platform_id.in_(platform_ids))):
        memo[(installation_id, kind, link.platform_id)] = link
    db.session.info[_MEMO] = memo
    try:
        yield
    finally:
        db.session.info.pop(_MEMO, None)


def find_link(installation_id: int, kind: str, platform_id: str) -> Link | None:
    memo = db.session.info.get(_MEMO)
    key = (installation_id, kind, platform_id)
    if memo is not None and key in memo:
        link = memo[key]
        if link is None or inspect(link).persistent:
            return link
    link = _read_link(installation_id, kind, platform_id)
    if memo is not None:
        memo[key] = link
    return link


def _read_link(installation_id: int, kind: str, platform_id: str) -> Link | None:
    return db.session.scalar(select(Link).where(Link.installation_id == installation_id, Link.kind == kind,
                                                Link.platform_id == platform_id))


def find_link_by_ledger_id(connection: LedgerConnection, kind: str, ledger_id: str) -> Link | None:
    """This installation's link to a ledger object (another installation sharing the
    organisation has links of its own)."""
    return db.session.scalar(select(Link).where(Link.installation_id == connection.installation_id,
                                                Link.ledger == connection.ledger,
                                                Link.ledger_org == connection.organisation_id,
                                                Link.kind == kind, Link.ledger_id == ledger_id))


def find_links_by_ledger_ids(connection: LedgerConnection, kind: str, ledger_ids: list[str]) -> dict[str, Link | None]:
    """``find_link_by_ledger_id`` for many, one query per 500: an import going on after a
    hand-over reads its first pages again, thousands of contacts it linked already."""
    found: dict[str, Link | None] = dict.fromkeys(ledger_ids)
    wanted = list(found)
    for start in range(0, len(wanted), 500):
        for link in db.session.scalars(select(Link).where(
                Link.installation_id == connection.installation_id, Link.ledger == connection.ledger,
                Link.ledger_org == connection.organisation_id, Link.kind == kind,
                Link.ledger_id.in_(wanted[start:start + 500]))):
            found[link.ledger_id] = link
    return found


class LinkTaken(ConflictError):
    """The ledger object is linked to another platform object of this installation: it is
    not linked a second time, and nothing was written."""

    code = "link_taken"


class LinkRace(RetryableError):
    """Another worker wrote the same link at the same moment (a unique violation): the run
    is tried again and then finds that worker's link."""

    code = "link_race"


NOUNS = {"party": N_("contact"), "party_person": N_("contact person"), "invoice": N_("invoice"),
         "product": N_("item"), "payment": N_("payment")}


def _taken(connection: LedgerConnection, kind: str, platform_id: str, ledger_id: str, holder: Link) -> LinkTaken:
    ledger, noun = connection.ledger.title(), NOUNS.get(kind, N_("record"))
    return LinkTaken(
        N_("The %(ledger)s %(noun)s %(ledger_id)s already belongs to another record here (%(holder)s); it was not "
           "linked to %(platform_id)s as well, and nothing was overwritten.", ledger=ledger, noun=noun,
           ledger_id=ledger_id, holder=holder.platform_id, platform_id=platform_id),
        ours={"platform_id": platform_id, "ledger_id": ledger_id},
        theirs={"platform_id": holder.platform_id, "ledger_id": ledger_id},
        choices=[N_("Keep the %(noun)s with %(holder)s", noun=noun, holder=holder.platform_id),
                 N_("Sync again: a record of its own is made")],
        fix=N_("Press Retry: bridge gives this record its own. Or remove the other record's link."))


def _race() -> LinkRace:
    return LinkRace(N_("Another sync linked the same record at the same moment; this one is tried again "
                       "in a moment and then goes on from what that sync did."), retry_after=1)


def bind(installation_id: int, connection: LedgerConnection, kind: str, platform_id: str, *,
         ledger_id: str | None, **fields: Any) -> Link:
    """Link ``platform_id`` to ``ledger_id`` (and store ``fields`` on the link).

    Raises ``LinkTaken`` (before changing anything) when the ledger object belongs to
    another platform object here, and ``LinkRace`` when another worker wrote a clashing
    link meanwhile: the transaction is rolled back then (a failed flush leaves nothing else
    to do), so callers that bind several links in one transaction let that one propagate."""
    link = find_link(installation_id, kind, platform_id)
    holds = (Link.installation_id == installation_id) & (Link.ledger == connection.ledger) & (
        Link.ledger_org == connection.organisation_id) & (Link.kind == kind) & (Link.ledger_id == ledger_id) & (
        Link.platform_id != platform_id)
    holder = None
    if link is None:
        # Two batches may bind the same customer at once: the second finds the first's row.
        db.session.execute(insert_ignore(Link.__table__).values(
            installation_id=installation_id, kind=kind, platform_id=platform_id, ledger=connection.ledger,
            ledger_org=connection.organisation_id, extra={}))
        # One read: the row just inserted (or the other batch's), and any other holder of the ledger object.
        mine = (Link.installation_id == installation_id) & (Link.kind == kind) & (Link.platform_id == platform_id)
        rows = db.session.scalars(select(Link).where(mine | holds if ledger_id is not None else mine)).all()
        link = next(row for row in rows if row.kind == kind and row.platform_id == platform_id)
        holder = next((row for row in rows if row is not link), None)
        memo = db.session.info.get(_MEMO)
        if memo is not None:
            memo[(installation_id, kind, platform_id)] = link
    elif ledger_id is not None and link.ledger_id != ledger_id:
        holder = db.session.scalar(select(Link).where(holds))
    if holder is not None:  # the new row, if any, stays without a ledger id: no link, for every reader
        raise _taken(connection, kind, platform_id, ledger_id, holder)
    try:
        return _set(link, ledger_id, fields)
    except IntegrityError:
        db.session.rollback()
        raise _race() from None


def _set(link: Link, ledger_id: str | None, fields: dict[str, Any]) -> Link:
    link.ledger_id = ledger_id
    for name, value in fields.items():
        setattr(link, name, value)
    db.session.flush()
    return link


# -- customers: who holds which ledger contact ----------------------------------------------

PARTY, PARTY_PERSON = "party", "party_person"
_PERSON = "#person:"


def person_ledger_id(company_ledger_id: str, person: Any) -> str:
    """The ledger id of a contact person within a ledger company: the company's id and the
    person's e-mail (or name), as the Bitrix24 import marks the person (ORIGIN_ID)."""
    who = (getattr(person, "email", "") or getattr(person, "full_name", "") or "").strip().casefold()
    return f"{company_ledger_id}{_PERSON}{who}"[:120]


def company_of(ledger_id: str) -> str:
    """The company's ledger id in a person's ledger id (itself for any other id)."""
    return ledger_id.partition(_PERSON)[0]


def bind_person(installation_id: int, connection: LedgerConnection, person_key: str, company_ledger_id: str,
                person: Any, **fields: Any) -> Link:
    """Remember that the platform person ``person_key`` is a contact person of the ledger
    company ``company_ledger_id`` (an import writes this for each person it creates). The
    person's own ledger contact, if an invoice ever needs one, is a ``party`` link beside it."""
    return bind(installation_id, connection, PARTY_PERSON, person_key,
                ledger_id=person_ledger_id(company_ledger_id, person), **fields)


class PartyClaims:
    """Which ledger contacts the identity rules may not take for a customer: one linked to
    another platform customer of this installation, and the company a person belongs to.

    The ledger's matching asks ``taken(party_key, ledger_id)`` for each contact it would
    take by e-mail or name; ``load`` reads the owners of many contacts in one query first
    (a batch), so the rules cost no query per candidate. Without it an imported person
    with the company's e-mail was matched to the company's contact, which was renamed."""

    def __init__(self, installation_id: int, connection: LedgerConnection, parties: Any = (),
                 unsure: Any = None) -> None:
        """``parties``: the keys of the customers to be matched, whose person links are read
        in one query here (a batch of 49 would otherwise cost one query per customer).
        ``unsure``: those whose last create's outcome is unknown (``intents``); None: any
        customer may be (``unsure`` says yes for all)."""
        self.installation_id = installation_id
        self.connection = connection
        self._unsure = None if unsure is None else set(unsure)
        self._owners: dict[str, str | None] = {}
        self._companies: dict[str, set[str]] = {}
        keys = list(dict.fromkeys(parties))
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            self._companies.update({key: set() for key in chunk})
            for platform_id, ledger_id in db.session.execute(
                    self._links(PARTY_PERSON).where(Link.platform_id.in_(chunk))):
                if ledger_id:
                    self._companies[platform_id].add(company_of(ledger_id))

    def _links(self, kind: str):
        return select(Link.platform_id, Link.ledger_id).where(
            Link.installation_id == self.installation_id, Link.ledger == self.connection.ledger,
            Link.ledger_org == self.connection.organisation_id, Link.kind == kind)

    def load(self, ledger_ids: Any) -> None:
        unknown = list({i for i in ledger_ids if i and i not in self._owners})
        for start in range(0, len(unknown), 500):
            chunk = unknown[start:start + 500]
            self._owners.update(dict.fromkeys(chunk))
            for platform_id, ledger_id in db.session.execute(self._links(PARTY).where(Link.ledger_id.in_(chunk))):
                self._owners[ledger_id] = platform_id

    def owner(self, ledger_id: str) -> str | None:
        self.load([ledger_id])
        return self._owners.get(ledger_id)

    def unsure(self, party_key: str) -> bool:
        """Must the ledger be asked before this customer is created, though its own index
        knows no such contact? Only when an earlier create's outcome was lost: the contact
        may be in the ledger and not yet in the index. Otherwise the create goes straight."""
        return self._unsure is None or party_key in self._unsure

    def taken(self, party_key: str, ledger_id: str) -> bool:
        owner = self.owner(ledger_id)
        if owner is not None and owner != party_key:
            return True
        if party_key not in self._companies:
            self._companies[party_key] = {company_of(lid) for _, lid in db.session.execute(
                self._links(PARTY_PERSON).where(Link.platform_id == party_key)) if lid}
        return ledger_id in self._companies[party_key]


def claim_party(installation_id: int, connection: LedgerConnection, party_key: str, ledger_id: str) -> None:
    """Take an existing ledger contact for ``party_key`` before writing to it, committed:
    of two customers matched to one contact at the same moment, only the first writes to
    it; the other is retried and then gets a contact of its own (its matching sees the
    first one's link). Nothing is claimed that this customer already holds."""
    link = find_link(installation_id, PARTY, party_key)
    if link is not None and link.ledger_id == ledger_id:
        return
    try:
        bind(installation_id, connection, PARTY, party_key, ledger_id=ledger_id)
        db.session.commit()
    except LinkTaken:
        db.session.rollback()
        raise LinkRace(N_("Another customer took the %(ledger)s contact %(ledger_id)s a moment ago; this one is "
                          "tried again and then gets a contact of its own.",
                          ledger=connection.ledger.title(), ledger_id=ledger_id), retry_after=1) from None
    except IntegrityError:  # the commit met another worker's link
        db.session.rollback()
        raise _race() from None


def party_fingerprint(party: Any, name: str | None = None) -> str:
    """What a person would call "the same customer details", in a form that survives a
    round trip through either system (case, spacing and phone punctuation ignored).

    Stored on the party link as ``sent`` (what we wrote to the ledger) and ``received``
    (what we imported from it): a change whose fingerprint is one of those is our own write
    coming back, and is not written again. That is what stops an import -> platform event
    -> export -> ledger webhook -> import loop.
    """
    def norm(text: str | None) -> str:
        return " ".join((text or "").split()).casefold()

    def digits(text: str | None) -> str:
        return "".join(ch for ch in (text or "") if ch.isdigit())

    address = party.address
    return content_hash({
        "name": norm(name or party.name), "email": norm(party.email), "phone": digits(party.phone),
        "address": [norm(address.street), norm(address.city), norm(address.postcode), norm(address.country_code)],
        "people": sorted((norm(p.full_name), norm(p.email)) for p in party.contact_persons)})
