"""``Bitrix24Platform``: the ``Platform`` interface of ``bridge.ports`` for one portal.

Reads are batched (https://apidocs.bitrix24.com/settings/how-to-call-rest-api/batch.html): one
request fetches an invoice, its product rows, its company or contact and the company's contact
list, by ``$result[...]`` references; a second fetches the contact persons. Writes of parties go
50 per request.
Stages are read per portal (``crm.category.list`` + ``crm.status.list``, NOTES s6) and
cached for the life of the adapter (one flow run).

Platform ids: ``"<id>"`` smart invoice, ``"L<id>"`` legacy invoice, ``"CO:<id>"`` company,
``"C:<id>"`` contact (see ``mapper``).
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator

from flask import current_app

from ...domain import COMPANY_THEME, Invoice, InvoiceStatus, Party, PartyKind, Person, Product, StockLevel
from ...errors import PermanentError, SyncError
from ...messages import N_
from ...models import Installation
from ...settings import get_section
from ...vault import vault_for_app
from ...ports import KEPT_CANCELLED, UNCHANGED, LedgerDocument, Platform, Unchanged, WriteResult, ledger_name
from . import company_theme, online_link, store, timeline
from .client import BATCH_MAX, Bitrix24Client
from .mapper import (COMPANY, CONTACT, LEGACY, PRODUCT_ROW_OWNER, SMART_INVOICE, SYNC_FIELD_CAMEL, Stage,
                     invoice_from_item, parse_datetime, party_fields, party_from_company,
                     party_from_contact, party_id, person_fields, portal_url, row_from_line, split_party_id,
                     stage_for_status, stages_from_status_list, status_for_stage)
from .legacy import LegacyInvoices
from .scopes import is_scope_error, missing_scope_error
from .settings import SECTION as STAGE_SECTION
from .setup import OFFLINE_CONNECTOR, retitle
from .vat import read_rates

CONTACT_SELECT = ["ID", "NAME", "LAST_NAME", "SECOND_NAME", "EMAIL", "PHONE", "ADDRESS", "ADDRESS_CITY",
                  "ADDRESS_POSTAL_CODE", "ADDRESS_PROVINCE", "ADDRESS_COUNTRY_CODE"]
# Multi-fields and user fields come back only when named (NOTES s8): the company's theme too.
COMPANY_SELECT = ["*", "EMAIL", "PHONE", company_theme.FIELD]
STAGE_CACHE_SECONDS = 600
log = logging.getLogger(__name__)
SECTION_CACHE_SECONDS = 600  # products' catalogue sections (``_fill_sections``)


def _stage_cache() -> dict[str, tuple[float, list[Stage]]]:
    """Per app (so per process and per test app): member_id -> (read at, stages)."""
    return current_app.extensions.setdefault("bitrix24_stage_cache", {})


def _not_found(error) -> bool:
    return error is not None and error.code in ("NOT_FOUND", "ERROR_ARGUMENT", "http_400", "http_404")


# Fields a save changes by itself, and the one bridge writes back: not the invoice's content.
VOLATILE_FIELDS = frozenset({"xmlId", "updatedTime", "updatedBy", "movedTime", "movedBy", "lastActivityTime",
                             "lastActivityBy", "lastCommunicationTime"})


def content_version(item: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """A digest of an invoice and its product rows, without what a save stamps by itself.

    Not ``updatedTime``: it has whole seconds, so a user's edit in the same second as our
    write-back would look like our own and be lost. This changes with any edit, whenever."""
    content = {k: v for k, v in item.items() if k not in VOLATILE_FIELDS}
    ordered = sorted(rows, key=lambda r: (int(r.get("sort") or 0), int(r.get("id") or 0)))
    return hashlib.sha256(json.dumps([content, ordered], sort_keys=True, default=str).encode()).hexdigest()[:32]


# A lone invoice's customer, read in the same batch as the invoice by ``$result`` references
# (NOTES s9: "list results: $result[key][0][ID]"): its company, the company's contact links
# and up to PERSON_SLOTS of their persons, or its contact. Where a company has more persons,
# or a command failed, the usual second read follows (``_customers``).
PERSON_SLOTS = 10
_FIRST = "$result[items][items][0]"
LONE_CUSTOMER: dict[str, tuple[str, dict[str, Any]]] = {
    "co": ("crm.company.list", {"filter": {"@ID": [f"{_FIRST}[companyId]"]}, "select": COMPANY_SELECT}),
    "cp": ("crm.company.contact.items.get", {"id": f"{_FIRST}[companyId]"}),
    "ct": ("crm.contact.list", {"filter": {"@ID": [f"{_FIRST}[contactId]"]}, "select": CONTACT_SELECT}),
    "pp": ("crm.contact.list", {"filter": {"@ID": [f"$result[cp][{n}][CONTACT_ID]" for n in range(PERSON_SLOTS)]},
                                "select": CONTACT_SELECT}),
}


def _lone_customer(reply: Any, items: dict[str, dict[str, Any]]) -> tuple[dict, dict, dict, dict] | None:
    """The customer read with a lone invoice (``LONE_CUSTOMER``), as ``_customers`` gives it;
    None when that read does not cover it (the second read is made then)."""
    if not items:
        return {}, {}, {}, {}
    (item,) = items.values()
    company_id, contact_id = str(item.get("companyId") or 0), str(item.get("contactId") or 0)
    if company_id != "0":
        companies = {str(r["ID"]): r for r in reply.get("co") or []} if reply.ok("co") else {}
        found = reply.get("cp") if reply.ok("cp") else None
        if company_id not in companies or not isinstance(found, list) or len(found) > PERSON_SLOTS or \
                (found and not reply.ok("pp")):
            return None
        links = {company_id: sorted(found, key=lambda link: int(link.get("SORT") or 0))}
        people = {str(r["ID"]): r for r in (reply.get("pp") or [])} if found else {}
        return companies, {}, links, people
    if contact_id != "0":
        contacts = {str(r["ID"]): r for r in reply.get("ct") or []} if reply.ok("ct") else {}
        return ({}, contacts, {}, {}) if contact_id in contacts else None
    return {}, {}, {}, {}


def _written_at(reply: Any) -> dict[str, int] | None:
    """``{"written_at": <epoch second>}``: when Bitrix24 stamped our update (its ``updatedTime``,
    whole seconds, the clock its events' ``ts`` come from), so the event this update causes is
    known as our echo without a read (``inbox.is_echo``). None when the reply does not say."""
    stamped = parse_datetime(((reply or {}).get("item") or {}).get("updatedTime")) if isinstance(reply, dict) else None
    return {"written_at": int(stamped.timestamp())} if stamped is not None else None


def _ancestry(section_id: str | None, parents: dict[str, str]) -> tuple[str, ...]:
    """The section and its parents, nearest first (a cycle or an unknown parent stops it)."""
    chain: list[str] = []
    while section_id and section_id not in chain:
        chain.append(section_id)
        section_id = parents.get(section_id) or None
    return tuple(chain)


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


class Bitrix24Platform(Platform, kind="bitrix24"):
    display_name = "Bitrix24"
    follows_sent = True  # the invoice's "sent" stage

    def __init__(self, installation: Installation, client: Bitrix24Client | None = None) -> None:
        self.installation = installation
        self.client = client or store.client_for(installation)
        self.member_id = installation.account_id
        self.settings = store.settings_of(installation)
        endpoints = installation.endpoints or {}
        self.sync_key = (endpoints.get("setup") or {}).get("sync_key") or SYNC_FIELD_CAMEL
        self.base_url = portal_url(endpoints.get("client_endpoint") or f"https://{installation.domain}/rest/")
        self._stages: dict[str, list[Stage]] = {}
        self._read_items: dict[str, dict[str, Any]] = {}  # invoices as this adapter last read them
        self._read_rows: dict[str, list[dict[str, Any]]] = {}  # and their product rows
        # The contacts ``save_parties`` made for a new company's people: {company key: [(person key,
        # person)]}, so an import links each as a contact person of the ledger company (``party_person``).
        self.people_created: dict[str, list[tuple[str, Person]]] = {}
        self.legacy = LegacyInvoices(self)  # old invoices (crm.invoice.*), ids ``L<id>``

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

    @property
    def read_stage_map(self) -> dict[str, str]:
        """``stage_map`` as invoices are read: the "refunded" stage of the settings means
        cancelled too (a paid invoice moved there is credited, ``invoice_cancel``). Not used to
        move an invoice: a void in the ledger still goes to the failure stage."""
        refunded = get_section(self.installation, "invoices").stage_refunded
        return {**self.stage_map, refunded: InvoiceStatus.VOIDED.value} if refunded else self.stage_map

    # ---------------------------------------------------------------------------------
    # Stages
    # ---------------------------------------------------------------------------------

    def stages(self, *, fresh: bool = False, known: Iterable[str] = ()) -> list[Stage]:
        """Every smart-invoice stage of every pipeline (NOTES s6: categoryId differs per portal).

        Stages change rarely and cost two requests, so they are kept per portal for
        ``STAGE_CACHE_SECONDS`` across flow runs; ``known`` (the stage ids about to be
        interpreted) re-reads them at once when one is missing, e.g. a stage added a minute
        ago, and the settings page asks for ``fresh`` ones. A portal with old invoices only
        has the old invoices' statuses instead (``legacy.py``)."""
        if not ((self.installation.endpoints or {}).get("setup") or {}).get("smart_invoices", True):
            return self.legacy.stages()
        if "SI" not in self._stages:
            cached = _stage_cache().get(self.member_id)
            if cached and not fresh and time.monotonic() - cached[0] < STAGE_CACHE_SECONDS:
                self._stages["SI"] = cached[1]
            else:
                self._stages["SI"] = self._read_stages()
        if set(known) - {stage.id for stage in self._stages["SI"]}:
            self._stages["SI"] = self._read_stages()
        return self._stages["SI"]

    def _read_stages(self) -> list[Stage]:
        categories = self.client.call("crm.category.list", {"entityTypeId": SMART_INVOICE}).result
        ids = [str(c["id"]) for c in (categories or {}).get("categories") or []]
        reply = self.client.batch_all({f"c{cid}": ("crm.status.list", {
            "filter": {"ENTITY_ID": f"SMART_INVOICE_STAGE_{cid}"}, "order": {"SORT": "ASC"}}) for cid in ids})
        reply.raise_first()
        rows = [dict(r, CATEGORY_ID=r.get("CATEGORY_ID") or cid) for cid in ids for r in reply.get(f"c{cid}") or []]
        stages = stages_from_status_list(rows)
        _stage_cache()[self.member_id] = (time.monotonic(), stages)
        return stages

    def tax_rates(self) -> list:
        """The portal's active VAT rates (crm.vat.list), for the settings' tax mapping."""
        return read_rates(self.client)

    def legacy_stages(self) -> list[Stage]:
        return self.legacy.stages()

    # ---------------------------------------------------------------------------------
    # Invoices
    # ---------------------------------------------------------------------------------

    def get_invoice(self, platform_id: str) -> Invoice | None:
        return self.get_invoices([platform_id])[platform_id]

    def get_invoices(self, platform_ids: list[str]) -> dict[str, Invoice | None]:
        return self.read_invoices(platform_ids, {})  # type: ignore[return-value]

    def read_invoices(self, platform_ids: list[str], versions: dict[str, str]) -> dict[str, Invoice | None | Unchanged]:
        """``get_invoices``, except that an invoice whose ``content_version`` is still the one
        in ``versions`` (what our own write-back left) comes back as UNCHANGED, and the first
        request is the only one spent on it: the event for our write-back costs one request
        per 49 invoices instead of two or three."""
        out: dict[str, Invoice | None | Unchanged] = {}
        smart = [p for p in platform_ids if not p.startswith(LEGACY)]
        per_read = BATCH_MAX - 1  # one list command beside one command per invoice
        for start in range(0, len(smart), per_read):
            out.update(self._read_smart(smart[start:start + per_read], versions))
        out.update(self.legacy.read([p for p in platform_ids if p.startswith(LEGACY)], versions))
        return {p: out.get(p) for p in platform_ids}

    def _read_smart(self, ids: list[str], versions: dict[str, str]) -> dict[str, Invoice | None | Unchanged]:
        """Up to 49 invoices in two or three requests (one, when all are UNCHANGED, and one
        for an invoice that arrives alone):

        1. one ``crm.item.list`` by ``@id`` for the invoices and one
           ``crm.item.productrow.list`` per invoice (the docs require one owner per call);
           for a lone invoice also its customer, by ``$result`` references (``_lone_customer``);
        2. the companies, and the contacts of invoices without a company (one ``@ID`` list
           each), and each company's contact links (one command per company);
        3. the contact persons (one ``@ID`` list) and the products' catalogue sections.
        """
        if len(ids) >= BATCH_MAX:
            raise ValueError("one list command and one rows command per invoice must fit a Bitrix24 batch")
        commands: dict[str, tuple[str, dict[str, Any]]] = {"items": ("crm.item.list", {
            "entityTypeId": SMART_INVOICE, "filter": {"@id": [int(i) for i in ids]}, "select": ["*"]})}
        commands.update({f"r{invoice_id}": ("crm.item.productrow.list", {
            "filter": {"=ownerType": PRODUCT_ROW_OWNER, "=ownerId": invoice_id}}) for invoice_id in ids})
        if len(ids) == 1:
            commands.update(LONE_CUSTOMER)
        reply = self.client.batch(commands)
        if "items" in reply.errors:
            raise reply.errors["items"]
        items = {str(item["id"]): item for item in (reply.get("items") or {}).get("items") or []}
        self._read_items.update(items)
        rows: dict[str, list[dict[str, Any]]] = {}
        for pid in items:
            if f"r{pid}" in reply.errors:
                raise reply.errors[f"r{pid}"]
            rows[pid] = list((reply.get(f"r{pid}") or {}).get("productRows") or [])
            if f"r{pid}" in reply.nexts:  # more than 50 rows: page the rest
                rows[pid] = list(self.client.list_all("crm.item.productrow.list", {
                    "filter": {"=ownerType": PRODUCT_ROW_OWNER, "=ownerId": pid}}, key="productRows"))
        unchanged = {pid for pid, item in items.items()
                     if versions.get(pid) and content_version(item, rows[pid]) == versions[pid]}
        items = {pid: item for pid, item in items.items() if pid not in unchanged}

        customers = _lone_customer(reply, items) if len(ids) == 1 else None
        company_rows, contact_rows, links, people = customers or self._customers(items)

        stages = self.stages(known={str(i["stageId"]) for i in items.values() if i.get("stageId")}) if items else []
        out: dict[str, Invoice | None | Unchanged] = {}
        for invoice_id in ids:
            if str(invoice_id) in unchanged:
                out[invoice_id] = UNCHANGED
                continue
            item = items.get(str(invoice_id))
            if item is None:
                out[invoice_id] = None  # deleted
                continue
            product_rows = rows[str(invoice_id)]
            self._read_rows[str(invoice_id)] = product_rows
            out[invoice_id] = invoice_from_item(
                item, product_rows, self._party_of(item, company_rows, contact_rows, links, people),
                member_id=self.member_id, base_url=self.base_url, stages=stages, stage_map=self.read_stage_map,
                sync_key=self.sync_key, language=self.installation.language)
            theme = company_theme.chosen(company_rows.get(str(item.get("companyId") or 0)) or {})
            if theme:
                out[invoice_id].fields[COMPANY_THEME] = theme
        self._fill_sections([invoice for invoice in out.values() if isinstance(invoice, Invoice)])
        return out

    def _section_memo(self) -> dict[str, Any]:
        """This portal's products' sections and its section tree as read within the last
        ``SECTION_CACHE_SECONDS`` (per app, as the stages)."""
        cache = current_app.extensions.setdefault("bitrix24_section_cache", {})
        memo = cache.get(self.member_id)
        if memo is None or time.monotonic() - memo["at"] >= SECTION_CACHE_SECONDS:
            memo = cache[self.member_id] = {"at": time.monotonic(), "sections": {}, "parents": {}, "tree": False}
        return memo

    def _customers(self, items: dict[str, dict[str, Any]]) -> tuple[dict, dict, dict, dict]:
        """The invoices' customers: companies, contacts of invoices without a company, each
        company's contact links (one batch), then the contact persons (``_contacts``)."""
        companies = sorted({int(i.get("companyId") or 0) for i in items.values()} - {0})
        contacts = sorted({int(i.get("contactId") or 0) for i in items.values() if not int(i.get("companyId") or 0)}
                          - {0})
        second: dict[str, tuple[str, dict[str, Any]]] = {}
        if companies:
            second["co"] = ("crm.company.list", {"filter": {"@ID": companies}, "select": COMPANY_SELECT})
            second.update({f"cp{cid}": ("crm.company.contact.items.get", {"id": cid}) for cid in companies})
        if contacts:
            second["ct"] = ("crm.contact.list", {"filter": {"@ID": contacts}, "select": CONTACT_SELECT})
        more = self.client.batch_all(second)
        for key in ("co", "ct"):
            if key in more.errors:
                raise more.errors[key]
        company_rows = {str(r["ID"]): r for r in more.get("co") or []}
        contact_rows = {str(r["ID"]): r for r in more.get("ct") or []}
        links = {str(cid): sorted(more.get(f"cp{cid}") or [], key=lambda link: int(link.get("SORT") or 0))
                 for cid in companies if more.ok(f"cp{cid}")}
        people = self._contacts({str(link["CONTACT_ID"]) for found in links.values() for link in found})
        return company_rows, contact_rows, links, people

    def _fill_sections(self, invoices: list[Invoice]) -> None:
        """Product rows carry only the product id; the per-section sales account (settings
        ``mapping.sales_account_by_section``) needs the product's catalogue section and the
        sections above it (an account set for "Services" covers "Services > Training").
        One more request reads every product of the batch (``catalog.product.get``, which
        unlike ``catalog.product.list`` needs no catalogue id) and, by reference to the first
        product's catalogue, that catalogue's section tree. A product gone from the
        catalogue keeps no section and falls back to the default account.

        Both are kept per portal for ``SECTION_CACHE_SECONDS`` (``_section_memo``): an invoice
        whose products were read in that window costs no request (an amortised read, like
        the stages); a product moved to another section meanwhile gets its new account when
        the window ends."""
        lines = [line for invoice in invoices for line in invoice.lines if line.product_id]
        memo = self._section_memo()
        sections: dict[str, str | None] = memo["sections"]
        parents: dict[str, str] = memo["parents"]
        wanted = sorted({line.product_id for line in lines} - set(sections))
        for start in range(0, len(wanted), BATCH_MAX - 1):
            chunk = wanted[start:start + BATCH_MAX - 1]
            commands = {f"p{pid}": ("catalog.product.get", {"id": pid}) for pid in chunk}
            if not memo["tree"]:
                commands["tree"] = ("catalog.section.list", {
                    "filter": {"iblockId": f"$result[p{chunk[0]}][product][iblockId]"},
                    "select": ["id", "iblockSectionId"], "order": {"id": "ASC"}})
            reply = self.client.batch(commands)
            if any(is_scope_error(error) for error in reply.errors.values()):
                # Never the default account in silence: the record names the missing scope.
                raise missing_scope_error("catalog")
            for pid in chunk:
                product = (reply.get(f"p{pid}") or {}).get("product") if reply.ok(f"p{pid}") else None
                if product and product.get("iblockSectionId"):
                    sections[pid] = str(product["iblockSectionId"])
                elif reply.ok(f"p{pid}"):
                    sections[pid] = None  # read, and in no section
            if reply.ok("tree"):
                rows = list((reply.get("tree") or {}).get("sections") or [])
                if "tree" in reply.nexts:
                    iblock = next((p for p in ((reply.get(f"p{pid}") or {}).get("product") for pid in chunk
                                               if reply.ok(f"p{pid}")) if p), {}).get("iblockId")
                    rows = list(self.client.list_all("catalog.section.list", {
                        "filter": {"iblockId": iblock}, "select": ["id", "iblockSectionId"],
                        "order": {"id": "ASC"}}, key="sections"))
                parents.update({str(r["id"]): str(r.get("iblockSectionId") or "") for r in rows})
                memo["tree"] = True
        for line in lines:
            line.product_section_id = sections.get(line.product_id)
            line.product_sections = _ancestry(line.product_section_id, parents)

    def _contacts(self, wanted: set[str]) -> dict[str, dict[str, Any]]:
        """Contacts by id, 50 to a list command, all in one request."""
        ids = sorted(wanted, key=int)
        if not ids:
            return {}
        reply = self.client.batch_all({f"p{n}": ("crm.contact.list", {
            "filter": {"@ID": ids[n:n + BATCH_MAX]}, "select": CONTACT_SELECT}) for n in range(0, len(ids), BATCH_MAX)})
        reply.raise_first()
        return {str(r["ID"]): r for rows in reply.results.values() for r in rows or []}

    def _party_of(self, item: dict[str, Any], companies: dict[str, dict[str, Any]],
                  contacts: dict[str, dict[str, Any]], links: dict[str, list[dict[str, Any]]],
                  people: dict[str, dict[str, Any]]) -> Party | None:
        company_id, contact_id = str(item.get("companyId") or 0), str(item.get("contactId") or 0)
        if company_id != "0" and company_id in companies:
            persons = [people[str(link["CONTACT_ID"])] for link in links.get(company_id, [])
                       if str(link["CONTACT_ID"]) in people]
            return party_from_company(companies[company_id], persons, self.member_id, item.get("contactId"))
        if contact_id != "0" and contact_id in contacts:
            return party_from_contact(contacts[contact_id], self.member_id)
        return None

    def changed_invoices(self, since: datetime | None) -> Iterator[tuple[str, datetime | None]]:
        """Smart invoices changed at or after ``since`` (NOTES s6 updatedTime), then the old
        ones where the portal has them (``legacy.py``), each in id order.

        Paged by id (``list_fast``: ``>id``), never by offset in updatedTime order: invoices
        change while they are listed (our own write-backs, a user's edits), and a changed one
        moved to the end of that order, so the page boundary slid and the invoices behind
        it were never listed. By id, one changed meanwhile keeps its place."""
        setup = (self.installation.endpoints or {}).get("setup") or {}
        flt = {">=updatedTime": since.astimezone(timezone.utc).replace(microsecond=0).isoformat()} if since else {}
        if setup.get("smart_invoices", True):
            for row in self.client.list_fast("crm.item.list", {
                    "entityTypeId": SMART_INVOICE, "select": ["id", "updatedTime"], "filter": flt},
                    id_field="id", key="items"):
                yield str(row["id"]), parse_datetime(row.get("updatedTime"))
        if setup.get("legacy_invoices"):
            yield from self.legacy.changed(since)

    def _item(self, platform_id: str, select: list[str]) -> dict[str, Any]:
        return self.client.call("crm.item.get", {"entityTypeId": SMART_INVOICE, "id": platform_id,
                                                 "select": select}).result["item"]

    @staticmethod
    def _update_params(platform_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        # NOTES s4 loop guard: our own write carries the auth_connector the offline events were
        # bound with, so Bitrix24 does not queue it back to us; no-op saves are skipped (s6).
        return {"entityTypeId": SMART_INVOICE, "id": platform_id, "fields": fields, "auth_connector": OFFLINE_CONNECTOR}

    def _update(self, platform_id: str, fields: dict[str, Any]) -> None:
        self.client.call("crm.item.update", self._update_params(platform_id, fields))

    def set_invoice_status(self, platform_id: str, status: InvoiceStatus) -> str | None:
        """Move the invoice to the stage for ``status`` (settings ``stage_map`` or stage
        semantics); never out of a failure or "refunded" stage for a status that is not a
        cancellation (``Platform.set_invoice_status``: the user's cancellation stands)."""
        if platform_id.startswith(LEGACY):
            return self.legacy.set_status(platform_id, status)
        item = self._item(platform_id, ["id", "categoryId", "stageId"])
        stages, mapping = self.stages(known=[str(item["stageId"])] if item.get("stageId") else []), self.stage_map
        if item.get("stageId") and not status.is_cancelled and \
                status_for_stage(str(item["stageId"]), stages, self.read_stage_map).is_cancelled:
            return KEPT_CANCELLED
        stage = stage_for_status(status, stages, str(item.get("categoryId")), mapping)
        if stage is None:
            return None  # no stage stands for this status in the invoice's pipeline
        if item.get("stageId") and status_for_stage(str(item["stageId"]), stages, mapping) == status:
            return None  # already at a stage that means this (e.g. "Awaiting payment" for sent)
        if stage != item.get("stageId"):
            self._update(platform_id, {"stageId": stage})
        return None

    takes_invoice_notes = True  # timeline comments (timeline.py)

    def add_invoice_note(self, platform_id: str, text: str) -> str:
        if platform_id.startswith(LEGACY):
            return ""  # old invoices: no timeline notes (their history is not the smart timeline)
        return timeline.add(self.client, platform_id, text)

    def find_invoice_note(self, platform_id: str, marker: str) -> str | None:
        if platform_id.startswith(LEGACY):
            return None
        return timeline.find(self.client, platform_id, marker)

    def set_online_link(self, platform_id: str, url: str) -> None:
        if not platform_id.startswith(LEGACY):  # old invoices: the tab shows it
            online_link.write(self.client, self.installation, platform_id, url, self._update_params)

    def set_ledger_reference(self, platform_id: str, document: LedgerDocument) -> None:
        result = self.set_ledger_references([(platform_id, document)])[platform_id]
        if result.error is not None:
            raise result.error

    def set_ledger_references(self, references: list[tuple[str, LedgerDocument]]) -> dict[str, WriteResult]:
        """Keep each ledger id on its invoice: ``xmlId`` by default (NOTES s6: "can hold the
        Xero InvoiceID"), or a line in ``comments`` (setting ``ledger_reference_field``).

        All in one request per 50 invoices, and none for an invoice that this adapter just
        read with the reference already on it (a re-sync of an edit). Each result's
        ``version`` is the invoice's ``content_version`` as read: the event this very write
        causes finds it unchanged."""
        where = self.settings.get("ledger_reference_field") or "xmlId"
        wanted = [(pid, doc) for pid, doc in references if not pid.startswith(LEGACY)]
        current: dict[str, dict[str, Any]] = {pid: self._read_items[pid] for pid, _ in wanted if pid in self._read_items}
        if where == "comments":
            unread = [pid for pid, _ in wanted if pid not in current]
            if unread:
                reply = self.client.batch_all({pid: ("crm.item.get", {"entityTypeId": SMART_INVOICE, "id": pid,
                                                                      "select": ["id", "comments", "updatedTime"]})
                                               for pid in unread})
                current.update({pid: (reply.get(pid) or {}).get("item") or {} for pid in unread if reply.ok(pid)})
        commands: dict[str, tuple[str, dict[str, Any]]] = {}
        for pid, document in wanted:
            item = current.get(pid)
            if where == "comments":
                line = f"Xero: {document.number} {document.url}".strip()
                text = str((item or {}).get("comments") or "")
                if item is None or line in text:
                    continue
                fields = {"comments": (text + "\n" + line).strip()}
            else:
                if item is not None and str(item.get("xmlId") or "") == document.ledger_id:
                    continue
                fields = {"xmlId": document.ledger_id}
            commands[pid] = ("crm.item.update", self._update_params(pid, fields))
        reply = self.client.batch_all(commands)
        results = self.legacy.set_references([(pid, doc) for pid, doc in references if pid.startswith(LEGACY)])
        for pid, _ in references:
            if pid.startswith(LEGACY):
                continue
            if pid in reply.errors:
                results[pid] = WriteResult(ok=False, error=reply.errors[pid])
            else:
                read, rows = self._read_items.get(pid), self._read_rows.get(pid)
                version = content_version(read, rows) if read is not None and rows is not None else None
                results[pid] = WriteResult(ok=True, version=version, received=_written_at(reply.get(pid)))
        return results

    def apply_invoice_changes(self, platform_id: str, invoice: Invoice, groups: set[str]) -> None:
        """Flow-back of ledger edits by field group (bridge/sync/invoice_flowback.py):
        ``header`` (dates, currency) and ``lines`` (the product rows, replaced whole, as
        Bitrix24's productrow.set does). Never the title: it is not sent to the ledger
        (Xero's Reference is the user's), so the ledger's Reference is no edit of it."""
        if platform_id.startswith(LEGACY):
            return self.legacy.apply_changes(platform_id, invoice, groups)
        if "header" in groups:
            fields: dict[str, Any] = {"begindate": invoice.issue_date.isoformat(), "currencyId": invoice.currency}
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

    def find_parties(self, ledger_kind: str, ledger_ids: list[str] | None) -> dict[str, str]:
        """Which of these ledger contacts the portal carries already (ORIGINATOR_ID /
        ORIGIN_ID, set when they were imported), as {ledger id: party key}: a company before
        a contact. A list of companies and one of contacts by ``@ORIGIN_ID`` per 50 ids, 25
        such pairs to a request (1,250 ids), where one each cost an import of 10,000 contacts
        10,000 requests. ``None``: every one the portal carries from that ledger, a page of 50
        per request (one request when there are none: a first import)."""
        select_ = {"select": ["ID", "ORIGIN_ID"], "order": {"ID": "ASC"}}
        wanted = None if ledger_ids is None else sorted(set(ledger_ids))
        chunks = [None] if wanted is None else [wanted[start:start + BATCH_MAX]
                                                for start in range(0, len(wanted), BATCH_MAX)]
        lists: dict[str, tuple[str, dict[str, Any]]] = {}
        for n, chunk in enumerate(chunks):
            flt: dict[str, Any] = {"ORIGINATOR_ID": ledger_kind.upper()}
            if chunk is not None:
                flt["@ORIGIN_ID"] = chunk
            lists[f"co{n}"] = ("crm.company.list", {"filter": flt, **select_})
            lists[f"ct{n}"] = ("crm.contact.list", {"filter": flt, **select_})
        reply = self.client.batch_all(lists)
        reply.raise_first()
        found: dict[str, str] = {}
        for kind, prefix in ((COMPANY, "co"), (CONTACT, "ct")):
            for n in range(len(chunks)):
                key = f"{prefix}{n}"
                rows = list(reply.get(key) or [])
                if key in reply.nexts:  # more than a page: the rest page by page
                    rows = list(self.client.list_all(*lists[key]))
                for row in rows:
                    found.setdefault(str(row.get("ORIGIN_ID")), self.party_key(party_id(kind, row["ID"])))
        return found

    def party_key(self, platform_id: str) -> str:
        """Parties are named by their domain key (``b24:<member>:CO:12``) everywhere in the
        flows, so export and import links agree."""
        return f"b24:{self.installation.account_id}:{platform_id}"

    def companies_of(self, platform_id: str) -> list[str]:
        """A contact's companies (crm.contact.company.items.get: the contact's company links, beside
        crm.contact.company.add of NOTES s8)."""
        kind, entity_id = split_party_id(platform_id)
        if kind != CONTACT:
            return []
        rows = self.client.call("crm.contact.company.items.get", {"id": entity_id}).result or []
        return [f"{COMPANY}:{row['COMPANY_ID']}" for row in rows if str(row.get("COMPANY_ID") or "").isdigit()]

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
            people = self._contacts({str(link["CONTACT_ID"]) for link in reply.get("cp") or []})
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
        made: dict[str, tuple[str, Person]] = {}  # command -> (company key, person)
        for n, (party, platform_id, origin) in enumerate(parties):
            if f"s{n}" in reply.errors:
                raise reply.errors[f"s{n}"]
            if platform_id:
                ids.append(self.party_key(party_id(*split_party_id(platform_id))))
                continue
            new_id = int(reply.get(f"s{n}"))
            kind = COMPANY if party.kind is PartyKind.COMPANY else CONTACT
            ids.append(self.party_key(party_id(kind, new_id)))
            if kind == COMPANY:
                for m, person in enumerate(company_people(party)):
                    people[f"p{n}_{m}"] = ("crm.contact.add", {"fields": person_fields(person, new_id, origin)})
                    made[f"p{n}_{m}"] = (ids[-1], person)
        self.people_created = {}
        if people:
            reply = self.client.batch_all(people)
            reply.raise_first()
            for command, (company_key, person) in made.items():
                self.people_created.setdefault(company_key, []).append(
                    (self.party_key(party_id(CONTACT, int(reply.get(command)))), person))
        return ids

    def party_as_created(self, party: Party, platform_id: str, origin: tuple[str, str]) -> Party:
        """The record ``save_parties`` created for ``party``, as ``get_party`` will read it
        (its company row and the contacts made for its people, through the same mappers),
        without reading it back: what an import remembers on the link, so the portal's
        events for its own records are known as ours (10,000 contacts, no extra request)."""
        kind, entity_id = split_party_id(platform_id)
        row = {"ID": entity_id, **party_fields(party, origin)}
        if kind == CONTACT:
            return party_from_contact(row, self.member_id)
        people = [{"ID": 0, **person_fields(person, entity_id, origin)} for person in company_people(party)]
        return party_from_company(row, people, self.member_id)

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
        error = PermanentError(N_("bridge does not keep stock in Bitrix24."), code="not_supported")
        return [WriteResult(ok=False, error=error) for _ in levels]

    # ---------------------------------------------------------------------------------
    # The administrator
    # ---------------------------------------------------------------------------------

    @classmethod
    def notify_admin(cls, installation: Installation, message: str) -> bool:
        """A system notification to the portal user who installed the app: im.notify {to,
        message, type=SYSTEM} is a notification from the app, not a chat message, and needs
        the app's "im" scope (training.bitrix24.com/rest_help/im/im_notify.php)."""
        if not installation.credential_id:
            return False
        admin = vault_for_app(current_app).read(installation.credential_id).data.get("user_id")
        if not admin:
            return False
        store.client_for(installation).call("im.notify", {"to": int(admin), "message": message, "type": "SYSTEM"})
        return True

    @classmethod
    def ledger_connected(cls, installation: Installation, ledger_kind: str) -> None:
        """The app's tab and menu entry were titled at install, mostly before any ledger was
        ("Accounting"): they take the ledger's name now ("Xero"), as docs/bitrix24.md says. A
        portal that refuses keeps its titles (logged); the sync field keeps its title always."""
        if (installation.endpoints or {}).get("mode") == "webhook":
            return  # a webhook binds no places (NOTES s1)
        try:
            done = retitle(store.client_for(installation), current_app.config["PUBLIC_URL"], ledger_name(ledger_kind))
        except SyncError as exc:
            log.warning("installation %s: the app's titles stay as they were: %s", installation.id, exc.message)
            return
        if done.warnings:
            log.warning("installation %s: %s", installation.id, "; ".join(done.warnings))
