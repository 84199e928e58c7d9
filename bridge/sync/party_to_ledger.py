"""Flow ``party_to_ledger``: a platform customer (Bitrix24 company or contact, DG1 customer)
reaches the ledger as a contact: created with its first invoice (``invoice_to_ledger``
exports the invoice's customer first, through ``export_party``), and updated when it
changes on the platform while linked.

The rules for one customer: its link -> the ledger's match (by link, external key, e-mail,
name; the ledger decides how it matches) -> claim the matched contact (committed) before
writing to it -> save only what changed since our last write or read -> bind the link.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..domain import Party
from ..errors import PermanentError
from ..extensions import db
from ..faults import fault_point
from ..engine import WorkContext, flow
from ..models import Installation, LedgerConnection
from .links import PartyClaims, bind, claim_party, content_hash, find_link, party_fingerprint
from .outcome import UNCHANGED_MESSAGE, finish, idempotency_key, split_object_key
from .party_flowback import changed_since_sync, group_digests
from ..ports import Ledger, PartyMatch
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
    """The one set of rules both the single and the bulk path follow."""
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
               ledger_id: str | None) -> None:
    bind(installation.id, connection, "party", party.key, ledger_id=ledger_id, ledger_number=plan.match.name,
         content_hash=plan.digest, extra={**plan.extra, "sent": plan.fingerprint, "groups": group_digests(party)})


def claim(installation: Installation, connection: LedgerConnection, party: Party, plan: PartyPlan) -> None:
    """An existing ledger contact is linked to this customer (committed) before anything is
    written to it: of two customers matched to one contact at the same moment only the
    first writes; the other gets ``LinkRace`` and, retried, a contact of its own."""
    if plan.match.ledger_id:
        claim_party(installation.id, connection, party.key, plan.match.ledger_id)


def export_party(installation: Installation, connection: LedgerConnection, ledger: Ledger, party: Party,
                 ctx: WorkContext) -> tuple[str, str | None]:
    """The ledger id of the invoice's customer, created or updated first."""
    link = find_link(installation.id, "party", party.key)
    plan = plan_party(link, party, ledger.match_party(party, link.ledger_id if link else None,
                                                      PartyClaims(installation.id, connection)))
    if plan.unchanged:
        return plan.match.ledger_id, plan.match.warning
    key = idempotency_key(installation.id, "party", party.key, plan.digest, ctx.item.attempts + 1)
    claim(installation, connection, party, plan)
    result = ledger.save_party(party, plan.match, key)
    if not result.ok:
        raise result.error or PermanentError(f"The customer \"{party.name}\" could not be saved.")
    fault_point("after customer create")
    bind_party(installation, connection, party, plan, result.ledger_id)
    db.session.commit()
    return result.ledger_id, plan.match.warning



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
    if hasattr(platform, "party_key") and find_link(installation.id, "party", platform.party_key(platform_id)) is None:
        # Most CRM customers never get an invoice: know that from our own links, without a read.
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
