"""Ledger-side edits of a linked customer flowing back to the platform, by field group.

Groups: ``name`` (name, first and last name), ``contact`` (e-mail and phones) and
``address``. Who is master of each is a setting (``invoices.name_master``,
``contact_master``, ``address_master``; default the ledger, so edits made in the ledger
reach the platform). A ledger edit of a group the platform masters is neither copied nor
dropped silently: the platform keeps its value and the edit becomes a conflict the user
sees, with both versions.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..domain import Party
from ..models import Installation
from ..settings import get_section

GROUPS = ("name", "contact", "address")


def _norm(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def _digits(text: str | None) -> str:
    return "".join(ch for ch in (text or "") if ch.isdigit())


def group_values(party: Party, group: str) -> dict[str, Any]:
    """A group as the user reads it (what a conflict shows)."""
    if group == "name":
        return {"name": party.name, "first_name": party.first_name, "last_name": party.last_name}
    if group == "contact":
        return {"email": party.email, "phone": party.phone, "mobile": party.mobile}
    address = party.address
    return {"street": address.street, "city": address.city, "postcode": address.postcode,
            "region": address.region, "country_code": address.country_code}


def _comparable(key: str, value: str) -> str:
    return _digits(value) if key in ("phone", "mobile") else _norm(value)


def _changed(current: Party, theirs: Party, group: str) -> bool:
    """Did the ledger change this group? Compared the way a round trip through either system
    leaves it (case, spacing and phone punctuation ignored); an empty ledger value is no
    edit (Xero omits blanks, and bridge never blanks a platform field)."""
    ours, new = group_values(current, group), group_values(theirs, group)
    keys = ("name",) if group == "name" else tuple(new)
    return any(new[key] and _comparable(key, new[key]) != _comparable(key, ours[key]) for key in keys)


def _fields(group: str) -> tuple[str, ...]:
    return {"name": ("name", "first_name", "last_name"), "contact": ("email", "phone", "mobile"),
            "address": ("address",)}[group]


@dataclass
class PartyMerge:
    """The party to write to the platform, and the groups kept against the ledger's edit."""

    party: Party
    applied: set[str] = field(default_factory=set)
    against: set[str] = field(default_factory=set)
    ours: dict[str, Any] = field(default_factory=dict)
    theirs: dict[str, Any] = field(default_factory=dict)


def master_of(installation: Installation, group: str) -> str:
    return getattr(get_section(installation, "invoices"), f"{group}_master")


def merge(installation: Installation, current: Party, theirs: Party) -> PartyMerge:
    """The ledger's version, except for the groups the platform masters, which keep the
    platform's values (and are reported when the ledger changed them)."""
    result = PartyMerge(party=theirs)
    kept: dict[str, Any] = {}
    for group in GROUPS:
        if not _changed(current, theirs, group):
            continue
        if master_of(installation, group) == "ledger":
            result.applied.add(group)
            continue
        result.against.add(group)
        result.ours[group] = group_values(current, group)
        result.theirs[group] = group_values(theirs, group)
        kept.update({name: getattr(current, name) for name in _fields(group)})
    if kept:
        result.party = replace(theirs, **kept)
    return result
