"""Settings applied to an invoice before a ledger maps it: tax codes and sales accounts.

A line whose tax rate has no mapping fails the sync with a sentence naming the rate and the
setting that fixes it; we never guess a tax code.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from ..domain import Invoice, InvoiceStatus, LineKind
from ..errors import PermanentError
from ..settings import MappingSettings, get_section, rate_key
from ..messages import N_
from .links import content_hash
from .shaping import shape


def apply_mapping(invoice: Invoice, mapping: MappingSettings, *, needs_accounts: bool) -> Invoice:
    for line in invoice.lines:
        if line.kind == LineKind.TEXT:
            continue
        line.ledger_tax_code = _tax_code(line, mapping)
        if needs_accounts:
            line.ledger_account_code = (
                (line.product_id and mapping.sales_account_by_product.get(str(line.product_id)))
                or _section_account(line, mapping)
                or mapping.default_sales_account)
            if not line.ledger_account_code:
                raise PermanentError(
                    N_("No sales account for the line \"%(line)s\".", line=line.description), code="unmapped_account",
                    fix=N_("Settings > Sales accounts: choose a default sales account."))
    return invoice


def _section_account(line, mapping: MappingSettings) -> str | None:
    """The account of the nearest section that has one: the product's own, then its parents."""
    sections = line.product_sections or ((line.product_section_id,) if line.product_section_id else ())
    return next((mapping.sales_account_by_section[str(s)] for s in sections
                 if str(s) in mapping.sales_account_by_section), None)


def _tax_code(line, mapping: MappingSettings) -> str | None:
    if line.kind == LineKind.SHIPPING and mapping.shipping_tax:
        return mapping.shipping_tax
    if line.kind == LineKind.PAYMENT_FEE and mapping.payment_fee_tax:
        return mapping.payment_fee_tax
    if line.tax_rate is None or line.tax_rate == 0:
        code = mapping.tax_rates.get(rate_key(line.tax_rate)) if line.tax_rate is not None else None
        return code or mapping.tax_none
    code = mapping.tax_rates.get(rate_key(line.tax_rate))
    if code is None:
        raise PermanentError(
            N_("The tax rate %(rate)s %% (line \"%(line)s\") is not mapped to a tax rate of the accounting system.",
               rate=rate_key(line.tax_rate), line=line.description),
            code="unmapped_tax_rate", fix=N_("Settings > Tax mapping: map this rate."))
    return code


def ledger_document(installation, ledger, invoice: Invoice, party_ledger_id: str | None) -> tuple[Invoice, dict]:
    """The invoice as this ledger would receive it: mapping and numbering applied, then the
    ledger's own rendering. Export, preview and flow-back all go through here, so their
    content hashes agree."""
    apply_mapping(invoice, get_section(installation, "mapping"), needs_accounts=ledger.needs_sales_accounts)
    invoice = shape(installation, invoice)  # the user's document fields, before the number is blanked
    # New ledger invoices are drafts (the seed); the platform's stage is not content: it
    # follows the ledger, and must not make an invoice look edited when it moves.
    invoice = replace(invoice, status=InvoiceStatus.DRAFT)
    settings = get_section(installation, "invoices")
    invoice = with_due_date(installation, invoice)
    if settings.numbering == "ledger":
        invoice = replace(invoice, number="")  # the ledger numbers it; our key is the reference
    return invoice, ledger.preview_invoice(invoice, party_ledger_id)


def plain_digest(ledger, invoice: Invoice, party_ledger_id: str | None) -> str:
    """The content hash of ``invoice`` (as ``ledger_document`` returned it) without what the
    document settings add (Reference, branding theme, title/header/footer, tracking).

    Stored on the link beside the content hash (``extra["plain_hash"]``): when the content
    hash differs and this one does not, only a setting changed, not the invoice, so an
    approved invoice is neither rewritten nor shown as a conflict for it."""
    bare = replace(invoice, shown={}, lines=[replace(line, ledger_tracking=()) for line in invoice.lines])
    return document_digests(ledger, ledger.preview_invoice(bare, party_ledger_id))[0]


def link_plain_digest(link) -> str | None:
    """The plain hash of what was last written; a link written before it was kept has its
    content hash, which is the plain one when no document setting was set then."""
    return (link.extra or {}).get("plain_hash") or link.content_hash


def with_due_date(installation, invoice: Invoice) -> Invoice:
    """A platform invoice without a due date goes to the ledger with the issue date plus
    the payment terms; the flow-back compares with that too, so the date is no ledger edit."""
    if invoice.due_date is not None:
        return invoice
    return replace(invoice, due_date=invoice.issue_date + timedelta(days=get_section(installation, "invoices").due_days))


def document_digests(ledger, document: dict) -> tuple[str, ...]:
    """The content hash to store for a rendered invoice, then any other hash that means
    the same content; a link whose hash is one of them is unchanged.

    A ledger that renders one content in several ways (Bexio: a product line is an article
    position once its product is an article) gives, as ``comparable_document``, the form
    that does not depend on that (by default the document itself), and the hash is taken of
    it. The hash of the rendering itself still counts as unchanged: links written before
    were hashed that way."""
    digests = (content_hash(ledger.comparable_document(document)), content_hash(document))
    return tuple(dict.fromkeys(digests))
