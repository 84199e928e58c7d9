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
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Iterable, Iterator, Mapping, Protocol

from .domain import Invoice, InvoiceStatus, Party, Payment, Product, StockLevel
from .errors import SyncError
from .messages import N_


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
    def unsure(self, party_key: str) -> bool: ...  # an earlier create's outcome is unknown: look up first


@dataclass(frozen=True)
class Settlement:
    """Money applied to a ledger invoice: a payment or a credit note (``kind``), with the
    amount applied to this invoice. What the CRM shows under the invoice, and what tells a
    credit note already made from one that still has to be made."""

    kind: str  # "payment" | "credit_note"
    ledger_id: str  # Xero PaymentID / CreditNoteID
    amount: Decimal
    on: date | None = None
    number: str = ""  # a credit note's number
    account: str = ""  # where a payment went, as the ledger names it


@dataclass(frozen=True)
class CreditNote:
    """A credit note as the ledger holds it (what ``find_credit`` returns)."""

    ledger_id: str
    number: str
    total: Decimal
    remaining: Decimal  # not yet applied to any invoice


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
    amount_credited: Decimal = Decimal("0")
    # Payments and credit notes applied to it, when the read includes them.
    settlements: tuple[Settlement, ...] = ()
    contact_id: str = ""  # the ledger contact it is addressed to


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


