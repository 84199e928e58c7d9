"""Flow ``party_to_ledger``: a platform customer (Bitrix24 company or contact, DG1 customer)
reaches the ledger as a contact: created with its first invoice (``invoice_to_ledger``
exports the invoice's customer first, through ``export_party``), and updated when it
changes on the platform while linked. One customer or a batch's fifty follow the same
path (``export_parties``).

The rules for one customer: its link -> the ledger's match (by link, external key, e-mail,
name; the ledger decides how it matches) -> claim the matched contact (committed) before
writing to it -> save only what changed since our last write or read -> bind the link.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import select

from ..domain import Party
from ..errors import PermanentError, SyncError
from ..extensions import db
from ..faults import fault_point
from ..engine import WorkContext, WorkRequest, flow, request_work
from ..models import Installation, LedgerConnection, Link
from ..ports import Ledger, PartyMatch
from ..messages import N_
from .intents import announce, settle, unsettled
from .links import (PARTY_PERSON, LinkRace, LinkTaken, PartyClaims, bind, claim_party, content_hash, find_link,
                    party_fingerprint)
from .outcome import UNCHANGED_MESSAGE, finish, idempotency_key, split_object_key
from .ledger_party_changed import changed_since_sync, group_digests
from .registry import ledger_for, platform_for

FLOW = "party_to_ledger"


@dataclass
class PartyPlan:
    """What to do with one customer after matching: nothing (``ledger_id`` known and
    unchanged), or a save with this key and these fingerprints."""

    match: PartyMatch
    digest: str
    fingerprint: str
    extra: dict
    unchanged: bool


def plan_party(link, party: Party, match: PartyMatch) -> PartyPlan:
    """What to do with one customer after matching (``export_parties``)."""
    if link and match.ledger_id == link.ledger_id and link.ledger_number and \
            link.ledger_number.startswith(f"{match.name} ("):
        # Found by its link, the contact is named as the customer; but it was created with a
        # distinguishing name because another contact has the plain one: keep that name,
        # or every later sync would try to rename it and the ledger would refuse.
        match = replace(match, name=link.ledger_number)
    digest = content_hash({"party": party, "name": match.name})
    fingerprint = party_fingerprint(party, match.name)
    extra = dict(link.extra or {}) if link else {}
    same_contact = bool(match.ledger_id and link and link.ledger_id == match.ledger_id)
    # The groups the platform changed since our last write or read (None: not remembered);
    # an update sends only those, and only what Xero does not already say.
    groups = changed_since_sync(extra, party) if same_contact else None
    match = replace(match, groups=groups)
    # Unchanged, or what the ledger itself just sent us (an import coming back), or no group
    # the user changed (the platform's event for our own import or flow-back).
    unchanged = same_contact and (link.content_hash == digest or groups == frozenset()
                                  or fingerprint in (extra.get("sent"), extra.get("received")))
    return PartyPlan(match, digest, fingerprint, extra, unchanged)


def bind_party(installation: Installation, connection: LedgerConnection, party: Party, plan: PartyPlan,
               ledger_id: str | None, version: str | None = None) -> None:
    """Link the customer to its contact. ``version`` is the ledger's stamp of our write (Xero's
    UpdatedDateUTC): the ledger's webhook for that very write is then known without a read."""
    versioned = {"ledger_version": version} if version else {}
    bind(installation.id, connection, "party", party.key, ledger_id=ledger_id, ledger_number=plan.match.name,
         content_hash=plan.digest, extra={**plan.extra, "sent": plan.fingerprint, "groups": group_digests(party)},
         **versioned)


def claim(installation: Installation, connection: LedgerConnection, party: Party, plan: PartyPlan) -> None:
    """An existing ledger contact is linked to this customer (committed) before anything is
    written to it: of two customers matched to one contact at the same moment only the
    first writes; the other gets ``LinkRace`` and, retried, a contact of its own."""
    if plan.match.ledger_id:
        claim_party(installation.id, connection, party.key, plan.match.ledger_id)


