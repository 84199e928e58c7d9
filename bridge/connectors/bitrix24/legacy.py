"""Old ("legacy") Bitrix24 invoices, ``crm.invoice.*``: the half of ``Bitrix24Platform`` that
self-hosted portals which never switched to smart invoices need.

The platform adapter dispatches every platform id ``L<id>`` here, so old invoices travel the
same flows as smart ones (export, edits, status and reference back, ledger edits back,
cancellation, preview). Their wire differs (the outdated methods' pages under
https://apidocs.bitrix24.com/api-reference/crm/outdated/invoice/):

- UPPER_CASE fields; ``PRODUCT_ROWS`` come inside ``crm.invoice.get`` and never in
  ``crm.invoice.list`` (crm-invoice-list.html), so a read is one get per invoice, batched;
- the status is ``STATUS_ID`` from ``crm.status.list`` ``ENTITY_ID=INVOICE_STATUS``, read per
  portal with its SEMANTICS (S success, F failure): only "P" (paid) is a fixed code in the
  docs, so the codes are never assumed (settings ``legacy_status_map`` overrides);
- ``crm.invoice.update`` saves, and fires ONCRMINVOICEUPDATE, even when nothing changed
  (crm-invoice-update.html documents no skip, unlike crm-item-update.html), so a
  write-back reports the invoice's ``content_version`` and the flow skips its own echo;
- sending ``PRODUCT_ROWS`` replaces every row (crm-invoice-update.html), so ledger edits
  to lines send the whole list.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Iterator

from ...domain import Invoice, InvoiceStatus, Line
from ...errors import SyncError
from ...ports import KEPT_CANCELLED, UNCHANGED, LedgerDocument, Unchanged, WriteResult
from ...settings import get_section
from .client import BATCH_MAX
from .mapper import (LEGACY, Stage, invoice_from_legacy, parse_datetime, party_from_company,
                     party_from_contact, stage_for_status, stages_from_status_list, status_for_stage)
from .settings import SECTION as STAGE_SECTION
from .setup import OFFLINE_CONNECTOR

if TYPE_CHECKING:
    from .platform import Bitrix24Platform

LEGACY_STATUS_ENTITY = "INVOICE_STATUS"  # crm.status.list ENTITY_ID of the old invoices' statuses
PER_BATCH = BATCH_MAX // 4  # four commands per invoice (invoice, company, contact, company's contacts)
# What a save stamps by itself, and what bridge writes back: not the invoice's content.
VOLATILE_FIELDS = frozenset({"DATE_UPDATE", "XML_ID", "DATE_STATUS", "EMP_STATUS_ID"})


def content_version(invoice: dict[str, Any]) -> str:
    """A digest of an old invoice with its rows, without what a save stamps by itself: the
    version our write-back leaves, so its echo (every update fires an event) reads as ours."""
    content = {k: v for k, v in invoice.items() if k not in VOLATILE_FIELDS}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:32]


def invoice_id(platform_id: str) -> str:
    return platform_id[len(LEGACY):]


def _not_found(error: SyncError | None) -> bool:
    # crm-invoice-get.html: a missing invoice is 400 with an empty code and "Not found".
    return error is not None and (error.code in ("NOT_FOUND", "ERROR_ARGUMENT", "http_400", "http_404", "")
                                  or "not found" in error.message.lower())


class LegacyInvoices:
    """The old-invoice reads and writes of one adapter (it keeps what it read, as the smart
    half does, so a write-back right after a read costs no second read)."""

    def __init__(self, platform: "Bitrix24Platform") -> None:
        self.platform = platform
        self.client = platform.client
        self._stages: list[Stage] | None = None
        self._read: dict[str, dict[str, Any]] = {}  # platform id -> crm.invoice.get result

    # -- statuses -----------------------------------------------------------------------
    def stages(self) -> list[Stage]:
        if self._stages is None:
            rows = self.client.call("crm.status.list", {"filter": {"ENTITY_ID": LEGACY_STATUS_ENTITY}}).result or []
            self._stages = stages_from_status_list(rows)
        return self._stages

    def status_map(self) -> dict[str, str]:
        """{STATUS_ID: InvoiceStatus value} chosen by the administrator, in increasing precedence:
        the settings page's stage mapping (which lists these statuses on a portal with old
        invoices only), ``legacy_status_map`` in the Bitrix24 settings data (the key before the
        page had a field for it) and the page's old-invoice statuses (``legacy_status_map`` of
        the stages section, shown on a portal with both kinds); a status left out is read by
        its semantics."""
        chosen = {str(k): str(v) for k, v in (self.platform.settings.get("legacy_status_map") or {}).items()}
        saved = {k: v.value for k, v in get_section(self.platform.installation, STAGE_SECTION).legacy_status_map.items()}
        return {**self.platform.stage_map, **chosen, **saved}

    # -- reads --------------------------------------------------------------------------
    def read(self, platform_ids: list[str], versions: dict[str, str]) -> dict[str, Invoice | None | Unchanged]:
        out: dict[str, Invoice | None | Unchanged] = {}
        for start in range(0, len(platform_ids), PER_BATCH):
            out.update(self._read_chunk(platform_ids[start:start + PER_BATCH], versions))
        self.platform._fill_sections([i for i in out.values() if isinstance(i, Invoice)])
        return out

    def _read_chunk(self, platform_ids: list[str], versions: dict[str, str]) -> dict[str, Invoice | None | Unchanged]:
        commands: dict[str, tuple[str, dict[str, Any]]] = {}
        for n, pid in enumerate(platform_ids):
            commands[f"i{n}"] = ("crm.invoice.get", {"id": invoice_id(pid)})
            commands[f"co{n}"] = ("crm.company.get", {"id": f"$result[i{n}][UF_COMPANY_ID]"})
            commands[f"ct{n}"] = ("crm.contact.get", {"id": f"$result[i{n}][UF_CONTACT_ID]"})
            commands[f"cp{n}"] = ("crm.company.contact.items.get", {"id": f"$result[i{n}][UF_COMPANY_ID]"})
        reply = self.client.batch(commands)
        out: dict[str, Invoice | None | Unchanged] = {}
        for n, pid in enumerate(platform_ids):
            if f"i{n}" in reply.errors:
                if _not_found(reply.errors[f"i{n}"]):
                    out[pid] = None
                    continue
                raise reply.errors[f"i{n}"]
            invoice = reply.get(f"i{n}")
            self._read[pid] = invoice
            if versions.get(pid) and content_version(invoice) == versions[pid]:
                out[pid] = UNCHANGED
                continue
            links = (reply.get(f"cp{n}") or []) if reply.ok(f"cp{n}") else []
            people = self.platform._contacts({str(link["CONTACT_ID"]) for link in links})
            party = None
            if int(invoice.get("UF_COMPANY_ID") or 0) and reply.ok(f"co{n}"):
                persons = [people[str(link["CONTACT_ID"])] for link in
                           sorted(links, key=lambda link: int(link.get("SORT") or 0)) if str(link["CONTACT_ID"]) in people]
                party = party_from_company(reply.get(f"co{n}"), persons, self.platform.member_id,
                                           invoice.get("UF_CONTACT_ID"))
            elif int(invoice.get("UF_CONTACT_ID") or 0) and reply.ok(f"ct{n}"):
                party = party_from_contact(reply.get(f"ct{n}"), self.platform.member_id)
            out[pid] = invoice_from_legacy(invoice, party, member_id=self.platform.member_id,
                                           base_url=self.platform.base_url, stages=self.stages(),
                                           stage_map=self.status_map(), language=self.platform.installation.language)
        return out

    def changed(self, since: datetime | None) -> Iterator[tuple[str, datetime | None]]:
        """Old invoices changed at or after ``since``, in id order (crm-invoice-list.html:
        filter prefixes, ``DATE_UPDATE``; rows carry no products). Paged by id, as the smart
        half (``platform.changed_invoices``): none is missed when some change meanwhile."""
        flt = {">=DATE_UPDATE": since.astimezone(timezone.utc).replace(microsecond=0).isoformat()} if since else {}
        for row in self.client.list_fast("crm.invoice.list", {"select": ["ID", "DATE_UPDATE"], "filter": flt}):
            yield f"{LEGACY}{row['ID']}", parse_datetime(row.get("DATE_UPDATE"))

    # -- writes -------------------------------------------------------------------------
    @staticmethod
    def _update(pid: str, fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        # The offline-event loop guard of the smart half (NOTES s4) holds for these events too.
        return ("crm.invoice.update", {"id": invoice_id(pid), "fields": fields, "auth_connector": OFFLINE_CONNECTOR})

    def set_status(self, pid: str, status: InvoiceStatus) -> str | None:
        """As ``Bitrix24Platform.set_invoice_status``: a cancelled invoice stays cancelled."""
        current = self._read.get(pid) or self.client.call("crm.invoice.get", {"id": invoice_id(pid)}).result
        stages, mapping = self.stages(), self.status_map()
        status_id = str(current.get("STATUS_ID") or "")
        if status_id and not status.is_cancelled and status_for_stage(status_id, stages, mapping).is_cancelled:
            return KEPT_CANCELLED
        if status_id and status_for_stage(status_id, stages, mapping) == status:
            return None  # already at a status that means this
        target = stage_for_status(status, stages, "", mapping)
        if target is not None and target != status_id:
            self.client.call(*self._update(pid, {"STATUS_ID": target}))
            self._read.pop(pid, None)
        return None

    def set_references(self, references: list[tuple[str, LedgerDocument]]) -> dict[str, WriteResult]:
        """The ledger id into ``XML_ID`` (free text, crm-invoice-fields.html), 50 a request,
        none for an invoice just read with it already there. ``version``: the invoice's
        ``content_version`` after the write, which its echo event will find unchanged."""
        commands = {pid: self._update(pid, {"XML_ID": document.ledger_id}) for pid, document in references
                    if str((self._read.get(pid) or {}).get("XML_ID") or "") != document.ledger_id}
        reply = self.client.batch_all(commands)
        results: dict[str, WriteResult] = {}
        for pid, document in references:
            if pid in reply.errors:
                results[pid] = WriteResult(ok=False, error=reply.errors[pid])
                continue
            read = self._read.get(pid)
            results[pid] = WriteResult(ok=True, version=content_version(read) if read is not None else None)
        return results

    def apply_changes(self, pid: str, invoice: Invoice, groups: set[str]) -> None:
        """Ledger edits back by field group: ``header`` (the dates; not the currency: an old
        invoice's ``CURRENCY`` is read-only, the portal's base currency, crm-invoice-fields.html)
        and ``lines`` (the whole ``PRODUCT_ROWS``: the update replaces the list,
        crm-invoice-update.html)."""
        fields: dict[str, Any] = {}
        if "header" in groups:
            fields["DATE_BILL"] = invoice.issue_date.isoformat()
            if invoice.due_date:
                fields["DATE_PAY_BEFORE"] = invoice.due_date.isoformat()
        if "lines" in groups:
            fields["PRODUCT_ROWS"] = [legacy_row(line, invoice.prices_include_tax) for line in invoice.lines]
        if fields:
            self.client.call(*self._update(pid, fields))
            self._read.pop(pid, None)


def legacy_row(line: Line, prices_include_tax: bool) -> dict[str, Any]:
    """A domain line as an old invoice's product row (``legacy_line`` read backwards):
    ``PRICE`` after discount, ``DISCOUNT_PRICE`` per unit, ``VAT_RATE`` a coefficient."""
    quantity = line.quantity or Decimal(1)
    discount = (line.discount_amount or Decimal(0)) / quantity if quantity else Decimal(0)
    row: dict[str, Any] = {"ID": 0, "PRODUCT_NAME": line.description, "QUANTITY": str(quantity),
                           "PRICE": str(line.unit_price - discount), "DISCOUNT_PRICE": str(discount),
                           "VAT_INCLUDED": "Y" if prices_include_tax else "N",
                           "MEASURE_NAME": line.unit or ""}
    if line.tax_rate is not None:
        row["VAT_RATE"] = str(line.tax_rate / 100)
    if line.product_id:
        row["PRODUCT_ID"] = int(line.product_id)
    return row

