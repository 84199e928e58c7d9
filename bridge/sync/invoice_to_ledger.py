"""Flow ``invoice_to_ledger``: a platform invoice (Bitrix24 invoice, DG1 order) becomes a
ledger invoice, and later edits update it while the ledger still allows it.

Read top to bottom, one invoice:

1. read it from the platform (gone -> hand over to the cancellation flow);
2. "Sync with ..." off -> nothing, and say so if it had been synced;
3. apply the mapping settings (tax codes, sales accounts): an unmapped rate is a failure
   naming the rate and the setting;
4. export the customer first (link -> ledger lookup by external key/e-mail/name -> create);
5. build the exact ledger document and its hash; unchanged since the last write -> done;
6. linked -> update, unless the ledger has moved it past draft (a conflict for a person);
   not linked -> create; an intent row is committed before the create call and its outcome
   after (``intents``), and only a create whose outcome was lost (a crash after the
   ledger's answer, a timeout) is preceded on retry by a lookup by what bridge owns, so a
   crash never makes a second invoice and a lone invoice costs one ledger call;
7. write with an idempotency key derived from (installation, object, content, attempt):
   a retry after an error gets a new key, since ledgers cache errors under a key;
8. bind the link and record what was sent and what came back.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from ..domain import Invoice, InvoiceStatus, Party
from ..errors import ConflictError, PermanentError, SyncError
from ..extensions import db
from ..faults import fault_point
from ..engine import WorkContext, WorkRequest, flow, request_work
from ..models import SKIPPED_BY_SYNC_BOX, SKIPPED_CANCELLED, Installation, LedgerConnection, SyncRecord, utcnow
from ..settings import get_section
from .invoice_flowback import changed_groups, with_platform_rates
from .intents import announce, first_write_attempts, settle, unsettled
from .invoice_followup import complete_invoice, pending_steps
from .invoice_refund import ask_early_refunds_again
from .links import LinkTaken, bind, find_link, jsonable, remembered_links
from .outcome import SWITCHED_OFF, UNCHANGED_MESSAGE, finish as _finish, idempotency_key, split_object_key
from .party_to_ledger import export_parties
from .shaping import keep_ledger_tracking
from .mapping import document_digests, ledger_document, link_plain_digest, plain_digest
from .money_check import money_agrees
from .platform_words import decide_where, settled_message, settled_on_both_sides
from ..ports import UNCHANGED, InvoiceLookup, InvoiceWrite, Ledger, LedgerDocument, Platform, WriteResult
from ..messages import N_, Word, joined
from .registry import ledger_for, platform_for

FLOW = "invoice_to_ledger"
# The invoice's own "Sync with ..." box is off. "Sync now" does not override it: the box is
# the user's decision for this invoice, and an override would be undone by the next edit.
SYNC_BOX_OFF_LINKED = N_("Sync is switched off for this invoice: later changes are not sent.")
SYNC_BOX_OFF = N_("Sync is switched off for this invoice.")
# Xero takes up to 50 invoices per call (https://developer.xero.com/documentation/api/invoices).
# 49, so that reading them costs whole Bitrix24 batches (50 commands: one list + one command per
# invoice, for the product rows and again for the companies' contact links) instead of spilling
# one over.
BATCH = 49


@dataclass
class Prepared:
    """One invoice ready to be written: what to send and how to find it again."""

    ctx: WorkContext
    record: SyncRecord
    platform_id: str
    write: InvoiceWrite
    digest: str
    warning: str | None
    plain: str = ""  # the digest without the document settings (``mapping.plain_digest``)


@flow(FLOW, batch=BATCH)
def export_invoices(contexts: list[WorkContext]) -> None:
    """Up to BATCH waiting invoices of one installation: one platform read, one ledger write.

    The run commits before every call out, and by default a commit expires every loaded
    object, so the next attribute read is another SELECT: a quarter of the run's CPU went to
    reloading the installation, its settings and the links it had just written; and each
    link was looked up six times (``remembered_links``). Nothing else writes these rows
    while the run holds the work items (a settings change made meanwhile applies from the
    next run)."""
    session = db.session()
    session.expire_on_commit = False
    try:
        with remembered_links(contexts[0].installation_id, "invoice",
                              [split_object_key(ctx.object_key)[1] for ctx in contexts]):
            _export_invoices(contexts)
    finally:
        session.expire_on_commit = True


def _export_invoices(contexts: list[WorkContext]) -> None:
    installation = db.session.get(Installation, contexts[0].installation_id)
    keyed = [(ctx, split_object_key(ctx.object_key)[1]) for ctx in contexts]
    records = {ctx.item.id: ctx.record(object_kind=split_object_key(ctx.object_key)[0], object_id=pid,
                                       direction="to_ledger", commit=False) for ctx, pid in keyed}
    db.session.commit()  # one commit for the batch's records

    platform = platform_for(installation)
    invoices = read_platform(installation, platform, keyed)
    # The echoes of our own write-back: closed together, one commit (most of a batch, often).
    unchanged = [(ctx, pid) for ctx, pid in keyed if invoices.get(pid) is UNCHANGED]
    for ctx, _ in unchanged:
        _finish(records[ctx.item.id], "skipped", UNCHANGED_MESSAGE, commit=False)
    db.session.commit()
    keyed = [(ctx, pid) for ctx, pid in keyed if invoices.get(pid) is not UNCHANGED]
    if not keyed:
        return
    ledger, connection = ledger_for(installation)
    lookups = Lookups.for_batch(installation, connection, ledger, keyed, invoices)
    prepared: list[Prepared] = []
    for ctx, pid in keyed:
        try:
            ready = prepare(ctx, records[ctx.item.id], installation, platform, ledger, connection, pid,
                            invoices.get(pid), lookups)
        except Exception as exc:  # this invoice's problem, not its batch's
            db.session.rollback()
            ctx.fail(exc)
            continue
        if ready is not None:
            prepared.append(ready)
    if prepared:
        write_prepared(installation, connection, platform, ledger, prepared)
    show_missing_references(installation, platform, keyed, records)


def read_platform(installation: Installation, platform, keyed: list[tuple[WorkContext, str]]) -> dict:
    """The batch's invoices from the platform. Where the platform can tell (Bitrix24,
    ``Platform.read_invoices``), an invoice still at the version our own write-back left is
    UNCHANGED and not read whole:
    the event that write-back caused costs next to nothing. A manual run ("Sync now") and an
    installation with follow-up steps (issue, payment, e-mail) always read everything."""
    ids = [pid for _, pid in keyed]
    settings = get_section(installation, "invoices")
    follow_ups = settings.issue_on_create or settings.create_payment or settings.send_by_email
    versions: dict[str, str] = {}
    if not follow_ups:
        for ctx, pid in keyed:
            link = find_link(installation.id, "invoice", pid)
            version = (link.extra or {}).get("platform_version") if link and link.ledger_id else None
            if version and not ctx.options.get("manual"):
                versions[pid] = version
    db.session.commit()  # nothing held open while the platform answers
    return platform.read_invoices(ids, versions)


NO_LINES_YET = N_("The invoice has no lines yet: it is sent once it has some.")


def gone(invoice: Invoice | None) -> bool:
    """Deleted or cancelled on the platform (its cancellation flow takes a linked one)."""
    return invoice is None or (invoice is not UNCHANGED and invoice.status in (InvoiceStatus.VOIDED,
                                                                               InvoiceStatus.DELETED))


def skip_reason(ctx: WorkContext, installation: Installation, invoice: Invoice | None, link) -> str | None:
    """Why nothing is written for this invoice, in the user's words; None: it is written.
    The batch's lookups and ``prepare`` ask the same question, so a customer is never sent
    for an invoice that is not."""
    if invoice is UNCHANGED:
        return UNCHANGED_MESSAGE
    if gone(invoice):
        return N_("The invoice was deleted or cancelled on the platform.")
    general = get_section(installation, "general")
    if not general.enabled:
        return SWITCHED_OFF
    if not general.automatic_sync and not ctx.options.get("manual"):
        return N_("Automatic order sync is switched off in the settings: sync the order by hand from the orders "
                  "page.")
    if not invoice.sync_enabled:
        return SYNC_BOX_OFF_LINKED if link and link.ledger_id else SYNC_BOX_OFF
    if not invoice.lines and not (link and link.ledger_id):
        # Saved with its customer before its lines: the ledger refuses an invoice without
        # lines (Xero: "LineItems must be specified"), so neither it nor its customer is sent.
        return NO_LINES_YET
    return None


def prepare(ctx: WorkContext, record: SyncRecord, installation: Installation, platform: Platform, ledger: Ledger,
            connection: LedgerConnection, platform_id: str, invoice: Invoice | None,
            lookups: "Lookups") -> Prepared | None:
    """Decide what to write for one invoice; None when there is nothing to write."""
    link = find_link(installation.id, "invoice", platform_id)
    skipped = skip_reason(ctx, installation, invoice, link)
    if skipped is not None:
        if skipped in (SYNC_BOX_OFF_LINKED, SYNC_BOX_OFF):
            record.error_code = SKIPPED_BY_SYNC_BOX  # the invoice tab words it by the box's title
        elif gone(invoice):
            record.error_code = SKIPPED_CANCELLED  # the tab says "cancelled", not "Synced"
        _finish(record, "skipped", skipped)
        if gone(invoice) and link and link.ledger_id:
            request_work(WorkRequest(installation.id, "invoice_cancel", ctx.object_key))
            db.session.commit()
        return None
    party_id, party_warning = lookups.party(invoice.party)
    platform_status = invoice.status  # the rendered document is a draft; the platform's own status is this
    invoice, document = ledger_document(installation, ledger, invoice, party_id)
    digests = document_digests(ledger, document)  # the one to store first; any of them: unchanged
    digest = digests[0]
    plain = plain_digest(ledger, invoice, party_id)
    record.sent = jsonable({"document": document})
    db.session.commit()  # never hold a write transaction across the calls below (SQLite)
    if link and link.ledger_id and link.content_hash in digests:
        if pending_steps(installation, invoice, link):  # an earlier run stopped part-way
            done = complete_invoice(installation, ledger, link, invoice)
            _finish(record, "succeeded", None)
            record.received = {"steps": done}
            return None
        _finish(record, "skipped", UNCHANGED_MESSAGE)
        return None

    existing = _current_document(ledger, link, invoice, lookups)
    if existing is not None and not existing.status.is_editable:
        if not (link and link.ledger_id) and _unchanged_in_ledger(installation, invoice, existing):
            # An earlier attempt made it and died before writing the link; the ledger has
            # approved it since. Ours and unchanged: bind it, there is no edit to refuse.
            bind(installation.id, connection, "invoice", platform_id, ledger_id=existing.ledger_id,
                 ledger_number=existing.number, ledger_status=existing.status.value,
                 ledger_version=existing.version, content_hash=digest,
                 extra={"url": existing.url, "synced_at": utcnow().isoformat(), "party_ledger_id": party_id,
                        "plain_hash": plain})
            ask_early_refunds_again(installation.id, [platform_id])
            record.received = {"ledger_id": existing.ledger_id, "number": existing.number,
                               "status": existing.status.value}
            _finish(record, "succeeded", N_("Found in %(ledger)s as %(status)s, made by an earlier attempt: linked, "
                                            "nothing sent.", ledger=ledger.kind.title(),
                                            status=Word("status", existing.status.value)))
            return None
        if link and link.ledger_id and settled_on_both_sides(platform, platform_status, existing.status):
            _finish(record, "skipped", settled_message(platform, ledger))
            return None
        if link and link.ledger_id and link_plain_digest(link) == plain:
            keep_as_approved(record, link, digest, plain, ledger, existing)
            return None
        raise ConflictError(
            N_("%(ledger)s has this invoice as %(status)s: it no longer accepts changes, so the edit was not sent.",
               ledger=ledger.kind.title(), status=Word("status", existing.status.value)),
            ours=jsonable(document), theirs=_summary(existing),
            choices=[N_("Keep the ledger's version (change nothing)"),
                     N_("Undo the edit on the platform"),
                     N_("Void it in the ledger and sync again as a new invoice")],
            fix=decide_where(platform, ledger))
    write = InvoiceWrite(invoice=keep_ledger_tracking(installation, invoice, existing.invoice if existing else None),
                         party_ledger_id=party_id,
                         ledger_id=existing.ledger_id if existing else None,
                         idempotency_key=idempotency_key(installation.id, "invoice", platform_id, digest,
                                                         ctx.item.attempts + 1))
    record.idempotency_key = write.idempotency_key
    db.session.commit()
    return Prepared(ctx, record, platform_id, write, digest, party_warning, plain)


def keep_as_approved(record: SyncRecord, link, digest: str, plain: str, ledger: Ledger,
                     existing: LedgerDocument) -> None:
    """Only a document setting changed since the last write (a branding theme, the tracking
    mapping, a template), not the invoice: an approved invoice keeps what it was approved
    with. It is no user edit, so no conflict; the link takes the new rendering as its own,
    so the next event costs no ledger read and the flow-back sees no unsent edit."""
    link.content_hash = digest
    link.extra = {**(link.extra or {}), "plain_hash": plain}
    _finish(record, "skipped", N_("Only the document settings changed: %(ledger)s has this invoice as %(status)s, "
                                  "so it keeps what it was approved with. New and draft invoices get the new "
                                  "settings.", ledger=ledger.kind.title(), status=Word("status", existing.status.value)))


def write_prepared(installation: Installation, connection: LedgerConnection, platform, ledger: Ledger,
                   prepared: list[Prepared]) -> None:
    """One ledger call for the batch; each element's result handled on its own; then each
    new invoice's follow-up steps (issue, payment, e-mail)."""
    creates = [(p.platform_id, p.write.idempotency_key) for p in prepared if p.write.ledger_id is None]
    announce(installation.id, connection.ledger, "invoice", creates)  # committed before the call
    fault_point("before ledger write")
    try:
        results = ledger.save_invoices([p.write for p in prepared])
    except Exception as exc:  # the outcome is unknown: the intents stay open, the retry looks up first
        for p in prepared:
            p.ctx.fail(exc)
        return
    fault_point("after ledger create")
    created = {pid for pid, _ in creates}
    settle(installation.id, connection.ledger, "invoice",
           {p.platform_id: (result.ledger_id if result.ok else None)
            for p, result in zip(prepared, results) if p.platform_id in created})
    written: list[tuple[Prepared, WriteResult, object]] = []
    for p, result in zip(prepared, results):
        if not result.ok:
            p.ctx.fail(result.error or PermanentError(N_("The ledger refused the invoice.")))
            continue
        fault_point("before link write")
        try:
            link = bind(installation.id, connection, "invoice", p.platform_id, ledger_id=result.ledger_id,
                        ledger_number=result.number, ledger_status=result.status.value if result.status else None,
                        ledger_version=result.version, content_hash=p.digest,
                        extra={"url": result.url, "synced_at": utcnow().isoformat(),
                               "party_ledger_id": p.write.party_ledger_id, "plain_hash": p.plain})
        except LinkTaken as exc:  # another invoice's: a conflict for this one, the batch goes on
            p.ctx.fail(exc)
            continue
        p.record.received = jsonable(result.received or {"ledger_id": result.ledger_id, "number": result.number})
        p.record.warning = joined([w for w in [p.warning, *result.warnings] if w], "; ") or None
        written.append((p, result, link))
    ask_early_refunds_again(installation.id, [p.platform_id for p, _, _ in written if p.platform_id in created])
    db.session.commit()  # the links first, all in one commit: what follows calls out and may fail
    show_references(platform, [(p.platform_id, p.record, LedgerDocument(
        ledger_id=result.ledger_id, number=result.number or "", status=result.status, url=result.url,
        version=result.version)) for p, result, _ in written if result.ledger_id])
    for p, result, link in written:
        if not money_agrees(p.record, link, ledger, platform, p.write.invoice, result.received):
            continue  # "amounts differ", never "synced"; the follow-up steps wait (money_check.py)
        try:
            steps = complete_invoice(installation, ledger, link, p.write.invoice)
        except Exception as exc:
            p.ctx.fail(exc)
            continue
        if steps:
            p.record.received = {**(p.record.received or {}), "steps": steps}
        _finish(p.record, "succeeded", None, commit=False)
    db.session.commit()