def export_parties(installation: Installation, connection: LedgerConnection, ledger: Ledger,
                   items: list[tuple[WorkContext, Party]]) -> dict[str, tuple[str, str | None] | Exception]:
    """The ledger ids of these customers, each created or updated first: {party key:
    (ledger id, warning), or the error of that customer alone}.

    One ``match_parties`` and one ``save_parties`` for all of them (one call each on Xero;
    a ledger without a batch form loops, ``bridge.ports.Ledger``), with the same rules for
    one customer as for fifty: a customer's failure is its own, the others go on."""
    parties: dict[str, tuple[str, str | None] | Exception] = {}
    links = {party.key: find_link(installation.id, "party", party.key) for _, party in items}
    keys = [party.key for _, party in items]
    # Only a customer whose earlier create's outcome is unknown is looked up in the ledger
    # beyond the ledger's own index (``intents``, ``PartyClaims.unsure``).
    unsure = [key for key, since in unsettled(installation.id, connection.ledger, "party", keys).items()
              if since is not None]
    db.session.commit()  # no transaction held across the ledger calls
    try:
        matches = ledger.match_parties(
            [(party, links[party.key].ledger_id if links[party.key] else None) for _, party in items],
            PartyClaims(installation.id, connection, keys, unsure=unsure))
    except Exception as exc:  # every customer fails with it, as it would alone
        db.session.rollback()
        return {party.key: exc for _, party in items}
    to_save: list[tuple[Party, PartyPlan, str]] = []
    for (ctx, party), match in zip(items, matches):
        plan = plan_party(links[party.key], party, match)
        if plan.unchanged:
            parties[party.key] = (plan.match.ledger_id, plan.match.warning)
            continue
        try:
            claim(installation, connection, party, plan)
        except SyncError as exc:  # another customer's contact since the match: this one is retried
            parties[party.key] = exc
            continue
        to_save.append((party, plan, idempotency_key(installation.id, "party", party.key, plan.digest,
                                                     ctx.item.attempts + 1)))
    if not to_save:
        return parties
    creates = [(party.key, key) for party, plan, key in to_save if not plan.match.ledger_id]
    announce(installation.id, connection.ledger, "party", creates)  # committed before the call
    try:
        results = ledger.save_parties([(party, plan.match, key) for party, plan, key in to_save])
    except Exception as exc:  # the outcome is unknown: the intents stay open, the retry looks up first
        db.session.rollback()
        return {**parties, **{party.key: exc for party, *_ in to_save}}
    fault_point("after customer create")
    created = {key for key, _ in creates}
    settle(installation.id, connection.ledger, "party",
           {party.key: (result.ledger_id if result.ok else None)
            for (party, *_), result in zip(to_save, results) if party.key in created})
    bound: list[str] = []
    for (party, plan, _), result in zip(to_save, results):
        if not result.ok:
            parties[party.key] = result.error or PermanentError(
                N_("The customer \"%(customer)s\" could not be saved.", customer=party.name))
            continue
        try:
            bind_party(installation, connection, party, plan, result.ledger_id, result.version)
        except LinkTaken as exc:  # nothing was written: the others go on
            parties[party.key] = exc
            continue
        except LinkRace as exc:  # rolled back: no link of this round was kept, each is tried again
            return {**parties, **{key: exc for key in bound}, **{p.key: exc for p, *_ in to_save
                                                                if p.key not in parties}}
        bound.append(party.key)
        parties[party.key] = (result.ledger_id, plan.match.warning)
    db.session.commit()
    return parties


def export_party(installation: Installation, connection: LedgerConnection, ledger: Ledger, party: Party,
                 ctx: WorkContext) -> tuple[str, str | None]:
    """The ledger id of one customer, created or updated first (``export_parties``)."""
    result = export_parties(installation, connection, ledger, [(ctx, party)])[party.key]
    if isinstance(result, Exception):
        raise result
    return result


def ask_for_companies_carrying(installation: Installation, platform, platform_id: str, person_key: str) -> int:
    """A person who is no ledger contact of their own may be one of a ledger company's
    contact persons: joining or changing, they change that company's ledger contact, though
    the company's own change time does not move (the reconcile would not list it). Asks for
    those companies' runs; returns how many. One read, only for a person bridge has no link
    for while some customer of the installation is in the ledger: the people an import made
    are linked (``bind_person``) and cost nothing."""
    if find_link(installation.id, PARTY_PERSON, person_key) is not None or not db.session.scalar(
            select(Link.id).where(Link.installation_id == installation.id, Link.kind == "party",
                                  Link.ledger_id.is_not(None)).limit(1)):
        return 0
    asked = 0
    for company_id in platform.companies_of(platform_id):
        link = find_link(installation.id, "party", platform.party_key(company_id) or company_id)
        if link is not None and link.ledger_id:
            request_work(WorkRequest(installation.id, FLOW, f"party:{company_id}"))
            asked += 1
    db.session.commit()
    return asked


@flow("party_to_ledger")
def export_changed_party(ctx: WorkContext) -> None:
    """A platform customer changed (e.g. a renamed company): update its ledger contact.

    Only customers already in the ledger are updated; the others reach it with their first
    invoice, so the ledger is not filled with every CRM contact.
    """
    installation = db.session.get(Installation, ctx.installation_id)
    platform_id = split_object_key(ctx.object_key)[1]
    record = ctx.record(object_kind="party", object_id=platform_id, direction="to_ledger")
    platform = platform_for(installation)
    known_key = platform.party_key(platform_id)
    if known_key is not None and find_link(installation.id, "party", known_key) is None:
        # Most CRM customers never get an invoice: know that from our own links, without a read.
        ask_for_companies_carrying(installation, platform, platform_id, known_key)
        finish(record, "skipped", "Not in the ledger yet: it goes there with its first invoice.")
        return
    party = platform.get_party(platform_id)
    link = find_link(installation.id, "party", party.key) if party else None
    if party is None or link is None or not link.ledger_id:
        finish(record, "skipped", "Not in the ledger yet: it goes there with its first invoice.")
        return
    if changed_since_sync(link.extra, party) == frozenset():
        # Nothing the ledger shows changed: the event of our own import or flow-back, or an
        # edit of a field bridge does not sync. Known from our link, without asking the ledger.
        finish(record, "skipped", UNCHANGED_MESSAGE)
        return
    ledger, connection = ledger_for(installation)
    ledger_id, warning = export_party(installation, connection, ledger, party, ctx)
    record.received = {"ledger_id": ledger_id}
    record.warning = warning
    finish(record, "succeeded", None)
