"""The binder: links between platform objects and their ledger twins.

A link is written in the same transaction as the sync record that reports it, right after
the ledger answered. If the process dies between the ledger's answer and this write, the
next attempt finds no link, looks the ledger up by external key (``Ledger.find_invoice``
/ ``match_party``) and binds what it finds instead of creating a second one.
"""
from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from typing import Any, Iterator

from sqlalchemy import inspect, select

from ..extensions import db
from ..insert_ignore import insert_ignore
from ..models import Link, LedgerConnection


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
    return db.session.scalar(select(Link).where(Link.ledger == connection.ledger,
                                                Link.ledger_org == connection.organisation_id,
                                                Link.kind == kind, Link.ledger_id == ledger_id))


def bind(installation_id: int, connection: LedgerConnection, kind: str, platform_id: str, *,
         ledger_id: str | None, **fields: Any) -> Link:
    link = find_link(installation_id, kind, platform_id)
    if link is None:
        # Two batches may bind the same customer at once: the second finds the first's row.
        db.session.execute(insert_ignore(Link.__table__).values(
            installation_id=installation_id, kind=kind, platform_id=platform_id, ledger=connection.ledger,
            ledger_org=connection.organisation_id, extra={}))
        link = _read_link(installation_id, kind, platform_id)
        memo = db.session.info.get(_MEMO)
        if memo is not None:
            memo[(installation_id, kind, platform_id)] = link
    link.ledger_id = ledger_id
    for name, value in fields.items():
        setattr(link, name, value)
    db.session.flush()
    return link


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