def show_references(platform, shown: list[tuple[str, SyncRecord, LedgerDocument]]) -> None:
    """Show each ledger document on the platform (the Xero InvoiceID on the Bitrix24 invoice,
    DG1's "Bexio invoice" column): ``set_ledger_references``, one call where the platform can
    (Bitrix24: 50 updates per request), else one by one. A failure here leaves the invoice synced; only the link back
    is missing, and the record says so. Each link remembers the reference shown
    (``extra["reference_shown"]``), so a run cut off before this step shows it next time
    (``show_missing_references``)."""
    documents = [(platform_id, document) for platform_id, _, document in shown]
    if not documents:
        return
    fault_point("before reference write-back")
    try:
        results = platform.set_ledger_references(documents)
    except SyncError as exc:
        results = {pid: WriteResult(ok=False, error=exc) for pid, _ in documents}
    errors = {pid: r.error for pid, r in results.items() if not r.ok and r.error is not None}
    versions = {pid: r.version for pid, r in results.items() if r.ok and r.version}
    # When the platform stamped our write (its event clock, whole seconds): an event of that
    # very second is our echo and is not read (the platform's inbox handler; the reconcile
    # re-reads it later, in case a user saved in the same second).
    stamped = {pid: r.received["written_at"] for pid, r in results.items()
               if r.ok and isinstance(r.received, dict) and r.received.get("written_at")}
    for platform_id, record, document in shown:
        link = find_link(record.installation_id, "invoice", platform_id)
        if platform_id in versions:  # the platform's stamp after our write: its event is our echo
            link.extra = {**(link.extra or {}), "platform_version": versions[platform_id]}
        if platform_id in stamped:
            link.extra = {**(link.extra or {}), "platform_written_at": stamped[platform_id]}
        if platform_id in errors:
            message = getattr(errors[platform_id], "message", str(errors[platform_id]))
            record.warning = N_("Synced, but the link could not be shown on the platform: %(reason)s", reason=message)
        else:
            link.extra = {**(link.extra or {}), "reference_shown": document.ledger_id}
    fault_point("after reference write-back")
    db.session.commit()


