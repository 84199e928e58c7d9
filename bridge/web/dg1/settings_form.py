"""The DG1 "Bexio integration > Settings" form: exactly the seed's settings, saved whole.

The form spans six settings sections (``general``, ``invoices``, ``mapping``, ``bexio``,
``daily``, ``document``), read by the one settings engine (``bridge/web/settings_form.py``) with their
names qualified by section (``bexio.currency``). Every section is validated, and the rules
that need the shop or the ledger (the currency of each site, taxes that exist and have the
rate they are mapped to) are checked, before anything is written: one error anywhere and
nothing is saved, the form comes back with the error next to its field.

Tax periods: a DG1 rate maps to one Bexio tax, and Bexio taxes carry their validity
period (``start_year``/``end_year``). Mapping 7.7 % to a 7.7 % tax (valid to 2023) and
8.1 % to an 8.1 % tax (valid from 2024) makes both old and new orders work: an order's
rate picks its tax, and its service date falls in that tax's period. The choices are all
active sales taxes whatever their period (not only today's), shown with the period.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from ...errors import SyncError
from ...extensions import db
from ...messages import N_, joined
from ...ports import TaxCode
from ...settings import StaleSettings, get_section, rate_key, save_section
from ..settings_form import SectionForm, rows

FORMS = {form.section: form for form in (
    SectionForm("general", ("enabled", "automatic_sync"), qualified=True),
    SectionForm("invoices", ("create_payment", "send_by_email"), qualified=True),
    SectionForm("mapping", ("shipping_tax", "payment_fee_tax"), qualified=True),
    SectionForm("bexio", ("user_id", "language", "currency"), qualified=True),
    SectionForm("daily", ("sync_status", "sync_products", "sync_stock", "reconciliation_report"), qualified=True),
    # What the customer reads on the Bexio invoice: each text ours only while set here.
    SectionForm("document", ("title_template", "header_template", "footer_template"), qualified=True))}
FORM_SECTIONS = tuple(FORMS)
EMPTY_TAX_ROWS = 2  # blank rows for rates not mapped yet


@dataclass
class Choices:
    """What the selects offer, read from Bexio; ``error`` when Bexio could not be asked."""

    users: list[tuple[int, str]] = field(default_factory=list)
    languages: list[tuple[str, str]] = field(default_factory=list)
    currencies: list[str] = field(default_factory=list)
    taxes: list[TaxCode] = field(default_factory=list)
    error: SyncError | None = None

    def tax(self, code: str | None) -> TaxCode | None:
        return next((t for t in self.taxes if t.code == code), None)

    def tax_options(self) -> list[tuple[str, str]]:
        return [(tax.code, tax_label(tax)) for tax in self.taxes]


def shown() -> list[str]:
    """The form names of the fields the form shows: their errors are shown beside them."""
    return [form.name(name) for form in FORMS.values() for name in form.fields]


def tax_label(tax: TaxCode) -> str:
    period = f"{tax.valid_from.year if tax.valid_from else '…'}–{tax.valid_to.year if tax.valid_to else ''}"
    return f"{tax.name} ({format(tax.rate.normalize(), 'f')} %, {period})"


def load_choices(ledger) -> Choices:
    """Users, languages, currencies and the active sales taxes of every period."""
    if ledger is None:
        return Choices()
    try:
        taxes = [t for t in ledger.tax_codes() if t.active]
        return Choices(users=ledger.users(), languages=ledger.languages(), currencies=ledger.currencies(),
                       taxes=sorted(taxes, key=lambda t: (t.rate, t.valid_from or t.valid_to or 0, t.name)))
    except SyncError as exc:
        return Choices(error=exc)


def current(installation) -> dict[str, dict[str, Any]]:
    return {name: get_section(installation, name).model_dump(mode="json") for name in FORM_SECTIONS}


def shop_rates(products: list[dict[str, Any]], mapped: dict[str, str]) -> list[str]:
    """The DG1 rates to offer a row for: mapped ones and those the products use."""
    rates = set(mapped) - {"none"}
    for product in products:
        if product.get("tax_rate") not in (None, ""):
            try:
                rates.add(rate_key(product["tax_rate"]))
            except ValueError:
                continue
    return sorted(rates, key=Decimal)


def parse(form, installation, sites: list[dict[str, Any]], choices: Choices) -> tuple[dict[str, dict], dict[str, str]]:
    """The sections the form asks for, and errors by form field name (empty: valid)."""
    stored = current(installation)
    data = {section: section_form.read(form, stored[section]) for section, section_form in FORMS.items()}
    errors: dict[str, str] = {}
    # The seed: a DG1 cancellation cancels the Bexio invoice while it is unpaid, issued or
    # not (payments make it a manual action instead); the form has no switch for it.
    data["invoices"]["void_authorised_on_cancel"] = True
    bexio = data["bexio"]
    # None is the form's "the user who connected" choice.
    if choices.users and bexio["user_id"] is not None and bexio["user_id"] not in [u for u, _ in choices.users]:
        errors["bexio.user_id"] = N_("Choose the Bexio user that orders and products are attributed to.")
    if choices.languages and bexio["language"] not in [code for code, _ in choices.languages]:
        errors["bexio.language"] = N_("Choose a language Bexio knows.")
    bexio["currency"] = str(bexio["currency"] or "").upper()
    wrong = [s for s in sites if str(s.get("currency", "")).upper() != bexio["currency"]]
    if wrong:
        errors["bexio.currency"] = joined([N_("The site %(site)s (%(site_id)s) sells in %(currency)s, not %(chosen)s.",
                                              site=s.get("name") or s["id"], site_id=s["id"],
                                              currency=s.get("currency"), chosen=bexio["currency"]) for s in wrong]
                                          + [N_("The currency must be the one every site of the shop uses.")])
    mapping = data["mapping"]
    for name in ("shipping_tax", "payment_fee_tax"):
        code = mapping[name]
        if code is None and choices.taxes:
            errors[f"mapping.{name}"] = N_("Choose the Bexio tax for this.")
        elif choices.taxes and choices.tax(code) is None:
            errors[f"mapping.{name}"] = N_("This tax is not an active sales tax in Bexio.")
    mapping["tax_rates"] = _tax_rows(form, choices, errors)
    for section, section_form in FORMS.items():  # the sections' own refusals, where the page found none
        for name, message in section_form.errors(data[section]).items():
            errors.setdefault(name, message)
    return data, errors


def _tax_rows(form, choices: Choices, errors: dict[str, str]) -> dict[str, str]:
    """``tax_rate.N`` / ``tax_code.N`` rows -> {rate: tax id}. A Bexio tax mapped to a rate
    it does not have is refused: the seed asks for the same value on both sides."""
    mapped: dict[str, str] = {}
    for row in rows(form, "tax_rate", "tax_code"):
        raw, code = row.key.strip().rstrip("%").strip(), row.value or ""
        field_name = f"tax_code.{row.index}"
        if not raw and not code:
            continue
        try:
            rate = rate_key(raw.replace(",", "."))
            Decimal(rate)
        except (ValueError, InvalidOperation):
            errors[f"tax_rate.{row.index}"] = N_("“%(value)s” is not a tax rate such as 8.10.", value=raw)
            continue
        tax = choices.tax(code)
        if not code:
            errors[field_name] = N_("Choose the Bexio tax for %(rate)s %%.", rate=rate)
        elif choices.taxes and tax is None:
            errors[field_name] = N_("This tax is not an active sales tax in Bexio.")
        elif tax is not None and tax.rate.normalize() != Decimal(rate).normalize():
            errors[field_name] = N_("%(tax)s is %(theirs)s %%, not %(rate)s %%: the tax value must be the same in "
                                    "DG1 and Bexio.", tax=tax.name, theirs=format(tax.rate.normalize(), "f"), rate=rate)
        elif rate in mapped:
            errors[field_name] = N_("%(rate)s %% is mapped twice.", rate=rate)
        else:
            mapped[rate] = code
    return mapped


def save(installation, data: dict[str, dict], version: int | None) -> None:
    """Write every section, or none (the caller commits)."""
    stored = installation.settings.version if installation.settings else None
    if version is not None and stored is not None and stored != version:
        raise StaleSettings(N_("These settings were changed meanwhile; reload the page and try again."))
    for section in FORM_SECTIONS:
        save_section(installation, section, data[section])
    db.session.commit()
