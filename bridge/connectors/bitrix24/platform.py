"""``Bitrix24Platform``: the ``Platform`` interface of ``bridge.sync.ports`` for one portal.

Reads are batched (specs/bitrix24/NOTES.md s9): one request fetches an invoice, its product
rows, its company or contact and the company's contact list, by ``$result[...]``
references; a second fetches the contact persons. Writes of parties go 50 per request.
Stages are read per portal (``crm.category.list`` + ``crm.status.list``, NOTES s6) and
cached for the life of the adapter (one flow run).

Platform ids: ``"<id>"`` smart invoice, ``"L<id>"`` legacy invoice, ``"CO:<id>"`` company,
``"C:<id>"`` contact (see ``mapper``).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable, Iterator

from ...domain import Invoice, InvoiceStatus, Party, PartyKind, Person, Product, StockLevel
from ...errors import PermanentError
from ...models import Installation
from ...settings import get_section
from ...sync.ports import LedgerDocument, WriteResult
from . import store
from .client import BATCH_MAX, Bitrix24Client, BatchReply
from .mapper import (COMPANY, CONTACT, LEGACY, PRODUCT_ROW_OWNER, SMART_INVOICE, SYNC_FIELD_CAMEL, Stage,
                     invoice_from_item, invoice_from_legacy, parse_datetime, party_fields, party_from_company,
                     party_from_contact, party_id, person_fields, portal_url, row_from_line, split_party_id,
                     stage_for_status, stages_from_status_list, status_for_stage)
from .settings import SECTION as STAGE_SECTION
from .setup import OFFLINE_CONNECTOR

CONTACT_SELECT = ["ID", "NAME", "LAST_NAME", "SECOND_NAME", "EMAIL", "PHONE", "ADDRESS", "ADDRESS_CITY",
                  "ADDRESS_POSTAL_CODE", "ADDRESS_PROVINCE", "ADDRESS_COUNTRY_CODE"]
PER_INVOICE = 5  # commands per invoice in a read batch


def _not_found(error) -> bool:
    return error is not None and error.code in ("NOT_FOUND", "ERROR_ARGUMENT", "http_400", "http_404")


def company_people(party: Party) -> list[Person]:
    """The contacts a new company brings (the seed's import rule): its primary person (the
    ledger contact's own first and last name, with its e-mail) and every contact person,
    each once."""
    people: list[Person] = []
    if party.first_name or party.last_name:
        people.append(Person(first_name=party.first_name, last_name=party.last_name, email=party.email))
    for person in party.contact_persons:
        if person.full_name and all(person.full_name.casefold() != p.full_name.casefold() for p in people):
            people.append(person)
    return people


class Bitrix24Platform:
    kind = "bitrix24"

    def __init__(self, installation: Installation, client: Bitrix24Client | None = None) -> None:
        self.installation = installation
        self.client = client or store.client_for(installation)
        self.member_id = installation.account_id
        self.settings = store.settings_of(installation)
        endpoints = installation.endpoints or {}
        self.sync_key = (endpoints.get("setup") or {}).get("sync_key") or SYNC_FIELD_CAMEL
        self.base_url = portal_url(endpoints.get("client_endpoint") or f"https://{installation.domain}/rest/")
        self._stages: dict[str, list[Stage]] = {}

    @classmethod
    def build(cls, installation: Installation, connection: Any = None) -> "Bitrix24Platform":
        return cls(installation)

    @property
    def stage_map(self) -> dict[str, str]:
        """{stage id: InvoiceStatus value}, in increasing precedence: the older
        ``data["bitrix24"]["stage_map"]``, the settings page's stage mapping (section
        ``bitrix24_stages``), and the invoice settings' "sent", "paid" and "cancelled"
        stages; where none is set, stage semantics decide (mapper)."""
        mapping = dict(self.settings.get("stage_map") or {})
        saved = get_section(self.installation, STAGE_SECTION).stage_map
        if saved:
            mapping = {stage: status.value for stage, status in saved.items()}
        chosen = get_section(self.installation, "invoices")
        for stage, status in ((chosen.stage_sent, InvoiceStatus.AUTHORISED), (chosen.stage_paid, InvoiceStatus.PAID),
                              (chosen.stage_failed, InvoiceStatus.VOIDED)):
            if stage:
                mapping = {k: v for k, v in mapping.items() if v != status.value}
                mapping[stage] = status.value
        return mapping

    # ---------------------------------------------------------------------------------
    # Stages
    # ---------------------------------------------------------------------------------

    def stages(self) -> list[Stage]:
        """Every smart-invoice stage of every pipeline (NOTES s6: categoryId differs per portal)."""
        if "SI" not in self._stages:
            categories = self.client.call("crm.category.list", {"entityTypeId": SMART_INVOICE}).result
            ids = [str(c["id"]) for c in (categories or {}).get("categories") or []]
            reply = self.client.batch_all({f"c{cid}": ("crm.status.list", {
                "filter": {"ENTITY_ID": f"SMART_INVOICE_STAGE_{cid}"}, "order": {"SORT": "ASC"}}) for cid in ids})
            reply.raise_first()
            rows = [dict(r, CATEGORY_ID=r.get("CATEGORY_ID") or cid) for cid in ids for r in reply.get(f"c{cid}") or []]
            self._stages["SI"] = stages_from_status_list(rows)
        return self._stages["SI"]

    def tax_rates(self) -> list:
        """The portal's active VAT rates (crm.vat.list), for the settings' tax mapping."""
        from .vat import read_rates

        return read_rates(self.client)

    def legacy_stages(self) -> list[Stage]:
        if "L" not in self._stages:
            rows = self.client.call("crm.status.list", {"filter": {"ENTITY_ID": "INVOICE_STATUS"}}).result or []
            self._stages["L"] = stages_from_status_list(rows)
        return self._stages["L"]

    # ---------------------------------------------------------------------------------
    # Invoices
    # ---------------------------------------------------------------------------------

    def get_invoice(self, platform_id: str) -> Invoice | None:
        return self.get_invoices([platform_id])[platform_id]

    def get_invoices(self, platform_ids: list[str]) -> dict[str, Invoice | None]:
        out: dict[str, Invoice | None] = {}
        smart = [p for p in platform_ids if not p.startswith(LEGACY)]
        per_batch = BATCH_MAX // PER_INVOICE
        for start in range(0, len(smart), per_batch):
            out.update(self._read_smart(smart[start:start + per_batch]))
        for platform_id in platform_ids:
            if platform_id.startswith(LEGACY):
                out[platform_id] = self._read_legacy(platform_id)
        return {p: out.get(p) for p in platform_ids}

    def _read_smart(self, ids: list[str]) -> dict[str, Invoice | None]:
        commands: dict[str, tuple[str, dict[str, Any]]] = {}
        for n, invoice_id in enumerate(ids):
            ref = f"$result[i{n}][item]"
            commands[f"i{n}"] = ("crm.item.get", {"entityTypeId": SMART_INVOICE, "id": invoice_id})
            commands[f"r{n}"] = ("crm.item.productrow.list",
                                 {"filter": {"=ownerType": PRODUCT_ROW_OWNER, "=ownerId": invoice_id}})
            # NOTES s9: later commands may use earlier results; a 0 id just fails alone.
            commands[f"co{n}"] = ("crm.company.get", {"id": f"{ref}[companyId]"})
            commands[f"ct{n}"] = ("crm.contact.get", {"id": f"{ref}[contactId]"})
            commands[f"cp{n}"] = ("crm.company.contact.items.get", {"id": f"{ref}[companyId]"})
        reply = self.client.batch(commands)
        people = self._people(reply, len(ids))
        out: dict[str, Invoice | None] = {}
        for n, invoice_id in enumerate(ids):
            error = reply.errors.get(f"i{n}")
            if error is not None:
                if _not_found(error):
                    out[invoice_id] = None  # deleted
                    continue
                raise error
            item = reply.get(f"i{n}")["item"]
            rows = list((reply.get(f"r{n}") or {}).get("productRows") or [])
            if f"r{n}" in reply.nexts:  # more than 50 rows: page the rest
                rows += list(self.client.list_all("crm.item.productrow.list", {
                    "filter": {"=ownerType": PRODUCT_ROW_OWNER, "=ownerId": invoice_id}},
                    key="productRows"))[len(rows):]
            out[invoice_id] = invoice_from_item(
                item, rows, self._party_of(item, reply, n, people), member_id=self.member_id,
                base_url=self.base_url, stages=self.stages(), stage_map=self.stage_map, sync_key=self.sync_key,
                language=self.installation.language)
        self._fill_sections([invoice for invoice in out.values() if invoice is not None])
        return out

    def _fill_sections(self, invoices: list[Invoice]) -> None:
        """Product rows carry only the product id; the per-section sales account (settings
        ``mapping.sales_account_by_section``) needs the product's catalogue section, read
        for every product of the batch in one more request (``catalog.product.get``, which
        unlike ``catalog.product.list`` needs no catalogue id). A product gone from the
        catalogue keeps no section and falls back to the default account."""
        lines = [line for invoice in invoices for line in invoice.lines if line.product_id]
        wanted = sorted({line.product_id for line in lines})
        sections: dict[str, str] = {}
        for start in range(0, len(wanted), BATCH_MAX):
            reply = self.client.batch({f"p{pid}": ("catalog.product.get", {"id": pid})
                                       for pid in wanted[start:start + BATCH_MAX]})
            for pid in wanted[start:start + BATCH_MAX]:
                product = (reply.get(f"p{pid}") or {}).get("product") if reply.ok(f"p{pid}") else None
                if product and product.get("iblockSectionId"):
                    sections[pid] = str(product["iblockSectionId"])
        for line in lines:
            line.product_section_id = sections.get(line.product_id)

    def _people(self, reply: BatchReply, count: int) -> dict[str, dict[str, Any]]:
        """Contact persons of the companies in ``reply``, in one more request."""
        wanted = {str(link["CONTACT_ID"]) for n in range(count) if reply.ok(f"cp{n}")
                  for link in reply.get(f"cp{n}") or []}
        if not wanted:
            return {}
        rows = self.client.list_all("crm.contact.list", {"filter": {"@ID": sorted(wanted)}, "select": CONTACT_SELECT})
        return {str(r["ID"]): r for r in rows}

    def _party_of(self, item: dict[str, Any], reply: BatchReply, n: int,
                  people: dict[str, dict[str, Any]]) -> Party | None:
        if int(item.get("companyId") or 0) and reply.ok(f"co{n}"):
            links = sorted(reply.get(f"cp{n}") or [], key=lambda link: int(link.get("SORT") or 0))
            contacts = [people[str(link["CONTACT_ID"])] for link in links if str(link["CONTACT_ID"]) in people]
            return party_from_company(reply.get(f"co{n}"), contacts, self.member_id, item.get("contactId"))
        if int(item.get("contactId") or 0) and reply.ok(f"ct{n}"):
            return party_from_contact(reply.get(f"ct{n}"), self.member_id)
        return None

    def _read_legacy(self, platform_id: str) -> Invoice | None:
        invoice_id = platform_id[len(LEGACY):]
        reply = self.client.batch({
            "i": ("crm.invoice.get", {"id": invoice_id}),
            "co": ("crm.company.get", {"id": "$result[i][UF_COMPANY_ID]"}),
            "ct": ("crm.contact.get", {"id": "$result[i][UF_CONTACT_ID]"}),
            "cp": ("crm.company.contact.items.get", {"id": "$result[i][UF_COMPANY_ID]"}),
        })
        if "i" in reply.errors:
            if _not_found(reply.errors["i"]):
                return None
            raise reply.errors["i"]
        invoice = reply.get("i")
        people = self._people(BatchReply({"cp0": reply.get("cp")} if reply.ok("cp") else {}, {}, {}, {}), 1)
        party = None
        if int(invoice.get("UF_COMPANY_ID") or 0) and reply.ok("co"):
            party = party_from_company(reply.get("co"), list(people.values()), self.member_id, invoice.get("UF_CONTACT_ID"))
        elif int(invoice.get("UF_CONTACT_ID") or 0) and reply.ok("ct"):
            party = party_from_contact(reply.get("ct"), self.member_id)
        return invoice_from_legacy(invoice, party, member_id=self.member_id, base_url=self.base_url,
                                   stages=self.legacy_stages(), stage_map=self.stage_map,
                                   language=self.installation.language)

    def changed_invoices(self, since: datetime | None) -> Iterator[tuple[str, datetime | None]]:
        """Smart invoices changed at or after ``since``, oldest first (NOTES s6 updatedTime)."""
        flt = {">=updatedTime": since.astimezone(timezone.utc).replace(microsecond=0).isoformat()} if since else {}
        for row in self.client.list_all("crm.item.list", {
                "entityTypeId": SMART_INVOICE, "select": ["id", "updatedTime"], "filter": flt,
                "order": {"updatedTime": "ASC", "id": "ASC"}}, key="items"):
            yield str(row["id"]), parse_datetime(row.get("updatedTime"))

    def _item(self, platform_id: str, select: list[str]) -> dict[str, Any]:
        if platform_id.startswith(LEGACY):
            raise PermanentError("Old Bitrix24 invoices are read-only for bridge.", code="legacy_read_only",
                                 fix="Use the new (smart) invoices in Bitrix24 CRM.")
        return self.client.call("crm.item.get", {"entityTypeId": SMART_INVOICE, "id": platform_id,
                                                 "select": select}).result["item"]

    def _update(self, platform_id: str, fields: dict[str, Any]) -> None:
        # NOTES s4 loop guard: our own write carries the auth_connector the offline events were
        # bound with, so Bitrix24 does not queue it back to us; no-op saves are skipped (s6).
        self.client.call("crm.item.update", {"entityTypeId": SMART_INVOICE, "id": platform_id, "fields": fields,
                                             "auth_connector": OFFLINE_CONNECTOR})

    def set_invoice_status(self, platform_id: str, status: InvoiceStatus) -> None:
        """Move the invoice to the stage for ``status`` (settings ``stage_map`` or stage semantics)."""
        item = self._item(platform_id, ["id", "categoryId", "stageId"])
        stages, mapping = self.stages(), self.stage_map
        stage = stage_for_status(status, stages, str(item.get("categoryId")), mapping)
        if stage is None:
            return  # no stage stands for this status in the invoice's pipeline
        if item.get("stageId") and status_for_stage(str(item["stageId"]), stages, mapping) == status:
            return  # already at a stage that means this (e.g. "Awaiting payment" for sent)
        if stage != item.get("stageId"):
            self._update(platform_id, {"stageId": stage})

    def set_ledger_reference(self, platform_id: str, document: LedgerDocument) -> None:
        """Keep the ledger's id on the invoice: ``xmlId`` by default (NOTES s6: "can hold the Xero
        InvoiceID"), or a line in ``comments`` (setting ``ledger_reference_field``)."""
        where = self.settings.get("ledger_reference_field") or "xmlId"
        if where == "comments":
            item = self._item(platform_id, ["id", "comments"])
            line = f"Xero: {document.number} {document.url}".strip()
            current = str(item.get("comments") or "")
            if line not in current:
                self._update(platform_id, {"comments": (current + "\n" + line).strip()})
            return
        self._update(platform_id, {"xmlId": document.ledger_id})

    def apply_invoice_changes(self, platform_id: str, invoice: Invoice, groups: set[str]) -> None:
        """Flow-back of ledger edits by field group (bridge/sync/invoice_flowback.py):
        ``header`` (dates, reference, currency) and ``lines`` (the product rows, replaced
        whole, as Bitrix24's productrow.set does)."""
        if platform_id.startswith(LEGACY):
            raise PermanentError("Legacy invoices are read-only for bridge: the ledger's edit was not copied.",
                                 fix="Make the same edit in Bitrix24.")
        if "header" in groups:
            fields: dict[str, Any] = {"begindate": invoice.issue_date.isoformat(), "title": invoice.reference,
                                      "currencyId": invoice.currency}
            if invoice.due_date:
                fields["closedate"] = invoice.due_date.isoformat()
            self._update(platform_id, fields)
        if "lines" in groups:
            rows = [row_from_line(line, invoice.prices_include_tax) for line in invoice.lines]
            self.client.call("crm.item.productrow.set", {"ownerType": PRODUCT_ROW_OWNER, "ownerId": int(platform_id),
                                                         "productRows": rows})

    # ---------------------------------------------------------------------------------
    # Parties (Xero import, NOTES s8)
    # ---------------------------------------------------------------------------------

    def find_party(self, ledger_kind: str, ledger_id: str) -> str | None:
        flt = {"ORIGINATOR_ID": ledger_kind.upper(), "ORIGIN_ID": ledger_id}
        reply = self.client.batch({
            "co": ("crm.company.list", {"filter": flt, "select": ["ID"]}),
            "ct": ("crm.contact.list", {"filter": flt, "select": ["ID"]}),
        })
        reply.raise_first()
        for key, kind in (("co", COMPANY), ("ct", CONTACT)):
            rows = reply.get(key) or []
            if rows:
                return self._party_key(party_id(kind, rows[0]["ID"]))
        return None

    def _party_key(self, platform_id: str) -> str:
        """Parties are named by their domain key (``b24:<member>:CO:12``) everywhere in the
        flows, so export and import links agree."""
        return f"b24:{self.installation.account_id}:{platform_id}"

    def get_party(self, platform_id: str) -> Party | None:
        """A company (with its contact persons) or a contact, as an invoice would carry it;
        None when it was deleted."""
        kind, entity_id = split_party_id(platform_id)
        if kind == COMPANY:
            reply = self.client.batch({"co": ("crm.company.get", {"id": entity_id}),
                                       "cp": ("crm.company.contact.items.get", {"id": entity_id})})
            if "co" in reply.errors:
                if _not_found(reply.errors["co"]):
                    return None
                raise reply.errors["co"]
            people: dict[str, dict[str, Any]] = {}
            wanted = sorted(str(link["CONTACT_ID"]) for link in reply.get("cp") or [])
            if wanted:
                rows = self.client.list_all("crm.contact.list", {"filter": {"@ID": wanted},
                                                                 "select": CONTACT_SELECT})
                people = {str(r["ID"]): r for r in rows}
            links = sorted(reply.get("cp") or [], key=lambda link: int(link.get("SORT") or 0))
            contacts = [people[str(link["CONTACT_ID"])] for link in links if str(link["CONTACT_ID"]) in people]
            return party_from_company(reply.get("co"), contacts, self.member_id)
        reply = self.client.batch({"ct": ("crm.contact.get", {"id": entity_id})})
        if "ct" in reply.errors:
            if _not_found(reply.errors["ct"]):
                return None
            raise reply.errors["ct"]
        return party_from_contact(reply.get("ct"), self.member_id)

    def save_party(self, party: Party, platform_id: str | None, origin: tuple[str, str]) -> str:
        return self.save_parties([(party, platform_id, origin)])[0]

    def save_parties(self, parties: list[tuple[Party, str | None, tuple[str, str]]]) -> list[str]:
        """Create or update, 50 per request; new companies get their contact persons as
        contacts linked to them. Returns the platform ids in order."""
        existing = self._existing(parties)
        commands: dict[str, tuple[str, dict[str, Any]]] = {}
        for n, (party, platform_id, origin) in enumerate(parties):
            entity = "crm.company" if party.kind is PartyKind.COMPANY else "crm.contact"
            if platform_id:
                _, entity_id = split_party_id(platform_id)
                commands[f"s{n}"] = (f"{entity}.update", {"id": entity_id, "fields": party_fields(
                    party, origin, existing.get(platform_id) or {})})
            else:
                commands[f"s{n}"] = (f"{entity}.add", {"fields": party_fields(party, origin)})
        reply = self.client.batch_all(commands)
        ids: list[str] = []
        people: dict[str, tuple[str, dict[str, Any]]] = {}
        for n, (party, platform_id, origin) in enumerate(parties):
            if f"s{n}" in reply.errors:
                raise reply.errors[f"s{n}"]
            if platform_id:
                ids.append(self._party_key(party_id(*split_party_id(platform_id))))
                continue
            new_id = int(reply.get(f"s{n}"))
            kind = COMPANY if party.kind is PartyKind.COMPANY else CONTACT
            ids.append(self._party_key(party_id(kind, new_id)))
            if kind == COMPANY:
                for m, person in enumerate(company_people(party)):
                    people[f"p{n}_{m}"] = ("crm.contact.add", {"fields": person_fields(person, new_id, origin)})
        if people:
            self.client.batch_all(people).raise_first()
        return ids

    def _existing(self, parties: list[tuple[Party, str | None, tuple[str, str]]]) -> dict[str, dict[str, Any]]:
        """Current multi-fields of the records to update, so an update adds no duplicates."""
        commands = {}
        for party, platform_id, _ in parties:
            if platform_id:
                kind, entity_id = split_party_id(platform_id)
                entity = "crm.company" if kind == COMPANY else "crm.contact"
                commands[platform_id] = (f"{entity}.get", {"id": entity_id})
        if not commands:
            return {}
        reply = self.client.batch_all(commands)
        reply.raise_first()
        return dict(reply.results)

    # ---------------------------------------------------------------------------------
    # Products and stock: Bitrix24's catalogue is not synced by bridge
    # ---------------------------------------------------------------------------------

    def changed_products(self, since: datetime | None) -> Iterator[Product]:
        return iter(())

    def set_stock(self, levels: Iterable[StockLevel]) -> list[WriteResult]:
        error = PermanentError("bridge does not keep stock in Bitrix24.", code="not_supported")
        return [WriteResult(ok=False, error=error) for _ in levels]