def show_missing_references(installation: Installation, platform, keyed: list[tuple[WorkContext, str]],
                            records: dict[int, SyncRecord]) -> None:
    """The references of linked invoices that the platform does not show yet: a run stopped
    between the link write and the write-back (a dead worker), or the write-back failed.
    Costs nothing on Bitrix24 for an invoice this run read with the reference on it."""
    missing = []
    for ctx, platform_id in keyed:
        link = find_link(installation.id, "invoice", platform_id)
        if ctx.failure is None and link is not None and link.ledger_id and \
                (link.extra or {}).get("reference_shown") != link.ledger_id:
            missing.append((platform_id, records[ctx.item.id], linked_document(link)))
    show_references(platform, missing)


def linked_document(link) -> LedgerDocument:
    extra = link.extra or {}
    return LedgerDocument(ledger_id=link.ledger_id, number=link.ledger_number or "",
                          status=InvoiceStatus(link.ledger_status or "draft"), url=extra.get("url") or "",
                          version=link.ledger_version)


def _current_document(ledger: Ledger, link, invoice: Invoice, lookups: "Lookups") -> LedgerDocument | None:
    if link and link.ledger_id:
        documents = lookups.linked(link.ledger_id)
        if documents:
            return documents[0]
    found = lookups.found(invoice)
    if found is not None and not is_ours(found, invoice):
        raise ConflictError(
            N_("%(ledger)s already has an invoice %(number)s that bridge did not create; it was not taken over and "
               "nothing was sent.", ledger=ledger.kind.title(), number=found.number),
            ours={"number": invoice.number, "key": invoice.key},
            theirs={"number": found.number, "reference": found.reference, "ledger_id": found.ledger_id},
            choices=[N_("Renumber the invoice on the platform"), N_("Switch Settings > Numbering to the ledger's numbers"),
                     N_("Delete or renumber the other invoice in the ledger")],
            fix=N_("Settings > Numbering, or renumber one of the two invoices."))
    return found


