"""The two interfaces every flow is written against: ``Platform`` and ``Ledger``.

A platform (Bitrix24, DG1) is where business happens; a ledger (Xero, Bexio) is where it
is booked. Flows in ``bridge.sync`` import only this module and ``bridge.domain``; each
connector provides one adapter class implementing its side. That is what makes
Bitrix24 -> Bexio or DG1 -> Xero a matter of configuration, not new flow code.

Adapters are built per installation (``build(installation, connection)``), hold their
client, and translate with their mapper. They raise ``bridge.errors`` types only.

Identity lookups (``find_*``) are the adapters' job because each ledger has its own
external keys (Xero ContactNumber/InvoiceNumber/Reference, Bexio api_reference) and its own
matching rules; links (``bridge.models.Link``) are the flows' job.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterable, Iterator, Protocol, runtime_checkable

from .domain import Invoice, InvoiceStatus, Party, Payment, Product, StockLevel
from .errors import SyncError


# --------------------------------------------------------------------------------------
# What ledgers return
# --------------------------------------------------------------------------------------


@dataclass
class LedgerParty:
    """A customer as the ledger holds it."""

    ledger_id: str
    name: str
    external_key: str | None = None  # Xero ContactNumber, Bexio nr: our key if we made it
    email: str = ""
    archived: bool = False
    party: Party | None = None  # full content, when read for import/flow-back
    updated_at: datetime | None = None
    # What the ledger calls it: {"customer", "supplier"} (Xero's IsCustomer/IsSupplier);
    # None when the ledger does not say (every contact is a customer then).
    roles: frozenset[str] | None = None


@dataclass
class PartyMatch:
    """Result of the identity rules: which ledger contact is ours, and any warning.

    ``ledger_id`` None means "create"; ``name`` is the name to create with (disambiguated
    when another customer has ours); ``warning`` is shown to the user on the sync record.
    """

    ledger_id: str | None
    name: str
    matched_by: str = ""  # link | external_key | email | name | ""
    warning: str | None = None
    # The customer's field groups the platform changed since the last sync (name, contact,
    # address, people): an update sends only those. None: not known (every group but people).
    groups: frozenset[str] | None = None


class Claims(Protocol):
    """Which ledger contacts already belong to another platform customer (the flows know it
    from their links, ``bridge.sync.links.PartyClaims``). The identity rules never take such
    a contact by e-mail or name: it is someone else's, and writing to it would overwrite them."""

    def load(self, ledger_ids: Iterable[str]) -> None: ...  # many at once, before asking ``taken``
    def taken(self, party_key: str, ledger_id: str) -> bool: ...


@dataclass
class LedgerDocument:
    """An invoice as the ledger holds it."""

    ledger_id: str
    number: str
    status: InvoiceStatus
    reference: str = ""
    total: Decimal = Decimal("0")
    amount_due: Decimal = Decimal("0")
    amount_paid: Decimal = Decimal("0")
    currency: str = ""
    version: str | None = None  # e.g. Xero UpdatedDateUTC; what we compare for changes
    url: str = ""  # opens it in the ledger's UI
    external_url: str = ""  # the link back to the platform stored on the ledger side, if any
    invoice: Invoice | None = None  # full content, when read for flow-back or conflicts
    updated_at: datetime | None = None
    # The ledger marked it sent to the customer (Xero SentToContact); None: not known.
    sent_to_contact: bool | None = None


@dataclass(frozen=True)
class InvoiceLookup:
    """What a lookup after an unknown outcome may use besides the invoice itself: the
    ledger id of its customer and when bridge first tried to write it (an earlier
    attempt's intent record). ``since`` None: no attempt ever wrote, so only an invoice
    number can be in the ledger already."""

    contact_id: str | None = None
    since: datetime | None = None


@dataclass
class InvoiceWrite:
    """One invoice to create or update in a batch."""

    invoice: Invoice
    party_ledger_id: str
    ledger_id: str | None  # None: create
    idempotency_key: str
    existing_line_ids: list[str] = field(default_factory=list)  # ledger line ids, for updates


@dataclass
class WriteResult:
    """Per-element outcome of a (batch) write: never all-or-nothing."""

    ok: bool
    ledger_id: str | None = None
    number: str | None = None
    status: InvoiceStatus | None = None
    version: str | None = None
    url: str = ""
    error: SyncError | None = None
    warnings: list[str] = field(default_factory=list)
    sent: dict[str, Any] | None = None  # summary of what was sent, for the sync record
    received: dict[str, Any] | None = None


