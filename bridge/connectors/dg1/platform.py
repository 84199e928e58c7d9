"""``DG1Platform``: a DG1 tenant behind the ``Platform`` interface flows are written against.

Orders are the platform's invoices (``platform_id`` ``<site>:<order id>``); products and
stock span all of the tenant's sites. What DG1's API cannot do (write customers) raises
``PermanentError`` with a sentence saying so. Ledger edits of an invoice are not copied back
to its order (the order is what the customer bought; DG1 changes only status and
references): ``apply_invoice_changes`` leaves them in the ledger, logged, so that the
status in the same run still follows.
"""
from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable, Iterator

from flask import current_app

from ...domain import Invoice, InvoiceStatus, Party, Product, StockLevel
from ...messages import N_
from ...errors import PermanentError
from ...models import Installation, LedgerConnection
from ...ports import KEPT_CANCELLED, LedgerDocument, Platform, WriteResult
from ...safe_url import keepable
from . import mapper
from .client import DG1Client
from .tenants import client_for

log = logging.getLogger(__name__)

# The only status bridge sets in DG1 (issue 7; docs/dg1.md section 4.4): the ledger says
# paid -> the order is COMPLETED. COMPLETED may be set before SHIPPED.
STATUS_FOR = {InvoiceStatus.PAID: "COMPLETED"}


