"""Flow ``party_import`` (object ``import:parties``): ledger customers into the platform.

Only ever started on purpose: the "Import from Xero" button, or the daily run a user
switches on (setting ``party_import.daily``, off by default). A ledger webhook never
starts it (``bridge/connectors/xero/hooks.py`` sends those to the linked contact's
flow-back, ``ledger_party_changed``).

What it imports: customers only, unless ``party_import.include_suppliers`` is on. Xero
marks a contact a customer (IsCustomer) with its first sales invoice, and that does not
move the contact's UpdatedDateUTC
(https://developer.xero.com/documentation/api/accounting/requests-and-responses): a contact
made last month and invoiced today is not in "contacts changed since". So after the first, full
pass, each run reads the contacts changed since its cursor AND the contacts of the
invoices changed since its invoice cursor (``ledger.invoiced_parties``), which is where a
new customer shows up. A change of the suppliers setting makes the next run a full pass.

Each ledger contact is written once: a contact already linked is an update (a flow-back
of ledger-side edits, field groups per the master settings); one the platform already
carries (its origin id) is bound without writing; the rest are created in batches. The
cursor and the progress are saved after every batch, so an import that crashes resumes
where it stopped, and running it twice creates nothing new. Between batches it yields to
fairer work (``engine.hand_over``: a user's work of its installation, or after a while
another installation's turn) and goes on with its pass in its next run from the last
contact it wrote (``ListingMark``: the ledger lists contacts oldest change first), instead
of reading the pass's first pages again (a 10,000-contact import that yielded often asked
Xero for 86-138 pages where 10 hold every contact).

Nothing goes back to the ledger: each created or updated record's link is written in the
same transaction as the platform's answer, with the fingerprint of what the ledger has
and the field groups as the platform will show them (``party_as_created``), so the
platform's events for those records are recognised as our own
(``party_to_ledger.export_changed_party``: no group changed, no ledger call). Should an
event be handled before the link is written, the record is not linked yet and the event
is skipped ("not in the ledger yet"): in neither order is anything written to the ledger.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from huey import crontab
from sqlalchemy import select

from ..extensions import db
from ..faults import fault_point
from ..messages import N_
from ..engine import WorkContext, WorkRequest, flow, hand_over, period_key, periodic, renew_lease
from ..models import Installation, LedgerConnection, Link, SyncRecord, utcnow
from ..settings import get_section
from .daily import DAY, request_daily
from .links import LinkTaken, bind, bind_person, find_link_by_ledger_id, find_links_by_ledger_ids, party_fingerprint
from .ledger_party_changed import by_master, group_digests, shown_on_platform
from .polling import cursor
from ..ports import LedgerParty
from .registry import LEDGERS, ledger_for, platform_for

FLOW = "party_import"
OBJECT = "import:parties"
BATCH = 50  # one platform batch call (Bitrix24 `batch` takes 50 commands)
# The first listing of what the platform carries is kept on the import's cursor for the rest
# of its pass up to this many entries (an empty portal's is empty); beyond it, ask per batch.
CARRIED_KEPT = 500


def import_request(installation_id: int, *, manual: bool = False) -> WorkRequest:
    return WorkRequest(installation_id, FLOW, OBJECT, {"manual": True} if manual else {})


def wanted(ledger_party: LedgerParty, include_suppliers: bool) -> bool:
    """A customer (or, with the setting, a supplier). A ledger that does not say imports
    every contact."""
    roles = ledger_party.roles
    return roles is None or "customer" in roles or (include_suppliers and "supplier" in roles)


PASS_RESTARTED = N_("This import stopped here and started again from the beginning, because its settings "
                    "changed (suppliers included or not).")


@flow(FLOW, bulk=True)
def import_parties(ctx: WorkContext) -> None:
    # First, before anything that can fail: the record of a pass that handed over, so a
    # failure of this run ends it, not a new record beside it left "running" for ever.
    previous = _record_of_the_pass(ctx)
    installation = db.session.get(Installation, ctx.installation_id)
    ledger, connection = ledger_for(installation)
    platform = platform_for(installation)
    settings = get_section(installation, "party_import")
    scope = "customers+suppliers" if settings.include_suppliers else "customers"
    position = cursor(f"installation:{installation.id}", f"party_import:{connection.id}")
    value = dict(position.value or {})
    full = value.get("scope", "customers") != scope or not value.get("since")
    since = None if full else datetime.fromisoformat(value["since"])
    invoices_since = None if full else datetime.fromisoformat(value.get("invoices_since") or value["since"])
    started = utcnow()
    # A run that handed over to fairer work (below) goes on with its pass: the same start,
    # its counts, and its listing from the last contact it wrote (``mark``).
    resumed = value.get("running") and value.get("handed_over") and value.get("scope") == scope
    if resumed:
        started = datetime.fromisoformat(value["started_at"])
    mark = ListingMark.of(value.get("mark")) if resumed else ListingMark()
    progress = {"since": value.get("since"), "invoices_since": value.get("invoices_since"), "scope": scope,
                **{count: value.get(count, 0) if resumed else 0 for count in ("done", "created", "updated")},
                "left_out": 0, "running": True, "started_at": started.isoformat()}
    position.value = progress
    record = previous if resumed else None
    if record is None:
        if previous is not None:  # a handed-over pass whose scope changed: it ends here
            previous.state, previous.warning, previous.finished_at = "skipped", PASS_RESTARTED, utcnow()
        record = ctx.record(object_kind="import", object_id="parties", direction="to_platform", commit=False)
    db.session.commit()

    # A first import (no customer of this ledger linked yet) learns what the platform carries
    # from the ledger already in one listing (one request on an empty portal) instead of a
    # lookup per 50 (200 requests for 10,000 contacts: half again the writes). A pass that
    # handed over goes on with its listing: by then its own links exist, and asking again per
    # batch cost the rest of a 2,000-contact import 20 requests.
    carried = _listing_of_the_pass(value) if resumed else None
    if carried is None and not _any_party_linked(connection):
        carried = platform.find_parties(ledger.kind, None)
    if carried is not None and len(carried) <= CARRIED_KEPT:
        progress["carried"] = carried
    batch: list[LedgerParty] = []
    # "read" goes on from where the pass handed over; a ledger that gives no change times
    # (no mark) is listed from its start again, and the count stays put while it re-reads.
    counted_before = progress["done"] if mark.at else 0
    passed = 0  # candidates written (or found unchanged) by this run
    listed = _listed_since(since, mark)
    for ledger_party, from_listing in _candidates(ledger, listed, invoices_since, settings.include_suppliers):
        if from_listing:
            if mark.handled(ledger_party):
                continue  # written before this pass handed over: read again only at the mark's second
            mark.advance(ledger_party)
        if ledger_party.archived or ledger_party.party is None:
            continue
        if not wanted(ledger_party, settings.include_suppliers) and \
                find_link_by_ledger_id(connection, "party", ledger_party.ledger_id) is None:
            progress["left_out"] += 1  # a supplier (or neither yet): not the CRM's customer
            continue
        batch.append(ledger_party)
        if len(batch) == BATCH:
            _write_batch(ctx, installation, connection, platform, ledger.kind, batch, progress, carried)
            passed += len(batch)
            progress["done"] = max(progress["done"], counted_before + passed)
            batch = []
            position.value = {**progress, "mark": mark.as_json()}
            renew_lease(ctx)
            db.session.commit()
            if hand_over(ctx):
                # Between pages, bulk work yields: a user's work of this installation (or,
                # after a while, another installation's turn) runs before the next page.
                # Its record stays "running" (the import is not over) and the next run goes on with it.
                position.value = {**progress, "mark": mark.as_json(), "handed_over": True}
                record.received = {k: progress[k] for k in ("done", "created", "updated")}
                return
    if batch:
        _write_batch(ctx, installation, connection, platform, ledger.kind, batch, progress, carried)
        passed += len(batch)
    progress["done"] = max(progress["done"], counted_before + passed)
    progress.pop("carried", None)
    # The next pass lists what changed after the newest contact this one listed (not after an
    # invoiced contact's change: one changed meanwhile, listed by neither, would be missed).
    newest = mark.at if mark.at and (since is None or mark.at > since) else since
    progress.update(running=False, finished_at=utcnow().isoformat(),
                    since=newest.isoformat() if newest else progress["since"],
                    invoices_since=started.isoformat())
    position.value = dict(progress)
    record.state = "succeeded"
    record.received = {k: progress[k] for k in ("done", "created", "updated")}
    record.finished_at = utcnow()


def _record_of_the_pass(ctx: WorkContext) -> SyncRecord | None:
    """The running record of a pass that handed over, for its next run to go on with (or to
    end, when the pass must start again)."""
    record = db.session.scalar(select(SyncRecord).where(
        SyncRecord.work_item_id == ctx.item.id, SyncRecord.flow == FLOW, SyncRecord.state == "running")
        .order_by(SyncRecord.id.desc()).limit(1))
    if record is not None:
        ctx.records.append(record)  # a failure of this run is reported on it
    return record


def _candidates(ledger, listed_since: datetime | None, invoices_since: datetime | None, include_suppliers: bool):
    """``(contact, from_listing)``: the contacts changed since ``listed_since``, then (after
    a first, full pass: ``invoices_since`` set) those of the invoices changed since the
    invoice cursor, each once."""
    seen: set[str] = set()
    for ledger_party in ledger.changed_parties(listed_since):
        seen.add(ledger_party.ledger_id)
        yield ledger_party, True
    if invoices_since is None:
        return  # a full pass saw every contact, with its current roles
    for ledger_party in ledger.invoiced_parties(invoices_since, suppliers=include_suppliers):
        if ledger_party.ledger_id not in seen:
            seen.add(ledger_party.ledger_id)
            yield ledger_party, False


# Ledger ids kept at the mark's instant; more (a bulk load in one instant) are read again
# after a hand-over, recognised by their links (no write) and counted twice in "read".
MARK_IDS_KEPT = 1000


@dataclass
class ListingMark:
    """Where a pass stands in the ledger's listing (oldest change first): the change time
    of the last contact it handled and the ids handled at that instant.

    A pass that hands over lists again from a second before the mark (If-Modified-Since
    is to the second, and whether it includes that second is not documented) and passes
    over what it handled already. A contact changed during the pass moves to the listing's
    end and is read again, as it should be."""

    at: datetime | None = None
    ids: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, saved: dict | None) -> "ListingMark":
        if not saved or not saved.get("at"):
            return cls()
        return cls(datetime.fromisoformat(saved["at"]), set(saved.get("ids") or ()))

    def handled(self, ledger_party: LedgerParty) -> bool:
        changed = ledger_party.updated_at
        if self.at is None or changed is None:
            return False
        return changed < self.at or (changed == self.at and ledger_party.ledger_id in self.ids)

    def advance(self, ledger_party: LedgerParty) -> None:
        changed = ledger_party.updated_at
        if changed is None:
            return
        if self.at is None or changed > self.at:
            self.at, self.ids = changed, {ledger_party.ledger_id}
        elif changed == self.at:
            self.ids.add(ledger_party.ledger_id)

    def as_json(self) -> dict:
        ids = sorted(self.ids) if len(self.ids) <= MARK_IDS_KEPT else []
        return {"at": self.at.isoformat() if self.at else None, "ids": ids}


def _listed_since(since: datetime | None, mark: ListingMark) -> datetime | None:
    """The listing's If-Modified-Since: the pass's own, or a second before its mark."""
    if mark.at is None:
        return since
    from_mark = mark.at - timedelta(seconds=1)
    return from_mark if since is None or from_mark > since else since


def _listing_of_the_pass(value: dict) -> dict[str, str] | None:
    """What the platform carried from the ledger when this pass started (kept on its cursor
    when small), for a run that goes on after a hand-over. Records its own earlier runs made
    are linked; a crashed run does not count as handed over, and asks per batch again."""
    carried = value.get("carried")
    return dict(carried) if isinstance(carried, dict) else None


def _any_party_linked(connection) -> bool:
    return db.session.scalar(select(Link.id).where(
        Link.ledger == connection.ledger, Link.ledger_org == connection.organisation_id,
        Link.kind == "party").limit(1)) is not None


def _write_batch(ctx: WorkContext, installation, connection, platform, ledger_kind: str,
                 batch: list[LedgerParty], progress: dict, carried: dict[str, str] | None) -> None:
    """``carried``: what the platform carries from the ledger, listed at the start of a first
    import; None to ask per batch."""
    to_save: list[tuple] = []
    links = find_links_by_ledger_ids(connection, "party", [lp.ledger_id for lp in batch])
    if carried is None:
        # Not linked: carried by the platform already (an import that crashed before its
        # link write, or a second bridge)? One lookup for the batch.
        carried = platform.find_parties(ledger_kind, [lid for lid, link in links.items() if link is None]) \
            if None in links.values() else {}
    own_prefix = platform.party_key("")
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
            party = by_master(ctx, installation, platform, platform_id, ledger_party)
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
        # Read back (updates only) before the first link write: no transaction is held open
        # while the platform answers.
        shown_all = [shown_on_platform(platform, party, key, (ledger_kind, lp.ledger_id), pid)
                     for (lp, pid, _, _, _, party), key in zip(to_save, keys)]
        for (ledger_party, platform_id, fingerprint, extra, existed, party), key, shown in zip(to_save, keys, shown_all):
            bind(installation.id, connection, "party", key, ledger_id=ledger_party.ledger_id,
                 ledger_number=ledger_party.name,
                 extra={**extra, "received": fingerprint, "origin": extra.get("origin", "ledger"),
                        **({"groups": group_digests(shown)} if shown is not None else {})})
            for person_key, person in platform.people_created.get(key, []):
                # A person of a ledger company: invoiced alone, it gets a contact of its own,
                # never the company's (docs/sync.md, "Links").
                try:
                    bind_person(installation.id, connection, person_key, ledger_party.ledger_id, person)
                except LinkTaken:  # two people of one company with one e-mail: the first is linked
                    continue
            progress["updated" if existed or platform_id else "created"] += 1


# -- the daily run (switched on in the settings) -------------------------------------------

def daily_import_installations() -> list[int]:
    """Active installations whose user switched the daily import on (a setting of the
    Bitrix24 settings page), with a ledger connected."""
    rows = db.session.execute(select(Installation).join(
        LedgerConnection, LedgerConnection.installation_id == Installation.id).where(
        Installation.state == "active", LedgerConnection.active.is_(True))).scalars().unique().all()
    return sorted(i.id for i in rows
                  if any(c.active and c.ledger in LEDGERS for c in i.ledger_connections)
                  and get_section(i, "general").enabled and get_section(i, "party_import").daily)


def request_daily_imports(day: str | None = None) -> int:
    return request_daily("daily_party_import", day or period_key(DAY), daily_import_installations(),
                         import_request)


@periodic(crontab(hour="1-23", minute="40"), DAY, name="daily_party_import", per_item=True)
def daily_party_import(day: str) -> int:
    return request_daily_imports(day)
