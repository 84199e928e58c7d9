"""Ledger-side edits of a linked customer flowing back to the platform, by field group.

Flow ``ledger_party_changed`` (object ``ledger_party:<ledger id>``): a ledger webhook for
a contact bridge has linked (``bridge/connectors/xero/hooks.py`` asks for no other: a
contact that is not linked is never imported by a webhook; "Import from Xero" does that,
on purpose). The import's pass over changed contacts applies the same rules to the linked
ones it meets.

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
from ..extensions import db
from ..engine import WorkContext, flow
from ..models import Installation, utcnow
from ..settings import get_section
from .links import bind, content_hash, find_link_by_ledger_id, party_fingerprint
from .outcome import finish as _close
from ..ports import LedgerParty
from ..messages import N_
from ..stored_messages import to_stored
from .registry import ledger_for, platform_for

FLOW = "ledger_party_changed"

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


# The groups a party link remembers, as the platform shows them after our last write or
# read (``group_digests``): what tells a user's edit on the platform from our own write
# coming back, group by group. ``people`` is the company's contact persons.
DIGEST_GROUPS = (*GROUPS, "people")


def _digest(values: Any) -> str:
    return content_hash(values)[:16]


def group_digests(party: Party) -> dict[str, str]:
    """Each group's content as a person would compare it (case, spacing and phone
    punctuation ignored; the region left out, which not every platform keeps)."""
    address = party.address
    return {
        "name": _digest([_norm(party.name)]),
        "contact": _digest([_norm(party.email), _digits(party.phone), _digits(party.mobile)]),
        "address": _digest([_norm(address.street), _norm(address.city), _norm(address.postcode),
                            _norm(address.country_code)]),
        "people": _digest(sorted([_norm(p.full_name), _norm(p.email)] for p in party.contact_persons)),
    }


def changed_since_sync(extra: dict | None, party: Party) -> frozenset[str] | None:
    """The groups of ``party`` (as the platform shows it now) that differ from what the
    link remembers; None when the link remembers no groups (made by an older version)."""
    known = (extra or {}).get("groups")
    if not isinstance(known, dict):
        return None
    now = group_digests(party)
    return frozenset(group for group in DIGEST_GROUPS if known.get(group) != now[group])


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


def shown_on_platform(platform, party, key: str, origin: tuple[str, str], platform_id: str | None):
    """The record as the platform shows it after our write, for the link's group digests:
    computed for a record we created (no request); read back after an update, which merges
    with what the record had (rare: a ledger-side edit). None when the platform cannot say."""
    if platform_id is None:
        return platform.party_as_created(party, key, origin)
    if platform_id is not None:
        return platform.get_party(key)
    return None


def by_master(ctx: WorkContext, installation, platform, platform_id: str, ledger_party: LedgerParty,
              record=None):
    """The ledger's edit of a linked customer, with the groups the platform masters kept as
    the platform has them; those the ledger changed become a conflict on a sync record.
    None when nothing is left to write."""
    current = platform.get_party(platform_id)
    if current is None:
        return ledger_party.party  # gone on the platform: the save says so
    merged = merge(installation, current, ledger_party.party)
    if merged.against:
        record = record or ctx.record(object_kind="party", object_id=platform_id, direction="to_platform")
        groups = ", ".join(sorted(merged.against))
        record.state = "conflict"
        record.error_code = "party_master"
        record.error_message = N_("The customer \"%(customer)s\" was edited in the ledger (%(parts)s), but "
                                  "%(platform)s is the master of that part: the edit was not copied.",
                                  customer=current.name, parts=groups, platform=installation.platform.title())
        record.error_fix = N_("Make the same edit on the platform, or make the ledger the master in Settings.")
        record.received = {"ours": merged.ours, "theirs": merged.theirs,
                           "choices": [to_stored(N_("Make the same edit on the platform")),
                                       to_stored(N_("Make the ledger the master of this part in Settings and "
                                                    "import again"))]}
        record.finished_at = utcnow()
        db.session.commit()
    if not merged.applied:
        return None
    return merged.party


@flow(FLOW)
def flow_back_party(ctx: WorkContext) -> None:
    """One linked ledger contact changed: copy the groups the ledger masters to the
    platform record, unless it is our own write coming back or nothing new."""
    installation = db.session.get(Installation, ctx.installation_id)
    ledger, connection = ledger_for(installation)
    ledger_id = ctx.object_key.partition(":")[2]
    link = find_link_by_ledger_id(connection, "party", ledger_id)
    if link is None or link.installation_id != installation.id or not ledger.reads_parties_by_id:
        return  # not ours to follow (never an import), or the ledger cannot read one contact
    platform_id = link.platform_id
    record = ctx.record(object_kind="party", object_id=platform_id, direction="to_platform")
    db.session.commit()
    found = ledger.get_parties([ledger_id])
    ledger_party = found[0] if found else None
    if ledger_party is None or ledger_party.archived or ledger_party.party is None:
        _close(record, "skipped", N_("The contact is archived or gone in the ledger: the platform keeps its "
                                     "record."))
        return
    fingerprint = party_fingerprint(ledger_party.party)
    extra = dict(link.extra or {})
    if fingerprint in (extra.get("sent"), extra.get("received")):
        _close(record, "skipped", N_("Our own change coming back, or nothing new: nothing to do."))
        return
    platform = platform_for(installation)
    party = by_master(ctx, installation, platform, platform_id, ledger_party, record)
    if party is None:
        bind(installation.id, connection, "party", platform_id, ledger_id=ledger_id,
             extra={**extra, "received": fingerprint})
        if record.state == "conflict":
            db.session.commit()
        else:
            _close(record, "skipped", N_("Nothing the ledger masters changed."))
        return
    (key,) = platform.save_parties([(party, platform_id, (ledger.kind, ledger_id))])
    shown = shown_on_platform(platform, party, key, (ledger.kind, ledger_id), platform_id)
    bind(installation.id, connection, "party", key, ledger_id=ledger_id,
         extra={**extra, "received": fingerprint, **({"groups": group_digests(shown)} if shown else {})})
    if record.state == "conflict":  # the groups the ledger masters went across; the rest is the conflict
        db.session.commit()
        return
    record.received = {"ledger_id": ledger_id}
    _close(record, "succeeded", None)
