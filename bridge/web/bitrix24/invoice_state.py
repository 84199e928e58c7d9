"""What the invoice tab tells a user about one invoice: its sync state and last error, in words."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import format_datetime, gettext as _
from sqlalchemy import func, select

from ...engine import why_waiting
from ...extensions import db
from ...messages import N_, render
from ...models import SKIPPED_BY_SYNC_BOX, SKIPPED_CANCELLED, Installation, Link, SyncRecord, WorkItem
from ...stored_messages import from_stored, stored
from ...sync.money_check import AMOUNTS_DIFFER, amounts_differ
from ...ports import ledger_class, ledger_name
from ...connectors.bitrix24.inbox import FLOW_INVOICE
from ...connectors.bitrix24.setup import sync_label_of
from .invoice_money import MoneyShown, money_shown


@dataclass
class InvoiceSyncState:
    label: str  # one short sentence
    tone: str  # ok | pending | error | idle
    ledger_number: str | None = None
    ledger_status: str | None = None
    last_attempt_at: datetime | None = None
    retry_at: datetime | None = None
    error: str | None = None
    error_fix: str | None = None
    ledger_messages: list[str] = field(default_factory=list)
    ledger: str | None = None  # xero | bexio
    ledger_url: str | None = None  # opens the ledger invoice in a new window
    online_url: str | None = None  # the ledger's link for the customer (Xero's online invoice)
    last_synced_at: datetime | None = None
    records: list[SyncRecord] = field(default_factory=list)  # newest first
    conflict: dict[str, Any] | None = None  # {"ours", "theirs", "choices", "message", "fix"}
    sync_off: bool = False  # the invoice's sync box is off: "Sync now" would do nothing
    # Nothing known of the invoice yet (a tab opened right after Save, before the portal's
    # event reached bridge): the tab keeps asking, as while work is pending, until an outcome.
    awaiting: bool = False
    money: MoneyShown | None = None  # the payments and credit notes applied in the ledger

    @property
    def failed(self) -> bool:
        return self.tone == "error"


def invoice_state(installation_id: int, invoice_id: str) -> InvoiceSyncState:
    item = db.session.scalar(select(WorkItem).where(
        WorkItem.installation_id == installation_id, WorkItem.flow == FLOW_INVOICE,
        WorkItem.object_key == f"invoice:{invoice_id}"))
    records = db.session.scalars(select(SyncRecord).where(
        SyncRecord.installation_id == installation_id, SyncRecord.object_kind == "invoice",
        SyncRecord.object_id == invoice_id).order_by(SyncRecord.id.desc()).limit(RECORDS_SHOWN)).all()
    # The record that says how the invoice stands: a flow-back that found nothing to copy
    # (skipped, to the platform) says nothing about an earlier export's conflict or failure.
    record = next((r for r in records if not (r.state == "skipped" and r.direction == "to_platform")),
                  records[0] if records else None)
    link = db.session.scalar(select(Link).where(
        Link.installation_id == installation_id, Link.kind == "invoice", Link.platform_id == invoice_id))
    state = _label(item, record)
    differ = amounts_differ(link)
    if differ and state.tone != "pending":
        # The ledger booked other money than the invoice shows: never "Synced" until a write
        # whose amounts agree clears the mark (``bridge/sync/money_check.py``).
        state.label = _("Amounts differ between Bitrix24 and %(ledger)s.", ledger=ledger_name(link.ledger))
        state.tone = "error"
        state.error, state.error_fix = differ.get("message"), differ.get("fix")
    elif link is not None and state.tone == "idle" and link.ledger_id:
        # A run that found nothing to change (our own write coming back, a repeat) says
        # nothing about the invoice: it is in the ledger and up to date.
        state.label, state.tone = _("Synced. Nothing changed since."), "ok"
    if link is not None:
        state.ledger_number, state.ledger_status = link.ledger_number, link.ledger_status
        state.ledger = link.ledger
        state.ledger_url = ledger_url(link)
        state.online_url = (link.extra or {}).get("online_url") or None
        state.money = money_shown(installation_id, link)
        synced = (link.extra or {}).get("synced_at")
        state.last_synced_at = datetime.fromisoformat(synced) if synced else link.updated_at
    state.records = list(records)
    state.awaiting = item is None and record is None and link is None
    latest_export = next((r for r in records if r.direction == "to_ledger"), None)
    if latest_export is not None and latest_export.state == "skipped" and \
            _skipped_by_sync_box(latest_export) and state.tone != "pending":
        state.sync_off, state.tone = True, "idle"
        field = sync_label_of(db.session.get(Installation, installation_id))  # as the portal names the box
        state.label = (_("“%(field)s” is off for this invoice: later changes are not sent to %(ledger)s.",
                         field=field, ledger=ledger_name(link.ledger))
                       if link is not None and link.ledger_id else
                       _("“%(field)s” is off for this invoice.", field=field))
    elif latest_export is not None and _cancelled_here(latest_export) and state.tone != "pending" and \
            link is not None and link.ledger_id and not differ:
        # Cancelled here: what the ledger has is no longer kept in step (its amounts may
        # differ after a later edit), so the tab never reads "Synced".
        state.tone = "idle"
        state.label = _("Cancelled in Bitrix24: later changes are not sent to %(ledger)s.",
                        ledger=ledger_name(link.ledger))
    if records:
        state.last_attempt_at = records[0].finished_at or records[0].created_at
    reason = stored(record, "warning") or stored(record, "error_message") if record is not None else None
    if record is not None and record.state == "skipped" and reason and state.tone == "idle" and \
            not state.sync_off and (link is None or not link.ledger_id):
        # Never sent, for a reason the run gave (a cancelled invoice, one with nothing to
        # send): the headline says it rather than guessing "sync is off or nothing changed".
        state.label = _("Not sent: %(reason)s", reason=render(reason))
    if record is not None:
        if record.state == "retrying" and record.retry_at is not None and (item is None or item.state == "waiting"):
            # A ledger outage or limit is not a failure the user must act on: bridge waits
            # (never sooner than the ledger's Retry-After) and tries again by itself.
            state.label = _("Waiting, retrying at %(time)s: %(reason)s",
                            time=format_datetime(record.retry_at, "short"),
                            reason=render(stored(record, "error_message")))
            state.tone = "pending"
            state.retry_at = record.retry_at
        elif record.state in ("failed", "retrying", "conflict"):
            state.error, state.error_fix = stored(record, "error_message"), stored(record, "error_fix")
            state.ledger_messages = list(record.ledger_messages or [])
            state.retry_at = record.retry_at
        if record.state == "conflict":
            received = record.received or {}
            state.conflict = {"ours": received.get("ours") or {}, "theirs": received.get("theirs") or {},
                              "choices": [from_stored(choice) for choice in received.get("choices") or []],
                              "message": stored(record, "error_message"), "fix": stored(record, "error_fix")}
    return state


RECORDS_SHOWN = 10

def ledger_url(link: Link) -> str | None:
    """The URL the ledger gave at export (``extra["url"]``), else the ledger's own page of the
    invoice built from its id (``Ledger.invoice_page_url``; none for a ledger without one)."""
    url = (link.extra or {}).get("url")
    if url:
        return str(url)
    return ledger_class(link.ledger).invoice_page_url(link.ledger_id) or None


# What the work ahead is, in words (by flow); other flows read as "other work".
WORK_WORDS = {
    "party_import": N_("the contact import"),
    "invoice_backfill": N_("the invoice backfill"),
    "invoice_to_ledger": N_("invoices being sent to the ledger"),
    "ledger_invoice_changed": N_("ledger changes being read"),
    "party_to_ledger": N_("contacts being sent to the ledger"),
}


def waiting_reason(item: WorkItem) -> str:
    """Why a queued item waits, in the viewer's language: how many items of which work go
    before it, since when, and about how long at its installation's recent rate (nothing
    about time when that rate is not known)."""
    wait = why_waiting(item)
    if wait.ahead == 0:
        return render(N_("Waiting to sync; it goes next."))
    work = WORK_WORDS.get(wait.flow or "", N_("other work"))
    since = format_datetime(wait.since, "short") if wait.since else ""
    if wait.seconds is None:
        return render(N_("Waiting to sync: behind %(count)s items of %(work)s started %(since)s.",
                         count=wait.ahead, work=work, since=since))
    return render(N_("Waiting to sync: behind %(count)s items of %(work)s started %(since)s; about %(minutes)s min.",
                     count=wait.ahead, work=work, since=since, minutes=max(1, round(wait.seconds / 60))))


def _queued(item: WorkItem) -> InvoiceSyncState:
    """Queued: says why (``waiting_reason``). When only a run of other invoices goes before
    it (one batch run per installation at a time), its worker may have stopped (a restart, a
    crash), and then the queue waits for the run's lease: the tab says until when at the
    latest, so that a wait is never mistaken for a stuck sync."""
    started, latest = db.session.execute(select(func.min(WorkItem.last_run_at), func.max(WorkItem.lease_until)).where(
        WorkItem.installation_id == item.installation_id, WorkItem.flow == item.flow,
        WorkItem.state == "running")).one()
    if latest is None or why_waiting(item).queued_ahead:
        return InvoiceSyncState(waiting_reason(item), "pending")
    return InvoiceSyncState(_("Waiting to sync, behind other invoices whose sync started at %(started)s. If that "
                              "sync has stopped (a restart of bridge's worker), this one goes on by %(latest)s at "
                              "the latest.", started=format_datetime(started, "short"),
                              latest=format_datetime(latest, "short")), "pending")


def _label(item: WorkItem | None, record: SyncRecord | None) -> InvoiceSyncState:
    if item is not None and item.state == "queued":
        return _queued(item)
    if item is not None and item.state == "running":
        return InvoiceSyncState(_("Syncing now."), "pending")
    if item is not None and item.state == "waiting":
        return InvoiceSyncState(_("The last attempt failed; bridge will try again."), "error")
    if record is None:
        return InvoiceSyncState(_("Not synced yet."), "idle")
    return {
        "succeeded": InvoiceSyncState(_("Synced."), "ok"),
        "skipped": InvoiceSyncState(_("Nothing to sync (sync is off or nothing changed)."), "idle"),
        "conflict": InvoiceSyncState(_("Needs your decision: both sides changed."), "error"),
        AMOUNTS_DIFFER: InvoiceSyncState(_("Amounts differ: the ledger booked other money than the invoice shows."),
                                         "error"),
        "failed": InvoiceSyncState(_("Not synced: the last attempt failed."), "error"),
        "retrying": InvoiceSyncState(_("The last attempt failed; bridge will try again."), "error"),
        "running": InvoiceSyncState(_("Syncing now."), "pending"),
    }.get(record.state, InvoiceSyncState(_("Not synced yet."), "idle"))


# How the warning of a record written before records carried ``SKIPPED_BY_SYNC_BOX`` starts.
_OLD_SYNC_BOX_WARNING = "Sync is switched off for this invoice"


def _cancelled_here(record) -> bool:
    """The invoice was last handled as cancelled on the platform: the export skipped it for
    that, or the cancellation flow (a credit note, a void) ran for it."""
    return (record.state == "skipped" and record.error_code == SKIPPED_CANCELLED) or (
        record.flow == "invoice_cancel" and record.state == "succeeded")


def _skipped_by_sync_box(record) -> bool:
    """The invoice's own sync box was off when it last came to be written."""
    return record.error_code == SKIPPED_BY_SYNC_BOX or (
        record.error_code is None and (record.warning or "").startswith(_OLD_SYNC_BOX_WARNING))
