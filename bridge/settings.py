"""Validated settings per installation, in named sections, and the sections the flows read.

Each feature declares its section as a pydantic model with defaults (``register_section``),
so a new installation works with no setup and a form saves whole or not at all: the data
is validated as a whole section before anything is written, and the errors name the
fields. Stored as JSON in ``installation_settings`` with a version counter (a form posted
from a stale page can be refused instead of silently overwriting a newer save).

The sections every pair shares live here: numbering, tax and sales-account mapping,
stages, conflicts, the daily jobs and the party import. They are business rules, not wire
details (the same tax mapping serves Bitrix24 -> Xero and DG1 -> Bexio); a section that is
one system's notion (Bexio's user and currency, Bitrix24's stage ids) lives with its
connector. Each field names its form widget (``hint``): the settings pages of both
platforms render and read the fields by it (``bridge/web/settings_form.py``).
"""
from __future__ import annotations

from decimal import Decimal
from string import Formatter
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .extensions import db
from .models import Installation, InstallationSettings

Section = TypeVar("Section", bound=BaseModel)

SECTIONS: dict[str, type[BaseModel]] = {}

WIDGETS = ("checkbox", "select", "number", "text", "rows", "keyed")


class SettingsModel(BaseModel):
    """Base for sections: unknown fields are refused, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def hint(widget: str, **options: Any) -> dict[str, Any]:
    """A field's form widget, for ``Field(json_schema_extra=...)``: checkbox, select, number,
    text, rows (a table of key -> value rows: ``columns`` names the form's two columns) or
    keyed (one select per key the page lists: ``prefix`` + key). ``form_name`` is the
    form's name for the field when it differs from the field's own. Only the forms read it:
    the stored JSON is the field's value, whatever its widget."""
    if widget not in WIDGETS:
        raise ValueError(f"unknown widget {widget!r}")
    return {"widget": widget, **options}


def register_section(name: str):
    def register(model: type[Section]) -> type[Section]:
        SECTIONS[name] = model
        return model
    return register


class SettingsError(ValueError):
    """A section did not validate; ``errors`` maps field names to messages."""

    def __init__(self, section: str, errors: dict[str, str]) -> None:
        super().__init__(f"settings section {section!r} is invalid: {errors}")
        self.section = section
        self.errors = errors


class StaleSettings(ValueError):
    """Someone saved these settings after this form was loaded."""


def _row(installation: Installation) -> InstallationSettings:
    if installation.settings is None:
        installation.settings = InstallationSettings(data={}, version=1)
        db.session.flush()
    return installation.settings


def get_section(installation: Installation, name: str) -> BaseModel:
    """The section with defaults filled in. Never writes: flows read settings between
    calls to external systems and must not hold a write transaction while they do."""
    model = SECTIONS[name]
    stored = ((installation.settings.data if installation.settings else None) or {}).get(name, {})
    try:
        return model.model_validate(stored)
    except ValidationError:
        # A section saved by an older version that no longer validates: keep what still
        # does, default the rest, so the app keeps working and the form shows the defaults.
        valid = {k: v for k, v in stored.items() if k in model.model_fields}
        cleaned: dict[str, Any] = {}
        for key, value in valid.items():
            try:
                model.model_validate({**cleaned, key: value})
                cleaned[key] = value
            except ValidationError:
                continue
        return model.model_validate(cleaned)


def save_section(installation: Installation, name: str, data: dict[str, Any],
                 expected_version: int | None = None) -> BaseModel:
    """Validate the whole section, then store it; nothing is written on any error."""
    model = SECTIONS[name]
    try:
        validated = model.model_validate(data)
    except ValidationError as exc:
        errors = {".".join(str(p) for p in error["loc"]) or name: error["msg"] for error in exc.errors()}
        raise SettingsError(name, errors) from None
    row = _row(installation)
    if expected_version is not None and row.version != expected_version:
        raise StaleSettings("These settings were changed meanwhile; reload the page and try again.")
    row.data = {**(row.data or {}), name: validated.model_dump(mode="json")}
    row.version = (row.version or 0) + 1
    return validated


# --------------------------------------------------------------------------------------
# The shared sections
# --------------------------------------------------------------------------------------

MAX_RATE = Decimal(1000)  # percent: no tax is near it; a mapping key past it is a typing error
MASTER = hint("select")  # "platform" or "ledger": which side wins for a group of fields


def rate_key(rate: Decimal | str | float | None) -> str:
    """'8.1', '8.10' and 8.1 are one rate: the mapping is keyed by the normalised percent."""
    if rate is None:
        return "none"
    try:
        value = Decimal(str(rate)).normalize()
    except ArithmeticError:  # InvalidOperation, and Overflow for "1e9999999" (was a 500 in forms)
        raise ValueError(f"{rate!r} is not a tax rate") from None
    return format(value, "f")


@register_section("general")
class GeneralSettings(SettingsModel):
    enabled: bool = Field(True, json_schema_extra=hint("checkbox"))
    automatic_sync: bool = Field(True, json_schema_extra=hint("checkbox"))


@register_section("invoices")
class InvoiceSyncSettings(SettingsModel):
    # "ledger": the ledger numbers invoices, our key goes in the reference and is searched
    # before any create. "platform": the ledger invoice number is the platform's number.
    numbering: Literal["ledger", "platform"] = Field("ledger", json_schema_extra=hint("select"))
    # Days from the invoice date to its due date when the platform gives none: Xero will not
    # approve an invoice without a due date (https://developer.xero.com/documentation/api/invoices).
    due_days: int = Field(default=14, ge=0, le=365, json_schema_extra=hint("number"))
    # After a ledger invoice is created (the DG1 -> Bexio seed: issue, book the shop's
    # payment, e-mail it to the customer; Xero keeps drafts by default).
    issue_on_create: bool = Field(False, json_schema_extra=hint("checkbox"))
    create_payment: bool = Field(False, json_schema_extra=hint("checkbox"))
    send_by_email: bool = Field(False, json_schema_extra=hint("checkbox"))
    # Once the ledger has approved an invoice, may a deletion on the platform void it?
    void_authorised_on_cancel: bool = Field(False, json_schema_extra=hint("checkbox"))
    # Master side per field group once the ledger invoice left draft (issue: flow-back).
    header_master: Literal["platform", "ledger"] = Field("ledger", json_schema_extra=MASTER)
    lines_master: Literal["platform", "ledger"] = Field("ledger", json_schema_extra=MASTER)
    # Master side per customer field group for ledger-side edits of a customer bridge links
    # (the contact flow-back): "ledger" copies the ledger's edit to the platform; "platform"
    # keeps the platform's value and shows the ledger's edit as a conflict.
    name_master: Literal["platform", "ledger"] = Field("ledger", json_schema_extra=MASTER)
    contact_master: Literal["platform", "ledger"] = Field("ledger", json_schema_extra=MASTER)  # e-mail and phone
    address_master: Literal["platform", "ledger"] = Field("ledger", json_schema_extra=MASTER)
    # What moves the platform invoice to its "sent" stage: the ledger marking it sent to the
    # customer (Xero SentToContact; the seed: "once the invoice has been sent to a client")
    # or its approval. A ledger that does not say whether it was sent (Bexio) uses approval.
    sent_when: Literal["sent", "approved"] = Field("sent", json_schema_extra=hint("select"))
    # Stage ids on the platform for ledger statuses (prefilled from the portal's stages).
    stage_sent: str | None = Field(None, json_schema_extra=hint("select"))
    stage_paid: str | None = Field(None, json_schema_extra=hint("select"))
    stage_failed: str | None = Field(None, json_schema_extra=hint("select"))
    # A stage the user means as "refunded": a paid invoice moved there is credited in the
    # ledger like one moved to the failure stage (``invoice_cancel``).
    stage_refunded: str | None = Field(None, json_schema_extra=hint("select"))


@register_section("mapping")
class MappingSettings(SettingsModel):
    # platform tax rate (percent, normalised) -> ledger tax code
    tax_rates: dict[str, str] = Field({}, json_schema_extra=hint("rows", columns=("tax_rate", "tax_code")))
    tax_none: str | None = Field(None, json_schema_extra=hint("select"))  # ledger code for lines without tax
    default_sales_account: str | None = Field(None, json_schema_extra=hint("select"))
    sales_account_by_product: dict[str, str] = Field(
        {}, json_schema_extra=hint("rows", columns=("product_id", "product_account")))
    sales_account_by_section: dict[str, str] = Field(
        {}, json_schema_extra=hint("rows", columns=("section_id", "section_account")))
    shipping_tax: str | None = Field(None, json_schema_extra=hint("select"))
    payment_fee_tax: str | None = Field(None, json_schema_extra=hint("select"))

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

    # ledger "paid" -> the platform's paid stage / DG1 COMPLETED
    sync_status: bool = Field(True, json_schema_extra=hint("checkbox"))
    # platform products -> ledger articles, once per day
    sync_products: bool = Field(False, json_schema_extra=hint("checkbox"))
    # ledger stock -> platform, once per day, synced products only
    sync_stock: bool = Field(False, json_schema_extra=hint("checkbox"))
    # the reconciliation report, once per day (it only reads)
    reconciliation_report: bool = Field(True, json_schema_extra=hint("checkbox"))


@register_section("party_import")
class PartyImportSettings(SettingsModel):
    """"Import from Xero": what it brings into the platform and when. The button always
    works; the daily run waits until someone switches it on. Customers only by default: a
    supplier in the CRM is noise to most sales teams."""

    # also import once a day, without pressing the button
    daily: bool = Field(False, json_schema_extra=hint("checkbox", form_name="import_daily"))
    # import suppliers (contacts with purchase bills) too
    include_suppliers: bool = Field(False, json_schema_extra=hint("checkbox", form_name="import_suppliers"))


# What the customer reads on the ledger's document: the fields the user's settings own.
PLACEHOLDERS = ("number", "title", "customer", "date", "due_date")


def template_error(template: str) -> str | None:
    """Why a document template cannot be rendered (an unknown placeholder, a stray brace);
    None: it can. Checked on save, so an invoice never fails on a typing error."""
    try:
        fields = [(name, spec, conv) for _text, name, spec, conv in Formatter().parse(template) if name is not None]
    except ValueError:
        return "a { or } without its pair: write {{ or }} for the character itself"
    unknown = [name or "{}" for name, _spec, _conv in fields if name not in PLACEHOLDERS]
    if unknown or any(spec or conv for _name, spec, conv in fields):
        shown = ", ".join(dict.fromkeys(unknown)) or "a format"
        return (f"unknown placeholder {shown}: use "
                + ", ".join("{" + name + "}" for name in PLACEHOLDERS))
    return None


@register_section("document")
class DocumentSettings(SettingsModel):
    """Each field here is ours on the ledger's document only while it is set: empty (the
    default) leaves the ledger's field to whoever types in it there (docs/sync.md, "What the
    customer sees")."""

    # The ledger's Reference (Xero prints it on the invoice), e.g. "{number} {title}".
    reference_template: str = Field("", max_length=255, json_schema_extra=hint("text"))
    # Xero tracking: a category, and which option each line gets: by the product's section
    # (or a parent's) or by a platform field of the invoice, through the rows value -> option.
    tracking_category: str | None = Field(None, json_schema_extra=hint("select"))
    tracking_source: Literal["off", "section", "field"] = Field("off", json_schema_extra=hint("select"))
    tracking_field: str = Field("", max_length=100, json_schema_extra=hint("text"))
    tracking_options: dict[str, str] = Field(
        {}, json_schema_extra=hint("rows", columns=("tracking_value", "tracking_option")))
    # The branding theme (its ledger id) of every invoice; a company's own choice (a field
    # of the company on the platform) wins when set.
    branding_theme: str | None = Field(None, json_schema_extra=hint("select"))
    # The ledger's themes as the settings page read them last (name -> id): a company's
    # choice, typed by name, is found here without a call per invoice.
    known_themes: dict[str, str] = Field({}, json_schema_extra=hint("rows", columns=("theme_name", "theme_id")))
    # Bexio's title, header (text above the lines) and footer.
    title_template: str = Field("", max_length=255, json_schema_extra=hint("text"))
    header_template: str = Field("", max_length=4000, json_schema_extra=hint("text"))
    footer_template: str = Field("", max_length=4000, json_schema_extra=hint("text"))

    @field_validator("reference_template", "title_template", "header_template", "footer_template")
    @classmethod
    def known_placeholders(cls, value: str) -> str:
        problem = template_error(value)
        if problem:
            raise ValueError(problem)
        return value

    @property
    def tracking_on(self) -> bool:
        return bool(self.tracking_source != "off" and self.tracking_category and self.tracking_options)
