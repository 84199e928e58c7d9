"""The canonical model every connector maps to and from.

Platforms (Bitrix24, DG1) produce these objects; ledgers (Xero, Bexio) consume them,
and the other way round for status, payments and stock. Flows in ``bridge.sync`` are
written only against these types, so a new platform/ledger pair needs no new flow code.

Money is ``Decimal`` everywhere; rounding happens in each ledger's mapper, where the
ledger's own rule is known (Xero rounds tax per line, Bexio rounds totals to 0.05 CHF).
Tax rates are percentages (``Decimal("8.1")`` means 8.1 %), never coefficients.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal


class PartyKind(str, enum.Enum):
    PERSON = "person"
    COMPANY = "company"


class InvoiceStatus(str, enum.Enum):
    """Lifecycle common to every ledger; each mapper translates its own codes.

    AUTHORISED means approved/issued (Xero AUTHORISED, Bexio "open"): the document is
    final and may have been sent to the customer.
    """

    DRAFT = "draft"
    SUBMITTED = "submitted"
    AUTHORISED = "authorised"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    VOIDED = "voided"
    DELETED = "deleted"

    @property
    def is_final(self) -> bool:
        return self in (InvoiceStatus.PAID, InvoiceStatus.VOIDED, InvoiceStatus.DELETED)

    @property
    def is_cancelled(self) -> bool:
        """Voided or deleted: on a platform, a person's cancellation (failure stage)."""
        return self in (InvoiceStatus.VOIDED, InvoiceStatus.DELETED)

    @property
    def is_editable(self) -> bool:
        """Whether a platform-side edit may still be written to the ledger."""
        return self in (InvoiceStatus.DRAFT, InvoiceStatus.SUBMITTED)


class LineKind(str, enum.Enum):
    PRODUCT = "product"
    SHIPPING = "shipping"
    PAYMENT_FEE = "payment_fee"
    DISCOUNT = "discount"
    TEXT = "text"


@dataclass(frozen=True)
class Address:
    street: str = ""
    city: str = ""
    postcode: str = ""
    region: str = ""
    country_code: str = ""


@dataclass(frozen=True)
class Person:
    """A contact person: the person behind a company, or a company's extra contacts."""

    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""
    platform_id: str | None = None

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


@dataclass
class Party:
    """A customer as a ledger sees it: one person, or one company with its people.

    ``key`` is the platform-side identity (e.g. ``b24:<member>:CO:12``); it becomes the
    ledger's external key (Xero ContactNumber, Bexio contact number) so that a lookup
    finds what an earlier, interrupted sync created.
    """

    key: str
    kind: PartyKind
    name: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""
    mobile: str = ""
    address: Address = field(default_factory=Address)
    contact_persons: list[Person] = field(default_factory=list)
    tax_number: str = ""
    currency: str | None = None
    platform_id: str | None = None


@dataclass
class Line:
    description: str
    quantity: Decimal
    unit_price: Decimal
    kind: LineKind = LineKind.PRODUCT
    tax_rate: Decimal | None = None
    discount_rate: Decimal | None = None
    discount_amount: Decimal | None = None
    product_id: str | None = None
    product_section_id: str | None = None
    # The product's section and every section above it, nearest first: a sales account set
    # for a parent section covers its sub-sections.
    product_sections: tuple[str, ...] = ()
    sku: str | None = None
    unit: str = ""
    # Filled by the flow from settings (tax mapping, sales-account mapping) before mapping.
    ledger_tax_code: str | None = None
    ledger_account_code: str | None = None
    # (category, option) pairs from the tracking setting (Xero tracking categories); empty
    # while the setting is off, and then the ledger's own tracking of the line is left alone.
    ledger_tracking: tuple[tuple[str, str], ...] = ()


# ``Invoice.fields`` key of the customer company's own branding theme (its name or ledger
# id), where the platform keeps one on the company.
COMPANY_THEME = "company.branding_theme"


@dataclass
class Payment:
    amount: Decimal
    paid_on: date
    currency: str
    reference: str = ""
    method: str = ""
    ledger_account_code: str | None = None
    ledger_id: str | None = None


@dataclass
class Invoice:
    """A sales invoice (Bitrix24 invoice) or an order to be invoiced (DG1 order)."""

    key: str
    number: str
    issue_date: date
    currency: str
    party: Party
    lines: list[Line]
    due_date: date | None = None
    reference: str = ""
    prices_include_tax: bool = False
    status: InvoiceStatus = InvoiceStatus.DRAFT
    platform_url: str = ""
    sync_enabled: bool = True
    payments: list[Payment] = field(default_factory=list)
    language: str = ""
    platform_id: str | None = None
    updated_at: datetime | None = None
    # The platform's own fields of the invoice and its customer (Bitrix24 user fields, a
    # company's branding theme): what a setting may name as the source of a document field.
    fields: dict[str, str] = field(default_factory=dict)
    # What the customer sees that the user's settings own (``bridge/sync/shaping.py``):
    # reference, branding_theme, title, header, footer. A key absent is not ours: the
    # ledger keeps whatever a person typed there.
    shown: dict[str, str] = field(default_factory=dict)


@dataclass
class Product:
    key: str
    name: str
    sku: str | None
    price: Decimal
    currency: str
    tax_rate: Decimal | None = None
    prices_include_tax: bool = False
    description: str = ""
    active: bool = True
    stock_managed: bool = False
    site_id: str | None = None
    platform_id: str | None = None


@dataclass(frozen=True)
class StockLevel:
    """An absolute stock figure (never a delta) for one product or SKU."""

    quantity: Decimal
    sku: str | None = None
    product_key: str | None = None


@dataclass(frozen=True)
class StatusChange:
    """A ledger-side status the platform must follow (e.g. PAID -> stage "paid")."""

    invoice_key: str
    status: InvoiceStatus
    ledger_id: str
    amount_paid: Decimal = Decimal("0")
    amount_due: Decimal = Decimal("0")
    changed_at: datetime | None = None
