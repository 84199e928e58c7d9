"""Settings the flows read: numbering, tax and sales-account mapping, stages, conflicts.

Declared here, in the sync layer, because they are business rules, not wire details: the
same tax mapping serves Bitrix24 -> Xero and DG1 -> Bexio.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator

from ..settings import SettingsModel, register_section


MAX_RATE = Decimal(1000)  # percent: no tax is near it; a mapping key past it is a typing error


def rate_key(rate: Decimal | str | float | None) -> str:
    """'8.1', '8.10' and 8.1 are one rate: the mapping is keyed by the normalised percent."""
    if rate is None:
        return "none"
    try:
        value = Decimal(str(rate)).normalize()
    except ArithmeticError:  # InvalidOperation, and Overflow for "1e9999999" (was a 500 in forms)
        raise ValueError(f"{rate!r} is not a tax rate") from None
    return format(value, "f")


@register_section("invoices")
class InvoiceSyncSettings(SettingsModel):
    # "ledger": the ledger numbers invoices, our key goes in the reference and is searched
    # before any create. "platform": the ledger invoice number is the platform's number.
    numbering: Literal["ledger", "platform"] = "ledger"
    # Days from the invoice date to its due date when the platform gives none: Xero will not
    # approve an invoice without a due date (specs/xero/NOTES.md section 3).
    due_days: int = Field(default=14, ge=0, le=365)
    # After a ledger invoice is created (the DG1 -> Bexio seed: issue, book the shop's
    # payment, e-mail it to the customer; Xero keeps drafts by default).
    issue_on_create: bool = False
    create_payment: bool = False
    send_by_email: bool = False
    # Once the ledger has approved an invoice, may a deletion on the platform void it?
    void_authorised_on_cancel: bool = False
    # Master side per field group once the ledger invoice left draft (issue: flow-back).
    header_master: Literal["platform", "ledger"] = "ledger"
    lines_master: Literal["platform", "ledger"] = "ledger"
    # Master side per customer field group for ledger-side edits of a customer bridge links
    # (the contact flow-back): "ledger" copies the ledger's edit to the platform; "platform"
    # keeps the platform's value and shows the ledger's edit as a conflict.
    name_master: Literal["platform", "ledger"] = "ledger"
    contact_master: Literal["platform", "ledger"] = "ledger"  # e-mail and phone
    address_master: Literal["platform", "ledger"] = "ledger"
    # What moves the platform invoice to its "sent" stage: the ledger marking it sent to the
    # customer (Xero SentToContact; the seed: "once the invoice has been sent to a client")
    # or its approval. A ledger that does not say whether it was sent (Bexio) uses approval.
    sent_when: Literal["sent", "approved"] = "sent"
    # Stage ids on the platform for ledger statuses (prefilled from the portal's stages).
    stage_sent: str | None = None
    stage_paid: str | None = None
    stage_failed: str | None = None


@register_section("mapping")
class MappingSettings(SettingsModel):
    # platform tax rate (percent, normalised) -> ledger tax code
    tax_rates: dict[str, str] = {}
    tax_none: str | None = None  # ledger code for lines without tax
    default_sales_account: str | None = None
    sales_account_by_product: dict[str, str] = {}
    sales_account_by_section: dict[str, str] = {}
    shipping_tax: str | None = None
    payment_fee_tax: str | None = None

    @field_validator("tax_rates")
    @classmethod
    def normalise_rates(cls, value: dict[str, str]) -> dict[str, str]:
        keys = {rate: rate_key(rate) if rate != "none" else "none" for rate in value}
        for rate, key in keys.items():  # "NaN", or "1e999999" stored as a key of a million digits
            percent = Decimal(key) if key != "none" else Decimal(0)
            if not (percent.is_finite() and abs(percent) < MAX_RATE):
                raise ValueError(f"{rate!r} is not a tax rate")
        return {keys[rate]: code for rate, code in value.items()}


@register_section("daily")
class DailySyncSettings(SettingsModel):
    """The seed's daily jobs, each switched on by its own setting. Status sync stays on by
    default (it is what every pair did before it could be switched off); product and
    stock sync write into the other system, so they wait until someone asks for them."""

    sync_status: bool = True  # ledger "paid" -> the platform's paid stage / DG1 COMPLETED
    sync_products: bool = False  # platform products -> ledger articles, once per day
    sync_stock: bool = False  # ledger stock -> platform, once per day, synced products only


@register_section("party_import")
class PartyImportSettings(SettingsModel):
    """"Import from Xero": what it brings into the platform and when. The button always
    works; the daily run waits until someone switches it on. Customers only by default: a
    supplier in the CRM is noise to most sales teams."""

    daily: bool = False  # also import once a day, without pressing the button
    include_suppliers: bool = False  # import suppliers (contacts with purchase bills) too
