"""What the customer sees on the ledger's document, from the user's settings (section
``document``): the Reference, the branding theme, the lines' tracking, Bexio's title, header
and footer.

Each such field is ours only while its setting owns it: ``shape`` puts a key in
``Invoice.shown`` (or tracking on a line) only for a setting that is set, and a ledger's
mapper writes only the keys it finds. With a setting empty, the field is left out of every
write, so what a person typed there in the ledger stays. The rendered document is hashed
as before (``ledger_document``), so an invoice whose shaped fields did not change is not
written again.

No call is made here: the choices (tracking categories, branding themes) are read by the
settings page only, and the settings keep the names and ids the ledger takes.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..domain import COMPANY_THEME, Invoice, LineKind
from ..settings import DocumentSettings, get_section

TEMPLATES = {"reference": "reference_template", "title": "title_template", "header": "header_template",
             "footer": "footer_template"}


def values(invoice: Invoice) -> dict[str, str]:
    """What a template's placeholders stand for (``bridge.settings.PLACEHOLDERS``)."""
    return {"number": invoice.number, "title": invoice.reference, "customer": invoice.party.name,
            "date": invoice.issue_date.isoformat(),
            "due_date": invoice.due_date.isoformat() if invoice.due_date else ""}


def render(template: str, invoice: Invoice) -> str:
    """The template with its placeholders filled; whitespace at either end dropped (an
    invoice without a title gives "INV-7", not "INV-7 ")."""
    return template.format(**values(invoice)).strip()


def shape(installation: Any, invoice: Invoice) -> Invoice:
    """``invoice`` with the user's document fields: ``shown`` and the lines' tracking.
    Called on the invoice as the platform gave it (its own number and title), before the
    ledger's numbering blanks the number."""
    settings: DocumentSettings = get_section(installation, "document")  # type: ignore[assignment]
    shown = {key: render(getattr(settings, field), invoice)
             for key, field in TEMPLATES.items() if getattr(settings, field)}
    theme = company_theme(invoice, settings.known_themes) or settings.branding_theme
    if theme:
        shown["branding_theme"] = theme
    lines = invoice.lines
    if settings.tracking_on:
        lines = [replace(line, ledger_tracking=tracking(line, invoice, settings)) for line in lines]
    return replace(invoice, shown=shown, lines=lines)


def keep_ledger_tracking(installation: Any, invoice: Invoice, ledger_invoice: Invoice | None) -> Invoice:
    """``invoice`` about to be written over ``ledger_invoice`` (the ledger's current version):
    while the setting does not own tracking, each line carries the tracking a person set on
    its twin in the ledger, since a rewrite of the lines would drop it (fields we do not own
    are never changed). A line's twin: the first line not yet paired with the same
    description, else the line at the same place. The content hash is taken before this, so
    a person's tracking never makes an invoice look edited. With the setting on, ours wins."""
    settings: DocumentSettings = get_section(installation, "document")  # type: ignore[assignment]
    if settings.tracking_on or ledger_invoice is None or not any(l.ledger_tracking for l in ledger_invoice.lines):
        return invoice
    theirs = list(ledger_invoice.lines)
    free = set(range(len(theirs)))
    twins: list[int | None] = []
    for place, line in enumerate(invoice.lines):
        same = next((i for i in sorted(free) if _said(theirs[i]) == _said(line)), None)
        twin = same if same is not None else (place if place in free else None)
        free.discard(twin)
        twins.append(twin)
    lines = [replace(line, ledger_tracking=theirs[twin].ledger_tracking)
             if twin is not None and line.kind != LineKind.TEXT and not line.ledger_tracking else line
             for line, twin in zip(invoice.lines, twins)]
    return replace(invoice, lines=lines)


def _said(line) -> str:
    return (line.description or "").strip().casefold()


def company_theme(invoice: Invoice, themes: dict[str, str]) -> str:
    """The customer company's own theme: its name (or id) among ``themes`` (name -> id, as
    the settings page read them last); "" when the company names none the ledger has."""
    chosen = (invoice.fields.get(COMPANY_THEME) or "").strip()
    if not chosen:
        return ""
    known = {name.casefold(): theme_id for name, theme_id in themes.items()}
    if chosen.casefold() in known:
        return known[chosen.casefold()]
    return chosen if chosen in themes.values() else ""


def tracking(line, invoice: Invoice, settings: DocumentSettings) -> tuple[tuple[str, str], ...]:
    """The line's (category, option): the option mapped to the product's section (the
    nearest one mapped, a parent's covering its sub-sections) or to the invoice's field.
    A value with no option mapped gives the line no tracking; a text line has none."""
    if line.kind == LineKind.TEXT:
        return ()
    if settings.tracking_source == "section":
        candidates = line.product_sections or ((line.product_section_id,) if line.product_section_id else ())
    else:
        candidates = (field_value(invoice.fields, settings.tracking_field),)
    option = next((settings.tracking_options[str(c)] for c in candidates if str(c) in settings.tracking_options), None)
    return ((settings.tracking_category or "", option),) if option else ()


def field_value(fields: dict[str, str], name: str) -> str:
    """The value of the field the user named, however they spelt it: a platform may show a
    field's name one way on its settings pages and read it another (Bitrix24's field
    settings say ``UF_CRM_SMART_INVOICE_REGION``, its invoices carry
    ``ufCrmSmartInvoiceRegion``); case and underscores aside, the names are the same."""
    name = (name or "").strip()
    if name in fields:
        return fields[name]
    wanted = _spelling(name)
    return next((value for key, value in fields.items() if _spelling(key) == wanted), "")


def _spelling(name: str) -> str:
    return name.replace("_", "").casefold()