class Unchanged:
    """The platform invoice is still at the version bridge last wrote or read (typically our
    own write-back coming back as an event): there is nothing to read or send."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = Unchanged()

# ``Platform.set_invoice_status``: not moved, the platform's own cancellation stands.
KEPT_CANCELLED = "kept_cancelled"



@dataclass(frozen=True)
class BookedTotals:
    """The money a ledger booked, from its answer to a write (what the money check compares)."""

    subtotal: Decimal  # without tax
    tax: Decimal
    total: Decimal
    currency: str

    @classmethod
    def read(cls, tax: Any, total: Any, currency: Any, *given_subtotal: Any) -> "BookedTotals | None":
        """From the ledger's fields as they came (strings, numbers, None); the subtotal is
        the total less tax when the ledger has no such field. None when one is missing."""
        taxed, gross = _decimal(tax), _decimal(total)
        if given_subtotal:
            subtotal = _decimal(given_subtotal[0])
        else:
            subtotal = gross - taxed if gross is not None and taxed is not None else None
        if subtotal is None or taxed is None or gross is None:
            return None
        return cls(subtotal=subtotal, tax=taxed, total=gross, currency=str(currency or "").upper())


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except (InvalidOperation, ValueError):
        return None


_LEDGER_KINDS: dict[str, type["Ledger"]] = {}
_PLATFORM_KINDS: dict[str, type["Platform"]] = {}


def _declare(cls: Any, kind: str | None, kinds: dict[str, Any]) -> None:
    """A subclass that names its kind is that kind's declared class (``ledger_class``,
    ``platform_class``); every port has a name to show users."""
    if kind is not None:
        cls.kind = kind
        kinds[kind] = cls
    cls.display_name = cls.display_name or cls.kind.title()


class Ledger:
    """Everything a flow asks of a ledger (Xero, Bexio). A connector subclasses it once,
    declaring its kind (``class XeroLedger(Ledger, kind="xero")``); what it does not
    override keeps the default here, so a flow never asks whether a method exists.

    Bulk methods default to a loop over the single one: a ledger that can do a batch in
    one call (Xero) overrides them, and flows always call the bulk form. Facts about the
    ledger that flows branch on are class attributes, readable from the class (by kind,
    ``ledger_class``) when no adapter is built.
    """

    kind: str = ""
    display_name: str = ""  # as users read it: "Xero"
    organisation_id: str = ""
    # Every invoice line needs a sales account (Xero's AccountCode): an unmapped one fails.
    needs_sales_accounts: bool = False
    # The ledger rounds a document's total to this (Bexio: CHF 0.05); 0: only per line.
    round_factor: Decimal = Decimal(0)
    # The ledger says whether an invoice was sent to the customer without moving its version
    # (Xero's SentToContact): the daily sent sweep reads it.
    tells_sent_to_contact: bool = False
    # ``get_parties`` reads contacts by id: a contact changed in the ledger flows back.
    reads_parties_by_id: bool = False
    # The currency products are priced in, when the ledger has one (Bexio's setting).
    product_currency: str | None = None
    # Bank transactions and payments for the dashboard's copy (``transactions``).
    has_transactions: bool = False
    # The ledger's own page of one invoice, "{id}" for its id: the deep link a platform page
    # shows when the export kept no URL (``invoice_page_url``); "": the ledger has none.
    invoice_url_template: str = ""

    def __init_subclass__(cls, kind: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _declare(cls, kind, _LEDGER_KINDS)

    @classmethod
    def invoice_page_url(cls, ledger_id: str | None) -> str:
        """Where a user opens the invoice in the ledger, from its id alone (no adapter, no call)."""
        return cls.invoice_url_template.format(id=ledger_id) if cls.invoice_url_template and ledger_id else ""

    # -- customers ----------------------------------------------------------------------
    def match_party(self, party: Party, linked_ledger_id: str | None, claims: Claims | None = None) -> PartyMatch:
        raise NotImplementedError

    def match_parties(self, items: list[tuple[Party, str | None]], claims: Claims | None = None) -> list[PartyMatch]:
        return [self.match_party(party, linked, claims) for party, linked in items]

    def save_party(self, party: Party, match: PartyMatch, idempotency_key: str) -> WriteResult:
        raise NotImplementedError

    def save_parties(self, items: list[tuple[Party, PartyMatch, str]]) -> list[WriteResult]:
        return [self.save_party(party, match, key) for party, match, key in items]

    def changed_parties(self, since: datetime | None) -> Iterator[LedgerParty]:
        """The contacts changed since ``since`` (every one with None), oldest change first,
        each with its ``updated_at``: an import that yields goes on from the last it handled."""
        raise NotImplementedError

    def get_parties(self, ledger_ids: list[str]) -> list[LedgerParty]:
        """These contacts, whole; only where ``reads_parties_by_id``."""
        return []

    def invoiced_parties(self, since: datetime | None, *, suppliers: bool = False) -> Iterator[LedgerParty]:
        """The contacts of the invoices changed since ``since``, where the ledger makes a
        contact a customer without moving the contact (Xero); none by default."""
        return iter(())

    # -- invoices -----------------------------------------------------------------------
    def find_invoice(self, invoice: Invoice, lookup: InvoiceLookup | None = None) -> LedgerDocument | None:
        raise NotImplementedError

    def find_invoices(self, invoices: list[Invoice],
                      lookups: dict[str, InvoiceLookup | None] | None = None) -> list[LedgerDocument | None]:
        return [self.find_invoice(invoice, (lookups or {}).get(invoice.key)) for invoice in invoices]

    def get_invoices(self, ledger_ids: list[str]) -> list[LedgerDocument]:
        raise NotImplementedError

    def save_invoices(self, writes: list[InvoiceWrite]) -> list[WriteResult]:
        raise NotImplementedError

    def preview_invoice(self, invoice: Invoice, party_ledger_id: str | None) -> dict[str, Any]:
        raise NotImplementedError

    def comparable_document(self, document: dict[str, Any]) -> dict[str, Any]:
        """The rendered document in a form that does not depend on how the ledger renders one
        content (Bexio: a product line becomes an article position); hashed for "unchanged"."""
        return document

    @staticmethod
    def booked_totals(received: dict[str, Any] | None) -> BookedTotals | None:
        """The totals in the ledger's answer to a write; None when it has none. Static:
        read from the answer alone."""
        return None

    def cancel_invoice(self, document: LedgerDocument, *, void_allowed: bool) -> WriteResult:
        raise NotImplementedError

    def issue_invoice(self, document: LedgerDocument) -> WriteResult:
        raise NotImplementedError

    def send_invoice(self, document: LedgerDocument) -> WriteResult:
        raise NotImplementedError

    def record_payment(self, document: LedgerDocument, payment: Payment, idempotency_key: str) -> WriteResult:
        raise NotImplementedError

    def changed_invoices(self, since: datetime | None) -> Iterator[LedgerDocument]:
        raise NotImplementedError

    # -- credit notes and the online invoice (issue: money after the invoice) -------------
    # A ledger that can book a credit note through its API says so; the others leave the
    # credit to a person (a visible task), as Bexio's API documents no create.
    issues_credit_notes: bool = False

    def find_credit(self, document: LedgerDocument, amount: Decimal, since: datetime | None) -> CreditNote | None:
        """A credit note we may have made for ``document`` and not yet applied: for the
        contact, changed since ``since``, over ``amount``, unapplied. None: none."""
        return None

    def create_credit(self, document: LedgerDocument, amount: Decimal, idempotency_key: str) -> WriteResult:
        """An approved credit note over ``amount`` for the invoice's contact (not applied yet)."""
        raise NotImplementedError

    def apply_credit(self, document: LedgerDocument, credit_id: str, amount: Decimal,
                     idempotency_key: str) -> WriteResult:
        """Apply ``amount`` of credit note ``credit_id`` to the invoice."""
        raise NotImplementedError

    def online_invoice_url(self, ledger_id: str) -> str:
        """The link a customer opens to see (and pay) the approved invoice; "" when the
        ledger has none."""
        return ""

    # -- products (Bexio articles; Xero Items) ------------------------------------------
    def save_products(self, products: list[tuple[Product, str | None]], idempotency_key: str) -> list[WriteResult]:
        raise NotImplementedError

    def stock_levels(self, ledger_ids: list[str]) -> dict[str, StockLevel]:
        raise NotImplementedError

    # -- reference data for settings ----------------------------------------------------
    def tax_codes(self, on: date | None = None) -> list[TaxCode]:
        raise NotImplementedError

    def sales_accounts(self) -> list[SalesAccount]:
        raise NotImplementedError

    # What shapes the customer's document (the ``document`` settings' choices; read by the
    # settings page only, never per invoice). None by default: the page hides those fields.
    def tracking_categories(self) -> dict[str, list[str]]:
        """Active category name -> its active option names (Xero tracking)."""
        return {}

    def branding_themes(self) -> dict[str, str]:
        """Theme name -> the id a document takes, the default first."""
        return {}

    # -- the dashboard ------------------------------------------------------------------
    def transactions(self, stream: str, since: datetime | None) -> Iterator[dict[str, Any]]:
        """The organisation's money movements changed since ``since``, as the ledger records
        them: ``stream`` is "bank_transactions" or "payments". Only where
        ``has_transactions``; none by default."""
        return iter(())


