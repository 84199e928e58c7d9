"""Webhook mode: a self-hosted portal connected by an inbound webhook instead of the app.

What an inbound webhook can and cannot do decides what bridge does (docs/bitrix24.md,
"Webhook mode"):

- it calls REST methods within the scopes the administrator ticked
  (https://dev.1c-bitrix.ru/rest_help/rest_sum/premissions_scope.php), so ``connect`` creates
  the "Sync with" checkbox itself: ``userfieldconfig.add`` for smart invoices (scope
  ``userfieldconfig``) and ``crm.invoice.userfield.add`` for old ones (scope ``crm``);
- it cannot bind events: ``event.bind`` "works only in the context of application
  authorization" (https://apidocs.bitrix24.com/api-reference/events/event-bind.html), and
  offline events need it too; nor placements (``placement.bind``, the same). So there is no
  invoice tab and no event: ``bitrix24_webhook_poll`` lists what changed every
  ``POLL_MINUTES`` minutes with modified-since filters (``updatedTime``, ``DATE_UPDATE``,
  ``DATE_MODIFY``: reconcile.py's streams) and requests the sync of each.
"""
from __future__ import annotations

from typing import Any

from huey import crontab
from sqlalchemy import select

from ...engine import WorkContext, flow, periodic
from ...engine.registry import notify_failure
from ...errors import RetryableError, SyncError
from ...extensions import db
from ...messages import N_
from ...models import Installation, SyncRecord, utcnow
from ...redaction import redact, redact_all
from . import store
from .client import Bitrix24Client
from .mapper import LEGACY_SYNC_FIELD, SMART_INVOICE, SYNC_FIELD, SYNC_FIELD_CAMEL
from .reconcile import reconcile_each
from .scopes import missing as missing_scopes
from .setup import SetupResult, _existing_label, _legacy_field_definition, _sync_field_definition, _sync_key_from, \
    sync_label

POLL_MINUTES = 2  # docs/bitrix24.md "Webhook mode": how late a change reaches the ledger at most (plus the run)


def webhook_setup(client: Bitrix24Client, ledger_name: str | None = None) -> SetupResult:
    """Create the sync fields the portal lacks, where the webhook may; say what it may not.
    Idempotent: a field already there is left alone (run it again after adding a scope)."""
    result = SetupResult(at=utcnow().isoformat())
    state = client.batch({
        "fields": ("userfieldconfig.list", {"moduleId": "crm", "filter": {"entityId": "CRM_SMART_INVOICE",
                                                                           "fieldName": SYNC_FIELD}}),
        "legacy_fields": ("crm.invoice.userfield.list", {"filter": {"FIELD_NAME": LEGACY_SYNC_FIELD}}),
        "item_fields": ("crm.item.fields", {"entityTypeId": SMART_INVOICE}),
        "scopes": ("scope", {}),
    })
    result.smart_invoices = state.ok("item_fields")
    result.legacy_invoices = state.ok("legacy_fields")
    if state.ok("scopes"):
        result.missing_scopes = missing_scopes(state.get("scopes") or [], mode="webhook")
        result.warnings += [f"The webhook lacks the scope {scope}." for scope in result.missing_scopes]
    existing = ((state.get("fields") or {}).get("fields") or []) if state.ok("fields") else []
    result.sync_label = _existing_label(existing) if existing else sync_label(ledger_name)
    commands: dict[str, tuple[str, dict[str, Any]]] = {}
    if result.smart_invoices and not existing and not _sync_key_from(state.get("item_fields")):
        commands["uf"] = ("userfieldconfig.add", _sync_field_definition(result.sync_label))
    if result.legacy_invoices and not state.get("legacy_fields"):
        commands["uf_legacy"] = ("crm.invoice.userfield.add", _legacy_field_definition(result.sync_label))
    reply = client.batch_all(commands)
    for key, error in reply.errors.items():
        # Without the right the box is missing and every invoice syncs (an absent box reads as on).
        result.warnings.append(f"The sync field could not be created ({key}): {error.message}")
    result.changed = len(commands) - len(reply.errors)
    result.sync_key = SYNC_FIELD_CAMEL
    if result.smart_invoices:
        fields = client.call("crm.item.fields", {"entityTypeId": SMART_INVOICE}).result if "uf" in commands \
            else state.get("item_fields")
        result.sync_key = _sync_key_from(fields) or SYNC_FIELD_CAMEL
    return result


def connect(webhook_url: str, ledger_name: str | None = None) -> tuple[Installation, SetupResult]:
    """``flask bitrix24 webhook URL``: keep the webhook, create the fields, remember what is in place."""
    installation = store.save_webhook(webhook_url)
    result = webhook_setup(store.client_for(installation), ledger_name)
    installation.endpoints = {**(installation.endpoints or {}), "setup": result.as_dict()}
    db.session.commit()
    return installation, result


def webhook_installations() -> list[Installation]:
    return [i for i in store.active_installations() if (i.endpoints or {}).get("mode") == "webhook"]


POLL_FLOW = "bitrix24_poll"  # the sync log's name for a webhook portal's poll (its records, Retry)


def poll_all() -> dict[str, Any]:
    return reconcile_each(webhook_installations(), noted=_note)


def _note(installation: Installation, failure: SyncError | None) -> None:
    """The poll is all a webhook portal has (no events), so a failure a person must act on (the
    webhook deleted, a scope untaken, the portal closed) is a failed record on the sync log and
    an alert, once per outage rather than every two minutes; the next poll that works says so.
    A passing failure (a limit, a timeout) is only logged: the next poll retries."""
    last = db.session.scalars(select(SyncRecord).where(SyncRecord.installation_id == installation.id,
                                                       SyncRecord.flow == POLL_FLOW)
                              .order_by(SyncRecord.id.desc()).limit(1)).first()
    if failure is not None and not isinstance(failure, RetryableError):
        if last is not None and last.state == "failed" and last.error_code == failure.code:
            last.attempt += 1  # the same outage: the record says how often and since when
            last.finished_at = utcnow()
        else:
            db.session.add(_poll_record(installation, state="failed", error_code=failure.code,
                                        error_message=redact(failure.message), error_fix=failure.fix,
                                        ledger_messages=redact_all(failure.ledger_messages) or None))
            notify_failure(installation.id, POLL_FLOW, failure)
    elif failure is None and last is not None and last.state == "failed":
        db.session.add(_poll_record(installation, state="succeeded", warning=N_("Bitrix24 answers the poll again.")))
    db.session.commit()


def _poll_record(installation: Installation, **fields: Any) -> SyncRecord:
    return SyncRecord(installation_id=installation.id, flow=POLL_FLOW, object_kind="portal",
                      object_id=installation.domain or installation.account_id, direction="to_ledger",
                      finished_at=utcnow(), **fields)


@flow(POLL_FLOW)
def run_poll(ctx: WorkContext) -> None:
    """Retry on the sync log's failed poll record: poll that portal now."""
    installation = db.session.get(Installation, ctx.installation_id)
    if installation is not None and installation in webhook_installations():
        reconcile_each([installation], noted=_note)


@periodic(crontab(minute=f"*/{POLL_MINUTES}"), POLL_MINUTES * 60, name="bitrix24_webhook_poll")
def bitrix24_webhook_poll() -> dict[str, Any]:
    return poll_all()