@dataclass(frozen=True)
class TaxCode:
    code: str  # Xero TaxType, Bexio tax id
    name: str
    rate: Decimal  # percent
    active: bool = True
    valid_from: date | None = None
    valid_to: date | None = None


@dataclass(frozen=True)
class SalesAccount:
    code: str
    name: str
    active: bool = True


# --------------------------------------------------------------------------------------
# The interfaces
# --------------------------------------------------------------------------------------


@runtime_checkable
class Ledger(Protocol):
    kind: str  # "xero" | "bexio"
    organisation_id: str

    # customers
    def match_party(self, party: Party, linked_ledger_id: str | None, claims: Claims | None = None) -> PartyMatch: ...
    def save_party(self, party: Party, match: PartyMatch, idempotency_key: str) -> WriteResult: ...
    def changed_parties(self, since: datetime | None) -> Iterator[LedgerParty]: ...

    # invoices
    def find_invoice(self, invoice: Invoice, lookup: InvoiceLookup | None = None) -> LedgerDocument | None: ...
    def get_invoices(self, ledger_ids: list[str]) -> list[LedgerDocument]: ...
    def save_invoices(self, writes: list[InvoiceWrite]) -> list[WriteResult]: ...
    def preview_invoice(self, invoice: Invoice, party_ledger_id: str | None) -> dict[str, Any]: ...
    def cancel_invoice(self, document: LedgerDocument, *, void_allowed: bool) -> WriteResult: ...
    def issue_invoice(self, document: LedgerDocument) -> WriteResult: ...
    def send_invoice(self, document: LedgerDocument) -> WriteResult: ...
    def record_payment(self, document: LedgerDocument, payment: Payment, idempotency_key: str) -> WriteResult: ...
    def changed_invoices(self, since: datetime | None) -> Iterator[LedgerDocument]: ...

    # products (Bexio articles; Xero Items)
    def save_products(self, products: list[tuple[Product, str | None]], idempotency_key: str) -> list[WriteResult]: ...
    def stock_levels(self, ledger_ids: list[str]) -> dict[str, StockLevel]: ...

    # reference data for settings
    def tax_codes(self, on: date | None = None) -> list[TaxCode]: ...
    def sales_accounts(self) -> list[SalesAccount]: ...


class Unchanged:
    """The platform invoice is still at the version bridge last wrote or read (typically our
    own write-back coming back as an event): there is nothing to read or send."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = Unchanged()


@runtime_checkable
class Platform(Protocol):
    kind: str  # "bitrix24" | "dg1"

    # invoices (Bitrix24 invoices; DG1 orders)
    def get_invoice(self, platform_id: str) -> Invoice | None: ...  # None: deleted
    def get_invoices(self, platform_ids: list[str]) -> dict[str, Invoice | None]: ...
    def changed_invoices(self, since: datetime | None) -> Iterator[tuple[str, datetime | None]]: ...
    def set_invoice_status(self, platform_id: str, status: InvoiceStatus) -> None: ...
    def set_ledger_reference(self, platform_id: str, document: LedgerDocument) -> None: ...
    # Optional, for platforms that write many at once (Bitrix24 batch). A result's
    # ``version`` is the platform's own stamp of the invoice after the write:
    # def set_ledger_references(self, references: list[tuple[str, LedgerDocument]]) -> dict[str, WriteResult]: ...
    # Optional: get_invoices, but an invoice still at the version given is UNCHANGED (not read whole):
    # def read_invoices(self, platform_ids: list[str], versions: dict[str, str]) -> dict[str, Invoice | None | Unchanged]: ...
    def apply_invoice_changes(self, platform_id: str, invoice: Invoice, groups: set[str]) -> None: ...

    # customers (export of edits, import from the ledger, flow-back of edits)
    def get_party(self, platform_id: str) -> Party | None: ...  # None: deleted
    # ledger id -> platform key of those the platform carries (None: all it carries from that ledger)
    def find_parties(self, ledger_kind: str, ledger_ids: list[str] | None) -> dict[str, str]: ...
    def save_party(self, party: Party, platform_id: str | None, origin: tuple[str, str]) -> str: ...
    def save_parties(self, parties: list[tuple[Party, str | None, tuple[str, str]]]) -> list[str]: ...

    # products and stock
    def changed_products(self, since: datetime | None) -> Iterator[Product]: ...
    def set_stock(self, levels: Iterable[StockLevel]) -> list[WriteResult]: ...