def _unchanged_in_ledger(installation: Installation, invoice: Invoice, document: LedgerDocument) -> bool:
    """The ledger's invoice says what ours would (dates, currency, lines; tax codes read back
    as rates through the mapping): the same invoice, not an edit."""
    if document.invoice is None:
        return False
    return not changed_groups(invoice, with_platform_rates(installation, document.invoice))


def is_ours(document: LedgerDocument, invoice: Invoice) -> bool:
    """Found by our external key or number: made by bridge for this invoice? Its link back
    (Xero Url) points at this platform invoice, or its reference is our key (invoices made
    before the reference was left to the user)."""
    return document.reference == invoice.key or bool(
        document.external_url and invoice.platform_url and document.external_url == invoice.platform_url)


class Lookups:
    """The ledger lookups of a whole batch, done together (one call each where the ledger
    can, Xero; a loop elsewhere, ``bridge.ports.Ledger``), for one invoice as for 49.

    Customers: ``export_parties`` for every customer of the batch's invoices that are
    written, before the per-invoice loop. Invoices: the ledger documents of linked invoices
    (one ``get_invoices``) and the lookup of unlinked ones that need it (``needs_lookup``:
    one ``find_invoices``), each fetched on first need, so a batch of unchanged invoices, or
    of new ones never tried before, reads nothing.
    """

    def __init__(self, ledger: Ledger, candidates: list[tuple[Invoice, object]]) -> None:
        self.ledger = ledger
        self.candidates = candidates  # (invoice, its link or None): the invoices to be written
        self.parties: dict[str, tuple[str, str | None] | Exception] = {}
        self._linked: dict[str, list[LedgerDocument]] | Exception | None = None
        self._found: dict[str, LedgerDocument | None] | Exception | None = None
        self.since: dict[str, object] = {}  # invoice key -> a little before its first write attempt

    @classmethod
    def for_batch(cls, installation: Installation, connection: LedgerConnection, ledger: Ledger,
                  keyed: list[tuple[WorkContext, str]], invoices: dict) -> "Lookups":
        candidates, first_ctx = [], {}
        ledger_numbers = get_section(installation, "invoices").numbering == "ledger"
        for ctx, pid in keyed:
            invoice = invoices.get(pid)
            link = find_link(installation.id, "invoice", pid)
            if not isinstance(invoice, Invoice) or skip_reason(ctx, installation, invoice, link) is not None:
                continue
            first_ctx.setdefault(invoice.party.key, (ctx, invoice.party))
            if ledger_numbers:  # looked up as the ledger received it (``ledger_document``): by reference
                invoice = replace(invoice, number="")
            candidates.append((invoice, link))
        lookups = cls(ledger, candidates)
        # Only an invoice whose last create has no recorded outcome is looked up before
        # creating (``intents``); one without an intent row, by its pre-intent sync records.
        pending = unsettled(installation.id, connection.ledger, "invoice", [pid for _, pid in keyed])
        older = first_write_attempts(installation.id, [pid for pid, since in pending.items() if since is None])
        for ctx, pid in keyed:
            since = pending.get(pid) or older.get(pid)
            if isinstance(invoices.get(pid), Invoice) and since is not None:
                lookups.since[invoices[pid].key] = since
        if first_ctx:
            lookups.parties = export_parties(installation, connection, ledger, list(first_ctx.values()))
        return lookups

    # -- customers ------------------------------------------------------------------------
    def party(self, party: Party) -> tuple[str, str | None]:
        value = self.parties[party.key]
        if isinstance(value, Exception):
            raise value
        return value

    # -- invoices -------------------------------------------------------------------------
    def linked(self, ledger_id: str) -> list[LedgerDocument]:
        if self._linked is None:
            ids = [link.ledger_id for _, link in self.candidates if link and link.ledger_id]
            try:
                self._linked = {}
                for document in self.ledger.get_invoices(list(dict.fromkeys(ids + [ledger_id]))):
                    self._linked.setdefault(document.ledger_id, []).append(document)
            except Exception as exc:
                self._linked = exc
        if isinstance(self._linked, Exception):
            raise self._linked
        return self._linked.get(ledger_id, [])

    def needs_lookup(self, invoice: Invoice) -> bool:
        """Looked up before its create: numbered by us (the number must not be another
        invoice's), or an earlier create's outcome is unknown (``intents``)."""
        return bool(invoice.number) or self.since.get(invoice.key) is not None

    def found(self, invoice: Invoice) -> LedgerDocument | None:
        if not self.needs_lookup(invoice):
            return None
        if self._found is None:
            unlinked = [i for i, link in self.candidates if not (link and link.ledger_id) and self.needs_lookup(i)]
            if invoice.key not in {i.key for i in unlinked}:
                unlinked.append(invoice)
            try:
                self._found = dict(zip([i.key for i in unlinked], self.ledger.find_invoices(
                    unlinked, {i.key: self.lookup(i) for i in unlinked})))
            except Exception as exc:
                self._found = exc
        if isinstance(self._found, Exception):
            raise self._found
        if invoice.key not in self._found:
            return self.ledger.find_invoice(invoice, self.lookup(invoice))
        return self._found[invoice.key]

    def lookup(self, invoice: Invoice) -> InvoiceLookup:
        party = self.parties.get(invoice.party.key)
        return InvoiceLookup(party[0] if isinstance(party, tuple) else None, self.since.get(invoice.key))


def _summary(document: LedgerDocument) -> dict:
    """The ledger's side of a conflict, as the user reads it (money with two decimals)."""
    return {"ledger_id": document.ledger_id, "number": document.number, "status": document.status.value,
            "total": _money(document.total), "amount_paid": _money(document.amount_paid)}


def _money(amount) -> str:
    return str(Decimal(str(amount)).quantize(Decimal("0.01"))) if amount is not None else ""