class DG1Platform(Platform, kind="dg1"):
    display_name = "DG1"
    tax_per_rate = True  # the order's totals tax each rate's sum
    closes_when_paid = True  # a paid order only moves on, to SHIPPED or COMPLETED
    # Status follows once a day from Bexio, as the DG1 <-> Bexio product says (the daily job).
    daily_status_ledgers = frozenset({"bexio"})
    invoice_object = "order"  # an order's work is "order:<site>:<id>" (hooks.py)
    # The admin's pages are those of its "Bexio integration" menu whatever the ledger
    # (templates/dg1/orders.html), and so are their buttons. DG1 has no invoice tab.
    SYNC_BUTTON = "Sync order to Bexio"

    @classmethod
    def invoice_page(cls, ledger_name: str) -> str:
        return N_("the Orders page (Bexio integration > Orders in the DG1 admin)")

    @classmethod
    def sync_again(cls, ledger_name: str) -> str:
        return N_("press \"%(button)s\" on %(page)s", button=cls.SYNC_BUTTON, page=cls.invoice_page(ledger_name))

    @classmethod
    def decide_where(cls, ledger_name: str) -> str:
        return N_("Do one of these by hand in %(ledger)s or DG1, then %(again)s.", ledger=ledger_name,
                  again=cls.sync_again(ledger_name))

    @classmethod
    def paid_words(cls) -> str:
        return N_("DG1 (the order is paid or completed)")

    def __init__(self, client: DG1Client, tenant_id: str, *, admin_url: str = "", ledger_kind: str = "bexio") -> None:
        self.client = client
        self.tenant_id = tenant_id
        self.admin_url = admin_url
        self.ledger_kind = ledger_kind
        self._sites: list[dict[str, Any]] | None = None

    @classmethod
    def build(cls, installation: Installation, connection: LedgerConnection | None = None) -> "DG1Platform":
        return cls(client_for(installation), installation.account_id,
                   admin_url=current_app.config["DG1_ADMIN_URL"],
                   ledger_kind=connection.ledger if connection is not None else "bexio")

    def sites(self) -> list[dict[str, Any]]:
        """The tenant's sites, read once per adapter (they change rarely; a new adapter
        is built per job)."""
        if self._sites is None:
            self._sites = self.client.sites()
        return self._sites

    # -- invoices (orders) --------------------------------------------------------------
    def get_invoice(self, platform_id: str) -> Invoice | None:
        order = self.get_order(platform_id)
        return mapper.invoice(self.tenant_id, order, admin_url=self.admin_url) if order is not None else None

    def get_order(self, platform_id: str) -> dict[str, Any] | None:
        """The raw order (for what the domain has no field for: totals, tax rates)."""
        site_id, order_id = mapper.split_platform_id(platform_id)
        return self.client.order(site_id, order_id)

    def get_invoices(self, platform_ids: list[str]) -> dict[str, Invoice | None]:
        return {pid: self.get_invoice(pid) for pid in platform_ids}

    def changed_invoices(self, since: datetime | None) -> Iterator[tuple[str, datetime | None]]:
        """The reconcile poll: every order of every site changed at or after ``since``
        (inclusive, so the last one seen comes again: store the newest ``updated_at`` and
        pass it next time). Carts (PENDING) are not invoices and are left out."""
        updated_since = mapper.format_time(since) if since is not None else None
        for site in self.sites():
            for order in self.client.orders(site["id"], updated_since=updated_since):
                if order.get("status") == "PENDING":
                    continue
                yield mapper.order_platform_id(order["site_id"], order["id"]), mapper.parse_time(order.get("updated_at"))

    def set_invoice_status(self, platform_id: str, status: InvoiceStatus) -> str | None:
        """COMPLETED once paid. DG1 refuses to complete a cancelled order (409
        invalid-transition, docs/dg1.md 4.4); only then is the order read: cancelled by the shop
        meanwhile, its cancellation stands (``Platform.set_invoice_status``)."""
        target = STATUS_FOR.get(status)
        if target is None:
            raise PermanentError(N_("bridge sets a DG1 order's status only when its invoice is paid, not for "
                                    "'%(value)s'.",
                                    value=status.value), code="dg1_status_unsupported")
        site_id, order_id = mapper.split_platform_id(platform_id)
        # Setting the status the order already has is a no-op 200 (docs/dg1.md 4.4).
        try:
            self.client.patch_order(site_id, order_id, status=target)
        except PermanentError as exc:
            order = self.get_order(platform_id) if exc.code == "invalid-transition" else None
            if order is not None and order.get("status") == "CANCELLED":
                return KEPT_CANCELLED
            raise
        return None

    def set_ledger_reference(self, platform_id: str, document: LedgerDocument) -> None:
        """Show the ledger invoice on the DG1 order (its ``external_refs``)."""
        site_id, order_id = mapper.split_platform_id(platform_id)
        self.client.patch_order(site_id, order_id, external_refs=self.ledger_refs(document))

    def ledger_refs(self, document: LedgerDocument) -> dict[str, str | None]:
        prefix = self.ledger_kind
        # Values are at most 255 characters (docs/dg1.md 4.4); a key set to null is removed.
        # The URL is kept only as a link the admin panel may open (http/https, not cut short).
        return {f"{prefix}_invoice_id": document.ledger_id[:255],
                f"{prefix}_document_nr": (document.number or None) and document.number[:255],
                f"{prefix}_invoice_url": keepable(document.url, 255)}

    # -- notes: the ledger's payments on the order -----------------------------------------
    # Each payment the ledger booked is one key of the order's external_refs, which the admin
    # panel shows on the order (docs/dg1.md 4.4: only status and external_refs may be changed;
    # values of 255 characters at most, 20 keys at most).
    takes_invoice_notes = True

    def add_invoice_note(self, platform_id: str, text: str) -> str:
        """``text`` ends with its marker, ``[<ledger id>]``; the key is named after it, so a
        retry that did not see its answer writes the same key again, not a second one."""
        marker = text[text.rfind("["):] if text.endswith("]") and "[" in text else ""
        key = f"{self.ledger_kind}_payment_{marker.strip('[]')}"[:64]
        if len(text) > 255:
            text = text[:255 - len(marker) - 2].rstrip() + "… " + marker
        site_id, order_id = mapper.split_platform_id(platform_id)
        self.client.patch_order(site_id, order_id, external_refs={key: text})
        return key

    def find_invoice_note(self, platform_id: str, marker: str) -> str | None:
        refs = (self.get_order(platform_id) or {}).get("external_refs") or {}
        return next((key for key, value in refs.items() if marker in str(value or "")), None)

    def apply_invoice_changes(self, platform_id: str, invoice: Invoice, groups: set[str]) -> None:
        """Nothing: a DG1 order is what the customer bought, and DG1's API changes only an
        order's status and references (docs/dg1.md 4.4). What the ledger holds beyond it
        (Xero's due date, an edit made there) stays in the ledger. Refusing here would
        also stop the status that follows in the same run: a paid invoice would never
        complete its order."""
        log.info("dg1 order %s: ledger edits of %s stay in the ledger", platform_id, ", ".join(sorted(groups)))

    # -- customers ------------------------------------------------------------------------
    def get_party(self, platform_id: str) -> Party | None:
        return None  # DG1 has no customer API: customers travel with their orders only

    def find_parties(self, ledger_kind: str, ledger_ids: list[str] | None) -> dict[str, str]:
        return {}  # DG1 has no customer API: no ledger contact is ever linked to a DG1 one

    def save_party(self, party: Party, platform_id: str | None, origin: tuple[str, str]) -> str:
        raise PermanentError(N_("DG1 has no API to create or change customers, so contacts cannot be imported into DG1 "
                                "from the ledger."), code="dg1_no_customers",
                             fix=N_("Turn off contact import for this DG1 shop."))

    def save_parties(self, parties: list[tuple[Party, str | None, tuple[str, str]]]) -> list[str]:
        return [self.save_party(*entry) for entry in parties]

    # -- products and stock ----------------------------------------------------------------
    def changed_products(self, since: datetime | None) -> Iterator[Product]:
        """Products of every site changed at or after ``since``. One SKU on several sites
        yields one Product per site with the same ``key`` (one ledger article)."""
        updated_since = mapper.format_time(since) if since is not None else None
        for site in self.sites():
            gross = bool(site.get("prices_include_tax"))
            for raw in self.client.products(site["id"], updated_since=updated_since):
                yield mapper.product(self.tenant_id, raw, prices_include_tax=gross)

    def set_stock(self, levels: Iterable[StockLevel]) -> list[WriteResult]:
        """Absolute stock, overriding DG1's. A SKU is set on every site that has it (the
        seed's multi-site rule: one Bexio article, the same stock on all its sites); a
        product without SKU (``product_key``) on its own site only.

        DG1 sets stock per site (docs/dg1.md 4.6), so the SKU batch goes to each site and
        each site's answer says whether it has the SKU. One result per level, in order.
        """
        levels = list(levels)
        by_sku: list[tuple[int, dict[str, Any]]] = []
        by_site_product: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        outcomes: list[dict[str, str]] = [{} for _ in levels]
        errors: list[str | None] = [None] * len(levels)
        for index, level in enumerate(levels):
            quantity = mapper.stock_quantity(level)
            if level.sku:
                by_sku.append((index, {"sku": level.sku, "quantity": quantity}))
                continue
            try:
                kind, product_id, site_id = mapper.parse_product_key(level.product_key or "")
            except ValueError:
                errors[index] = f"A stock level needs a SKU or a DG1 product key, not {level.product_key!r}."
                continue
            if kind == "sku":
                by_sku.append((index, {"sku": product_id, "quantity": quantity}))
            else:
                by_site_product.setdefault(site_id, []).append((index, {"product_id": product_id,
                                                                         "quantity": quantity}))
        for site in self.sites():
            batch = by_sku + by_site_product.get(site["id"], [])
            if not batch:
                continue
            results = self.client.put_stock(site["id"], [item for _, item in batch])
            for (index, _), result in zip(batch, results):
                outcomes[index][site["id"]] = result.get("status", "unknown")
        return [self._stock_result(level, outcome, error)
                for level, outcome, error in zip(levels, outcomes, errors)]

    @staticmethod
    def _stock_result(level: StockLevel, per_site: dict[str, str], error: str | None) -> WriteResult:
        what = f"SKU {level.sku}" if level.sku else f"product {level.product_key}"
        sent = {"sku": level.sku, "product_key": level.product_key, "quantity": str(level.quantity)}
        applied = sorted(site for site, status in per_site.items() if status == "ok")
        warnings = [f"{what}: stock is not managed on site {site}, so it was left unchanged."
                    for site, status in sorted(per_site.items()) if status == "not_stock_managed"]
        if error is None and not applied and not warnings:
            error = f"No DG1 site has {what}."
        if error is not None:
            return WriteResult(ok=False, error=PermanentError(error, code="dg1_unknown_product",
                               fix=N_("Check the SKU in DG1 and in the ledger.")), sent=sent,
                               received={"sites": per_site})
        return WriteResult(ok=True, ledger_id=",".join(applied) or None, warnings=warnings, sent=sent,
                           received={"sites": per_site, "quantity": str(Decimal(mapper.stock_quantity(level)))})