class Platform:
    """Everything a flow asks of a platform (Bitrix24, DG1): subclass it once, declaring the
    kind (``class DG1Platform(Platform, kind="dg1")``). Defaults as for ``Ledger``: the bulk
    form loops over the single one, an optional capability says "none" or does nothing, and
    the words that point a user at a page come from here, so no message names a page the
    user's platform does not have."""

    kind: str = ""
    display_name: str = ""  # as users read it: "Bitrix24"
    # How the platform taxes what it shows: per rate on the document's sum (DG1's totals),
    # or per line.
    tax_per_rate: bool = False
    # Paid orders are closed: nobody edits one once paid (DG1), so an edit the ledger refuses
    # after both sides are paid is no conflict. A paid Bitrix24 invoice can still be edited.
    closes_when_paid: bool = False
    # Ledgers whose status reaches this platform once a day, by the daily status job, rather
    # than by the five-minute poll (as the DG1 <-> Bexio product says).
    daily_status_ledgers: frozenset[str] = frozenset()
    # The platform shows "sent to the customer": the daily sent sweep follows it (with a
    # ledger that ``tells_sent_to_contact``).
    follows_sent: bool = False
    # Contact persons created by the last ``save_parties``: {party key: [(person key, person)]}.
    people_created: Mapping[str, list] = MappingProxyType({})
    # The first part of an invoice's work item key (``<invoice_object>:<platform id>``): what
    # its events queue, so a "sync again" of the reconciliation report joins that work.
    invoice_object: str = "invoice"

    def __init_subclass__(cls, kind: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _declare(cls, kind, _PLATFORM_KINDS)

    # -- words: where a user acts on one invoice ----------------------------------------
    @classmethod
    def invoice_page(cls, ledger_name: str) -> str:
        """The page that shows one invoice's sync, its conflict and its "sync" button."""
        return N_("the invoice's %(ledger)s tab in %(platform)s", ledger=ledger_name, platform=cls.display_name)

    @classmethod
    def sync_again(cls, ledger_name: str) -> str:
        """How the user sends one invoice again, on their platform's page."""
        return N_("press Retry on %(page)s", page=cls.invoice_page(ledger_name))

    @classmethod
    def decide_where(cls, ledger_name: str) -> str:
        """The ``fix`` of a conflict: where the user chooses."""
        return N_("Decide on %(page)s.", page=cls.invoice_page(ledger_name))

    @classmethod
    def paid_words(cls) -> str:
        """The platform, as "paid in ..." names it."""
        return cls.display_name

    # -- invoices (Bitrix24 invoices; DG1 orders) ---------------------------------------
    def get_invoice(self, platform_id: str) -> Invoice | None:  # None: deleted
        raise NotImplementedError

    def get_invoices(self, platform_ids: list[str]) -> dict[str, Invoice | None]:
        raise NotImplementedError

    def read_invoices(self, platform_ids: list[str], versions: dict[str, str]) -> dict[str, Invoice | None | Unchanged]:
        """``get_invoices``, but an invoice still at the version given may come back
        UNCHANGED, not read whole (Bitrix24). By default every invoice is read."""
        return self.get_invoices(platform_ids)

    def changed_invoices(self, since: datetime | None) -> Iterator[tuple[str, datetime | None]]:
        raise NotImplementedError

    def set_invoice_status(self, platform_id: str, status: InvoiceStatus) -> str | None:
        """Move the invoice to what stands for ``status`` (the ledger's status followed).
        Returns KEPT_CANCELLED, and moves nothing, when the platform has the invoice cancelled
        and ``status`` is not a cancellation: a person cancelled it after the ledger's change
        and bridge has not read that yet (its event is on its way). The person's cancellation
        wins; the caller hands it to the cancellation flow. Otherwise None."""
        raise NotImplementedError

    def set_ledger_reference(self, platform_id: str, document: LedgerDocument) -> None:
        raise NotImplementedError

    def set_ledger_references(self, references: list[tuple[str, LedgerDocument]]) -> dict[str, WriteResult]:
        """Show many ledger documents at once (Bitrix24: 50 updates a request). A result's
        ``version`` is the platform's own stamp of the invoice after the write. By default
        one by one, a failure of one failing only that one."""
        results: dict[str, WriteResult] = {}
        for platform_id, document in references:
            try:
                self.set_ledger_reference(platform_id, document)
            except SyncError as exc:
                results[platform_id] = WriteResult(ok=False, error=exc)
            else:
                results[platform_id] = WriteResult(ok=True)
        return results

    def apply_invoice_changes(self, platform_id: str, invoice: Invoice, groups: set[str]) -> None:
        raise NotImplementedError

    # -- customers (export of edits, import from the ledger, flow-back of edits) -------
    def get_party(self, platform_id: str) -> Party | None:  # None: deleted
        raise NotImplementedError

    def party_key(self, platform_id: str) -> str | None:
        """The customer key of a platform record, known without a read; None: only a read
        tells (the record's kind is not in its id)."""
        return None

    def companies_of(self, platform_id: str) -> list[str]:
        """The platform ids of the companies a person belongs to (one read): a ledger
        company's contact carries its people (Xero ContactPersons), so a person joining or
        changing changes it. Empty for a company, or on a platform without people of companies."""
        return []

    def party_as_created(self, party: Party, platform_id: str, origin: tuple[str, str]) -> Party | None:
        """The record as the platform shows it after we created it, computed without a
        request; None when the platform cannot say."""
        return None

    def find_parties(self, ledger_kind: str, ledger_ids: list[str] | None) -> dict[str, str]:
        """Ledger id -> platform key of those the platform carries (None: all it carries
        from that ledger)."""
        raise NotImplementedError

    def save_party(self, party: Party, platform_id: str | None, origin: tuple[str, str]) -> str:
        raise NotImplementedError

    def save_parties(self, parties: list[tuple[Party, str | None, tuple[str, str]]]) -> list[str]:
        return [self.save_party(party, platform_id, origin) for party, platform_id, origin in parties]

    # -- products and stock -------------------------------------------------------------
    def changed_products(self, since: datetime | None) -> Iterator[Product]:
        raise NotImplementedError

    def set_stock(self, levels: Iterable[StockLevel]) -> list[WriteResult]:
        raise NotImplementedError

    # -- notes on an invoice (payments, credit notes) ------------------------------------
    # The platform keeps a history under each invoice where bridge can add a line a sales
    # rep reads (Bitrix24's timeline comments). Such a note has no idempotency key, so the
    # flow looks for its marker (``find_invoice_note``) before a retry adds it again.
    takes_invoice_notes: bool = False

    def add_invoice_note(self, platform_id: str, text: str) -> str:
        """Add ``text`` under the invoice; returns the note's id. Only where ``takes_invoice_notes``."""
        raise NotImplementedError

    def find_invoice_note(self, platform_id: str, marker: str) -> str | None:
        """The id of a note under the invoice whose text holds ``marker``; None: none."""
        return None

    def set_online_link(self, platform_id: str, url: str) -> None:
        """Keep the ledger's online invoice link on the platform invoice (a field a sales
        rep copies); nothing by default."""

    # -- the administrator ------------------------------------------------------------
    @classmethod
    def notify_admin(cls, installation: Any, message: str) -> bool:
        """Tell the installation's administrator, inside the platform (Bitrix24's
        notifications). A class method: an alert needs no adapter, and an installation that
        cannot build one (uninstalled) is simply not told. False: no such channel here."""
        return False

    @classmethod
    def ledger_connected(cls, installation: Any, ledger_kind: str) -> None:
        """The installation has just connected ``ledger_kind``: the platform's own places
        that name the ledger follow (Bitrix24's tab and menu titles). Best effort, never
        raises: the connection stands whatever the platform says. Nothing by default."""


def ledger_class(kind: str) -> type[Ledger]:
    """The declared class of a ledger kind: its facts without building an adapter. An
    unknown kind gets the port's defaults."""
    return _LEDGER_KINDS.get(kind, Ledger)


def platform_class(kind: str) -> type[Platform]:
    return _PLATFORM_KINDS.get(kind, Platform)


def ledger_name(kind: str) -> str:
    """A ledger kind as users read it ("Xero")."""
    return _LEDGER_KINDS[kind].display_name if kind in _LEDGER_KINDS else kind.title()


def platform_name(kind: str) -> str:
    return _PLATFORM_KINDS[kind].display_name if kind in _PLATFORM_KINDS else kind.title()
