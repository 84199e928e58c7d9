"""Flow ``party_import`` (object ``import:parties``): ledger customers into the platform.

Started by a button, incremental afterwards (the cursor remembers the last change seen).
Each ledger contact is written once: a contact already linked (exported from the platform
or imported before) is an update — a flow-back of ledger-side edits, field groups per the
master settings —, one the platform already carries (its origin id) is bound without
writing, the rest are created in batches. The cursor and the progress are saved after
every batch, so an import that crashes resumes where it stopped, and running it twice
creates nothing new.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ..extensions import db
from ..faults import fault_point
from ..jobs import WorkContext, flow, renew_lease
from ..models import Installation, Link, utcnow
from .links import bind, find_link_by_ledger_id, party_fingerprint
from .party_flowback import merge
from .polling import cursor
from .ports import LedgerParty
from .registry import ledger_for, platform_for

BATCH = 50  # one platform batch call (Bitrix24 `batch` takes 50 commands)


@flow("party_import")
def import_parties(ctx: WorkContext) -> None:
    installation = db.session.get(Installation, ctx.installation_id)
    ledger, connection = ledger_for(installation)
    platform = platform_for(installation)
    position = cursor(f"installation:{installation.id}", f"party_import:{connection.id}")
    since = datetime.fromisoformat(position.value["since"]) if position.value.get("since") else None
    progress = {"since": position.value.get("since"), "done": 0, "created": 0, "updated": 0,
                "running": True, "started_at": utcnow().isoformat()}
    position.value = progress
    record = ctx.record(object_kind="import", object_id="parties", direction="to_platform")
    db.session.commit()

    # A first import (no customer of this ledger linked yet) learns what the platform carries
    # from the ledger already in one listing (one request on an empty portal) instead of a
    # lookup per 50 (200 requests for 10,000 contacts: half again the writes).
    carried = platform.find_parties(ledger.kind, None) if not _any_party_linked(connection) else None
    batch: list[LedgerParty] = []
    newest = since
    for ledger_party in ledger.changed_parties(since):
        if ledger_party.archived or ledger_party.party is None:
            continue
        batch.append(ledger_party)
        if ledger_party.updated_at and (newest is None or ledger_party.updated_at > newest):
            newest = ledger_party.updated_at
        if len(batch) == BATCH:
            _write_batch(ctx, installation, connection, platform, ledger.kind, batch, progress, carried)
            batch = []
            position.value = dict(progress)
            renew_lease(ctx)
            db.session.commit()
    if batch:
        _write_batch(ctx, installation, connection, platform, ledger.kind, batch, progress, carried)
    progress.update(running=False, finished_at=utcnow().isoformat(),
                    since=newest.isoformat() if newest else progress["since"])
    position.value = dict(progress)
    record.state = "succeeded"
    record.received = {k: progress[k] for k in ("done", "created", "updated")}
    record.finished_at = utcnow()


def _any_party_linked(connection) -> bool:
    return db.session.scalar(select(Link.id).where(
        Link.ledger == connection.ledger, Link.ledger_org == connection.organisation_id,
        Link.kind == "party").limit(1)) is not None


def _write_batch(ctx: WorkContext, installation, connection, platform, ledger_kind: str,
                 batch: list[LedgerParty], progress: dict, carried: dict[str, str] | None) -> None:
    """``carried``: what the platform carries from the ledger, listed at the start of a first
    import; None to ask per batch."""
    to_save: list[tuple] = []
    links = {lp.ledger_id: find_link_by_ledger_id(connection, "party", lp.ledger_id) for lp in batch}
    if carried is None:
        # Not linked: carried by the platform already (an import that crashed before its
        # link write, or a second bridge)? One lookup for the batch.
        carried = platform.find_parties(ledger_kind, [lid for lid, link in links.items() if link is None]) \
            if None in links.values() else {}
    own_prefix = platform.party_key("") if hasattr(platform, "party_key") else None
    for ledger_party in batch:
        link = links[ledger_party.ledger_id]
        if link is None and own_prefix and (ledger_party.external_key or "").startswith(own_prefix):
            # Made by our own export (its ContactNumber is one of this platform's keys) that
            # has not written its link yet: the export binds it. Imported now, it would be a
            # second customer on the platform, and its link would take the export's contact
            # (the scale-out run's export then failed on the link for good).
            continue
        fingerprint = party_fingerprint(ledger_party.party)
        extra = dict(link.extra or {}) if link else {}
        if fingerprint in (extra.get("sent"), extra.get("received")):
            continue  # our own write coming back, or nothing new
        platform_id = link.platform_id if link else carried.get(ledger_party.ledger_id)
        party = ledger_party.party
        if link is not None and platform_id:
            party = _by_master(ctx, installation, platform, platform_id, ledger_party)
            if party is None:
                bind(installation.id, connection, "party", link.platform_id, ledger_id=ledger_party.ledger_id,
                     extra={**extra, "received": fingerprint})
                continue  # every changed group is the platform's: nothing to write
        to_save.append((ledger_party, platform_id, fingerprint, extra, link is not None, party))
    db.session.commit()  # nothing held open across the platform write
    if to_save:
        keys = platform.save_parties([(party, pid, (ledger_kind, lp.ledger_id))
                                      for lp, pid, _, _, _, party in to_save])
        fault_point("party import before link write")
        for (ledger_party, platform_id, fingerprint, extra, existed, _), key in zip(to_save, keys):
            bind(installation.id, connection, "party", key, ledger_id=ledger_party.ledger_id,
                 ledger_number=ledger_party.name,
                 extra={**extra, "received": fingerprint, "origin": extra.get("origin", "ledger")})
            progress["updated" if existed or platform_id else "created"] += 1
    progress["done"] += len(batch)


def _by_master(ctx: WorkContext, installation, platform, platform_id: str, ledger_party: LedgerParty):
    """The ledger's edit of a linked customer, with the groups the platform masters kept as
    the platform has them; those the ledger changed become a conflict on a sync record.
    None when nothing is left to write."""
    current = platform.get_party(platform_id)
    if current is None:
        return ledger_party.party  # gone on the platform: the save says so
    merged = merge(installation, current, ledger_party.party)
    if merged.against:
        record = ctx.record(object_kind="party", object_id=platform_id, direction="to_platform")
        groups = ", ".join(sorted(merged.against))
        record.state = "conflict"
        record.error_code = "party_master"
        record.error_message = (f"The customer \"{current.name}\" was edited in the ledger ({groups}), but "
                                f"{installation.platform.title()} is the master of that part: the edit was not copied.")
        record.error_fix = "Make the same edit on the platform, or make the ledger the master in Settings."
        record.received = {"ours": merged.ours, "theirs": merged.theirs,
                           "choices": ["Make the same edit on the platform",
                                       "Make the ledger the master of this part in Settings and import again"]}
        record.finished_at = utcnow()
        db.session.commit()
    if not merged.applied:
        return None
    return merged.party
