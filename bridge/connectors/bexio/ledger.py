"""``BexioLedger``: the ``Ledger`` port (bridge/ports.py) for one Bexio company.

Identity rules (DESIGN principle 4, NOTES §5 "api_reference", §8.2):

- an invoice is ours when its ``api_reference`` equals the platform key
  (``dg1:<tenant>:<site>:<order>``); Bexio has no Idempotency-Key and does not enforce
  uniqueness, so that search (with ``=``, a ``like`` would match ``...:12`` for ``...:123``)
  runs before every create, here and not only in the flow;
- a contact is ours when its ``nr`` is our party key; otherwise one with the same e-mail
  (searched with ``=``) is reused, never a duplicate made;
- an article is ours when its ``intern_code`` is the SKU (or ``<platform>-<site>-<id>``).

Bexio has no batch endpoints: every write is one call, and a spent budget or a lost
authorisation stops the rest of a batch at once (they are reported, not attempted).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterator

from flask import current_app

from ...domain import Invoice, InvoiceStatus, LineKind, Party, Payment, Product, StockLevel
from ...errors import BudgetExhausted, ConflictError, NeedsReconnect, PermanentError, SyncError
from ...messages import N_
from ...settings import get_section
from ...models import Installation, LedgerConnection
from ...ratelimit import limiter_for_app
from ...ports import (BookedTotals, Claims, InvoiceWrite, Ledger, LedgerDocument, LedgerParty, PartyMatch,
                      SalesAccount, TaxCode, WriteResult)
from . import mapper
from .client import BexioClient, Condition, v2_timestamp
from .connection import VaultTokens, oauth_for_app
from .reference import References

log = logging.getLogger(__name__)

MAX_POSITIONS_ON_CREATE = 150  # NOTES §5 "Positions": more go through the position endpoints
POSITION_PATHS = {"KbPositionCustom": "kb_position_custom", "KbPositionArticle": "kb_position_article",
                  "KbPositionText": "kb_position_text", "KbPositionSubtotal": "kb_position_subtotal",
                  "KbPositionPagebreak": "kb_position_pagebreak", "KbPositionDiscount": "kb_position_discount",
                  "KbPositionSubposition": "kb_position_subposition"}
MANUAL_CREDIT_NOTE = "needs manual action: Bexio's API cannot make credit notes"


@dataclass
class BexioOptions:
    """The installation's Bexio settings (section ``bexio``, bridge/connectors/bexio/settings.py)."""

    user_id: int | None = None  # documents are attributed to this user; default: who connected
    language: str = ""  # iso 639-1 of the invoice language; empty: the order's, else German
    currency: str = ""  # must equal the shop's currency; empty: the invoice's own
    account_id: int | None = None  # revenue account for lines without one
    bank_account_id: int | None = None
    email_subject: str | None = None  # "{number}" is replaced; default per language
    email_message: str | None = None  # must contain [Network Link]
    void_unpaid: bool = True
    platform: str = "dg1"  # prefix of intern codes of products without a SKU
    reference_prefix: str = ""  # api_reference prefix of this installation's invoices
    tax_ids: dict[str, int] = field(default_factory=dict)  # rate ("8.1") -> tax id, for articles
    rate_taxes: dict[str, str] = field(default_factory=dict)  # the tax mapping: rate ("8.1") -> tax id

    @classmethod
    def from_settings(cls, installation: Installation) -> "BexioOptions":
        section = get_section(installation, "bexio")
        return cls(user_id=section.user_id, language=section.language, currency=section.currency,
                   account_id=section.account_id, bank_account_id=section.bank_account_id,
                   email_subject=section.email_subject, email_message=section.email_message,
                   platform=installation.platform,
                   reference_prefix=f"{installation.platform}:{installation.account_id}:",
                   tax_ids=dict(section.article_tax_ids),
                   rate_taxes=dict(get_section(installation, "mapping").tax_rates))


def _stops_batch(error: SyncError) -> bool:
    return isinstance(error, (BudgetExhausted, NeedsReconnect))


class BexioLedger(Ledger, kind="bexio"):
    display_name = "Bexio"
    # Bexio computes tax per rate on the document and rounds only the total to the
    # currency's round factor, CHF 0.05 (https://docs.bexio.com/, ``total_rounding_difference``).
    round_factor = Decimal("0.05")

    def __init__(self, client: BexioClient, *, organisation_id: str, options: BexioOptions,
                 web_url: str = "https://office.bexio.com") -> None:
        self.client = client
        self.organisation_id = organisation_id
        self.options = options
        self.web_url = web_url.rstrip("/")
        self.refs = References(client)
        self._taxes_today: list[TaxCode] | None = None
        self._sales_taxes: dict[str, TaxCode] | None = None

    @classmethod
    def build(cls, installation: Installation, connection: LedgerConnection) -> "BexioLedger":
        """The adapter for ``installation``'s Bexio company (needs an app context)."""
        app = current_app
        if not connection.credential_id or not connection.active:
            raise NeedsReconnect(N_("Bexio is not connected."), fix=N_("Connect Bexio in the integration settings."))
        tokens = VaultTokens(connection.id, connection.credential_id, oauth_for_app(app), app)
        client = BexioClient(api_url=app.config["BEXIO_API_URL"], tokens=tokens, limiter=limiter_for_app(app),
                             company_id=connection.organisation_id,
                             timeout=float(app.config.get("HTTP_TIMEOUT_SECONDS", 30)))
        return cls(client, organisation_id=connection.organisation_id,
                   options=BexioOptions.from_settings(installation),
                   web_url=app.config.get("BEXIO_WEB_URL") or "https://office.bexio.com")

    # ======================================================================================
    # customers
    # ======================================================================================

    def match_party(self, party: Party, linked_ledger_id: str | None, claims: Claims | None = None) -> PartyMatch:
        if linked_ledger_id:
            try:
                row = self.client.get_contact(int(linked_ledger_id))
                return PartyMatch(str(row["id"]), party.name, "link")
            except PermanentError as exc:
                if exc.status != 404:
                    raise  # the linked contact was deleted or archived: find or create anew
        if party.key:
            hits = self.client.search_contacts([("nr", party.key, "=")])
            if hits:
                return PartyMatch(str(min(int(h["id"]) for h in hits)), party.name, "external_key")
        if party.email:
            hits = self.client.search_contacts([("mail", party.email, "=")])
            # Never a contact bridge's links give to another customer (``Claims``).
            same_kind = sorted((h for h in hits if h.get("contact_type_id") == mapper.contact_type(party)
                                and not (claims and claims.taken(party.key, str(h["id"])))),
                               key=lambda h: int(h["id"]))
            if same_kind:
                warning = None
                if len(same_kind) > 1:
                    warning = (f"{len(same_kind)} Bexio contacts have the e-mail {party.email}; "
                               f"the oldest (id {same_kind[0]['id']}) is used.")
                return PartyMatch(str(same_kind[0]["id"]), party.name, "email", warning)
        return PartyMatch(None, party.name)

    def save_party(self, party: Party, match: PartyMatch, idempotency_key: str) -> WriteResult:
        user_id = self.refs.user_id(self.options.user_id)
        country_id = self.refs.country_id(party.address.country_code)
        language_id = self._language_id_or_none(self.options.language or "de")
        if match.ledger_id and match.matched_by == "email":
            # A contact someone keeps in Bexio: reuse it, do not overwrite their data.
            return WriteResult(ok=True, ledger_id=match.ledger_id, url=self._contact_url(match.ledger_id),
                               warnings=[match.warning] if match.warning else [])
        body = mapper.party_to_contact(party, user_id=user_id, country_id=country_id, language_id=language_id)
        if match.ledger_id:
            row = self.client.update_contact(int(match.ledger_id), body)
            return self._party_result(row, body, [])
        warnings: list[str] = [match.warning] if match.warning else []
        try:
            row = self.client.create_contact({**body, "nr": party.key})
        except PermanentError as exc:
            # [M] NOTES §4 says nr null means auto-numbered, not whether a chosen nr is
            # accepted with automatic numbering on; if Bexio refuses it, let Bexio number.
            if exc.status != 422 or "nr" not in " ".join(exc.ledger_messages):
                raise
            row = self.client.create_contact(body)
            warnings.append("Bexio numbers contacts itself, so the contact is found by e-mail next time.")
        return self._party_result(row, body, warnings)

    def _party_result(self, row: dict[str, Any], body: dict[str, Any], warnings: list[str]) -> WriteResult:
        return WriteResult(ok=True, ledger_id=str(row["id"]), number=str(row.get("nr") or ""),
                           url=self._contact_url(row["id"]), sent=body,
                           received={"id": row["id"], "nr": row.get("nr")}, warnings=warnings)

    def changed_parties(self, since: datetime | None) -> Iterator[LedgerParty]:
        """Oldest change first (the port's contract: an import goes on from its mark)."""
        codes = self.refs.country_codes()
        oldest_first = "updated_at,id"  # NOTES §2 "Pagination": order_by, comma-combinable
        if since is None:
            rows = self.client.pages("GET", "2.0/contact", params={"order_by": oldest_first})
        else:
            rows = self.client.search("contact", [("updated_at", v2_timestamp(since), ">=")], order_by=oldest_first)
        for row in rows:
            yield mapper.contact_to_party(row, country_codes=codes)

    # ======================================================================================
    # invoices
    # ======================================================================================

    def find_invoice(self, invoice: Invoice, lookup: object = None) -> LedgerDocument | None:
        """By api_reference (ours, never printed). ``lookup`` is for ledgers that cannot
        search by such a field (Xero); Bexio can, so it is not needed here."""
        reference = mapper.api_reference(invoice)
        hits = [h for h in self.client.search_invoices([("api_reference", reference, "=")])
                if h.get("api_reference") == reference]
        live = [h for h in hits if h.get("kb_item_status_id") != mapper.CANCELLED]
        if len(live) > 1:
            numbers = ", ".join(str(h.get("document_nr")) for h in live)
            raise ConflictError(N_("Several Bexio invoices carry the reference %(reference)s: %(numbers)s.",
                                   reference=reference, numbers=numbers),
                                code="duplicate_reference", theirs=[h["id"] for h in live],
                                fix=N_("Cancel or delete the extra invoices in Bexio, then sync again."))
        chosen = live or sorted(hits, key=lambda h: -int(h["id"]))
        return self._document(chosen[0]) if chosen else None

    def get_invoices(self, ledger_ids: list[str]) -> list[LedgerDocument]:
        """The invoices, with their payments where they have any (one more call each: the
        invoice does not list them, NOTES §5 "Payments"), so the platform shows each one."""
        found = []
        for ledger_id in ledger_ids:
            try:
                document = self._document(self.client.get_invoice(int(ledger_id)))
            except PermanentError as exc:
                if exc.status != 404:
                    raise
                continue
            if document.amount_paid > 0:
                document = replace(document, settlements=tuple(
                    mapper.settlement(p) for p in self.client.payments(int(ledger_id))))
            found.append(document)
        return found

    def preview_invoice(self, invoice: Invoice, party_ledger_id: str | None) -> dict[str, Any]:
        return mapper.invoice_to_kb(invoice, self._invoice_refs(invoice, int(party_ledger_id or 0)))

    @property
    def product_currency(self) -> str | None:  # type: ignore[override]
        """The shop's currency as set for Bexio: articles are priced in it."""
        return self.options.currency

    @staticmethod
    def booked_totals(received: dict[str, Any] | None) -> BookedTotals | None:
        """``total`` and ``total_taxes`` of the document Bexio answered with."""
        received = received or {}
        return BookedTotals.read(received.get("total_taxes"), received.get("total"), received.get("currency"))

    def comparable_document(self, document: dict[str, Any]) -> dict[str, Any]:
        """What a content hash is taken of: the rendering without the article mapping
        (``mapper.as_customer_reads``), so that articles made later are no change."""
        return mapper.as_customer_reads(document)

    def _date_service_taxes(self, invoice: Invoice) -> None:
        """Shipping and payment-fee lines get the Bexio tax of their service date, as
        product lines do (NOTES §8.3: 7.7 % and 8.1 % are separate tax records, each valid
        in its own period).

        The shipping and fee settings name one tax. It is used when the line's rate is its
        rate and the service date lies in its period; otherwise (an order from before the
        2024 VAT change, say) the line's own rate goes through the tax mapping, exactly as
        a product line's does, and an unmapped rate fails naming it."""
        for line in invoice.lines:
            if line.kind not in (LineKind.SHIPPING, LineKind.PAYMENT_FEE) or not line.ledger_tax_code:
                continue
            chosen = self._sales_tax(line.ledger_tax_code)
            rate = line.tax_rate if line.tax_rate else None
            if chosen is not None and _valid_on(chosen, invoice.issue_date) and (rate is None or chosen.rate == rate):
                continue
            if rate is None:
                continue  # no rate to go by: the setting stands, as before
            mapped = self.options.rate_taxes.get(format(rate.normalize(), "f"))
            if mapped is None:
                shipping = line.kind == LineKind.SHIPPING
                what = N_("Shipping") if shipping else N_("The payment fee")
                setting = N_("shipping tax rate") if shipping else N_("payment fee tax rate")
                valid = f" ({chosen.name}, {_period(chosen)})" if chosen is not None else ""
                percent = format(rate, ".2f")
                raise PermanentError(
                    N_("%(what)s of this order is taxed at %(rate)s %% on %(date)s, but the %(setting)s "
                       "setting%(valid)s is for another rate or period, and %(rate)s %% is not in the tax mapping.",
                       what=what, rate=percent, date=invoice.issue_date.isoformat(), setting=setting, valid=valid),
                    code="unmapped_tax_rate",
                    fix=N_("Settings > Taxes mapping: map %(rate)s %% to the Bexio tax of that period.",
                           rate=percent))
            line.ledger_tax_code = mapped

    def _sales_tax(self, code: str) -> TaxCode | None:
        """Every active sales tax, whatever its period, read once per adapter."""
        if self._sales_taxes is None:
            self._sales_taxes = {t.code: t for t in self.tax_codes()}
        return self._sales_taxes.get(str(code))

    def save_invoices(self, writes: list[InvoiceWrite]) -> list[WriteResult]:
        results: list[WriteResult] = []
        stop: SyncError | None = None
        for write in writes:
            if stop is not None:
                results.append(WriteResult(ok=False, error=stop))
                continue
            try:
                results.append(self._save_invoice(write))
            except SyncError as exc:
                results.append(WriteResult(ok=False, ledger_id=write.ledger_id, error=exc))
                if _stops_batch(exc):
                    stop = exc
        return results

    def _save_invoice(self, write: InvoiceWrite) -> WriteResult:
        if write.ledger_id:
            return self._update_invoice(write)
        existing = self.find_invoice(write.invoice)
        if existing is not None:
            return self._result(existing, warnings=[f"Bexio already has this order as invoice {existing.number}."])
        body = mapper.invoice_to_kb(write.invoice, self._invoice_refs(write.invoice, int(write.party_ledger_id)))
        row = self._create_invoice(body)
        document = self._document(row)
        return self._result(document, sent=_summary(body), received=_received(row, document.currency))

    def _create_invoice(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create with at most 150 positions, the rest through the position endpoints."""
        positions = body["positions"]
        first, rest = positions[:MAX_POSITIONS_ON_CREATE], positions[MAX_POSITIONS_ON_CREATE:]
        try:
            row = self.client.create_invoice({**body, "positions": first})
        except PermanentError as exc:
            if exc.status != 422 or not any(p["type"] == "KbPositionArticle" for p in first):
                raise
            # NOTES §8.6: some Bexio setups reject article_id inline. Create the document
            # without article positions and add them one by one; a half-made invoice is
            # deleted so that the retry finds nothing by api_reference.
            rest = [p for p in first if p["type"] == "KbPositionArticle"] + rest
            first = [p for p in first if p["type"] != "KbPositionArticle"]
            row = self.client.create_invoice({**body, "positions": first})
            log.info("Bexio invoice %s: article positions added after create", row.get("id"))
        if rest:
            try:
                for position in rest:
                    self.client.add_position(int(row["id"]), POSITION_PATHS[position["type"]],
                                             {k: v for k, v in position.items() if k != "type"})
            except SyncError:
                self.client.delete_invoice(int(row["id"]))
                raise
            row = self.client.get_invoice(int(row["id"]))
        return row

    def _update_invoice(self, write: InvoiceWrite) -> WriteResult:
        """Drafts only: Bexio cannot change an issued invoice (NOTES §5 "Actions")."""
        assert write.ledger_id is not None
        row = self.client.get_invoice(int(write.ledger_id))
        if row.get("kb_item_status_id") != mapper.DRAFT:
            document = self._document(row)
            raise ConflictError(N_("Bexio invoice %(number)s is already issued; Bexio does not allow changing it.",
                                   number=document.number), code="not_editable", theirs=document,
                                fix=N_("Change the invoice in Bexio by hand, or cancel it there and sync again."))
        body = mapper.invoice_to_kb(write.invoice, self._invoice_refs(write.invoice, int(write.party_ledger_id)))
        header = {k: v for k, v in body.items() if k != "positions"}
        self.client.update_invoice_header(int(row["id"]), header)
        for old in row.get("positions") or []:
            self.client.delete_position(int(row["id"]), POSITION_PATHS[old["type"]], int(old["id"]))
        for position in body["positions"]:
            self.client.add_position(int(row["id"]), POSITION_PATHS[position["type"]],
                                     {k: v for k, v in position.items() if k != "type"})
        fresh = self.client.get_invoice(int(row["id"]))
        document = self._document(fresh)
        return self._result(document, sent=_summary(body), received=_received(fresh, document.currency))

    def issue_invoice(self, document: LedgerDocument) -> WriteResult:
        row = self.client.get_invoice(int(document.ledger_id))
        status = row.get("kb_item_status_id")
        if status == mapper.CANCELLED:
            raise ConflictError(N_("Bexio invoice %(number)s is cancelled and cannot be issued.",
                                   number=row.get('document_nr')),
                                code="cancelled")
        if status == mapper.DRAFT:
            self.client.issue_invoice(int(row["id"]))  # NOTES §5: draft -> pending
            row = self.client.get_invoice(int(row["id"]))
        return self._result(self._document(row))

    def send_invoice(self, document: LedgerDocument) -> WriteResult:
        """E-mail the invoice through Bexio: a real e-mail (NOTES §5 "Send", §8.7)."""
        row = self.client.get_invoice(int(document.ledger_id))
        if row.get("kb_item_status_id") == mapper.CANCELLED:
            raise ConflictError(N_("Bexio invoice %(number)s is cancelled; it is not sent.",
                                   number=row.get('document_nr')),
                                code="cancelled")
        recipient = document.invoice.party.email if document.invoice else ""
        if not recipient:
            recipient = (self.client.get_contact(int(row["contact_id"])).get("mail") or "") if row.get(
                "contact_id") else ""
        if not recipient:
            raise PermanentError(N_("Invoice %(number)s cannot be e-mailed: the customer has no e-mail address.",
                                    number=row.get('document_nr')), code="no_recipient",
                                 fix=N_("Add the customer's e-mail address, then sync the order again."))
        language = self.options.language or (document.invoice.language if document.invoice else "") or "de"
        subject, message = mapper.email_text(language, str(row.get("document_nr") or ""),
                                             self.options.email_subject, self.options.email_message)
        self.client.send_invoice(int(row["id"]), recipient=recipient, subject=subject, message=message)
        fresh = self.client.get_invoice(int(row["id"]))
        return self._result(self._document(fresh), sent={"recipient_email": recipient, "subject": subject})

    def record_payment(self, document: LedgerDocument, payment: Payment, idempotency_key: str) -> WriteResult:
        row = self.client.get_invoice(int(document.ledger_id))
        status = row.get("kb_item_status_id")
        number = row.get("document_nr")
        if status == mapper.PAID:
            return self._result(self._document(row), warnings=[f"Bexio invoice {number} is already paid."])
        if status == mapper.DRAFT:
            raise PermanentError(N_("Bexio invoice %(number)s is still a draft; Bexio books payments only on issued "
                                    "invoices.",
                                    number=number), code="not_issued", fix=N_("Issue the invoice first."))
        if status == mapper.CANCELLED:
            raise ConflictError(N_("Bexio invoice %(number)s is cancelled; the payment was not booked.",
                                   number=number),
                                code="cancelled", fix=N_("Book the payment in Bexio by hand if it is real."))
        remaining = mapper.dec(row.get("total_remaining_payments"))
        value = mapper.payment_value(payment.amount, remaining, self.refs.round_factor(row.get("currency_id")))
        for booked in self.client.payments(int(row["id"])):
            if booked.get("date") == payment.paid_on.isoformat() and mapper.dec(booked.get("value")) == value:
                # The same payment is there already: an earlier attempt got this far.
                return self._result(self._document(row), warnings=["The payment was already booked."])
        self.client.add_payment(int(row["id"]), value=mapper.wire(value), paid_on=payment.paid_on,
                                bank_account_id=self.options.bank_account_id)
        fresh = self.client.get_invoice(int(row["id"]))
        warnings = []
        if value != payment.amount:
            warnings.append(f"Booked {value} instead of {payment.amount}: Bexio rounds the invoice total to "
                            f"{self.refs.round_factor(row.get('currency_id'))}, and the order is fully paid.")
        return self._result(self._document(fresh), warnings=warnings,
                            sent={"value": mapper.wire(value), "date": payment.paid_on.isoformat()})

    def cancel_invoice(self, document: LedgerDocument, *, void_allowed: bool) -> WriteResult:
        row = self.client.get_invoice(int(document.ledger_id))
        status = row.get("kb_item_status_id")
        number = row.get("document_nr")
        if status == mapper.CANCELLED:
            return self._result(self._document(row))
        if status == mapper.DRAFT:
            # Never issued: nothing was booked or sent, so the draft goes (NOTES §5: only
            # issued invoices can be cancelled).
            self.client.delete_invoice(int(row["id"]))
            return WriteResult(ok=True, ledger_id=str(row["id"]), number=str(number or ""),
                               status=InvoiceStatus.DELETED)
        if status in (mapper.PAID, mapper.PARTIAL):
            # NOTES §2 FAQ, §8.9: no credit notes through the API.
            raise ConflictError(N_("Bexio invoice %(number)s is paid, so it cannot be cancelled: "
                                   "%(manual_credit_note)s.",
                                   number=number, manual_credit_note=MANUAL_CREDIT_NOTE),
                                code="needs_manual_action", theirs=self._document(row),
                                fix=N_("Create a credit note for invoice %(number)s in Bexio by hand.",
                                       number=number))
        if not void_allowed or not self.options.void_unpaid:
            raise ConflictError(N_("Bexio invoice %(number)s is issued; cancelling it is not allowed by the settings.",
                                   number=number),
                                code="needs_manual_action", fix=N_("Cancel invoice %(number)s in Bexio by hand.",
                                                                   number=number))
        self.client.cancel_invoice(int(row["id"]))  # NOTES §5: issued, unpaid only; no un-cancel
        return self._result(self._document(self.client.get_invoice(int(row["id"]))))

    def changed_invoices(self, since: datetime | None) -> Iterator[LedgerDocument]:
        """Invoices of this installation changed since ``since`` (NOTES §7.3 status pull)."""
        prefix = self.options.reference_prefix
        conditions: list[Condition] = [("api_reference", prefix, "like")] if prefix else \
            [("api_reference", None, "not_null")]
        if since is not None:
            conditions.append(("updated_at", v2_timestamp(since), ">="))
        for row in self.client.search_invoices(conditions, order_by="updated_at"):
            if prefix and not str(row.get("api_reference") or "").startswith(prefix):
                continue  # "like" matches anywhere in the value
            yield self._document(row)

    # ======================================================================================
    # products and stock
    # ======================================================================================

    def save_products(self, products: list[tuple[Product, str | None]], idempotency_key: str) -> list[WriteResult]:
        results: list[WriteResult] = []
        done: dict[str, WriteResult] = {}  # one SKU on several sites is one article
        stop: SyncError | None = None
        for product, ledger_id in products:
            code = mapper.article_code(product, self.options.platform)
            if stop is not None:
                results.append(WriteResult(ok=False, error=stop))
            elif code in done:
                results.append(done[code])
            else:
                try:
                    done[code] = self._save_product(product, code, ledger_id)
                    results.append(done[code])
                except SyncError as exc:
                    results.append(WriteResult(ok=False, ledger_id=ledger_id, error=exc))
                    if _stops_batch(exc):
                        stop = exc
        return results

    def _save_product(self, product: Product, code: str, ledger_id: str | None) -> WriteResult:
        if ledger_id is None:
            hits = [h for h in self.client.search_articles([("intern_code", code, "=")])
                    if h.get("intern_code") == code]
            if len(hits) > 1:
                # NOTES §6: intern_code uniqueness is not enforced; more than one is a conflict.
                raise ConflictError(N_("Several Bexio articles have the code %(code)s.",
                                       code=code), code="duplicate_article",
                                    theirs=[h["id"] for h in hits],
                                    fix=N_("Keep one article with the code %(code)s in Bexio.", code=code))
            ledger_id = str(hits[0]["id"]) if hits else None
        currency_id = int(self.refs.currency(product.currency)["id"]) if product.currency else None
        body = mapper.product_to_article(product, intern_code=code, currency_id=currency_id,
                                         tax_income_id=self._article_tax(product.tax_rate),
                                         account_id=self.options.account_id, create=ledger_id is None)
        row = self.client.update_article(int(ledger_id), body) if ledger_id else self.client.create_article(body)
        return WriteResult(ok=True, ledger_id=str(row["id"]), number=code, url=self._article_url(row["id"]),
                           sent=body, received={"id": row["id"], "intern_code": row.get("intern_code")})

    def _article_tax(self, rate: Decimal | None) -> int | None:
        """An article's default sales tax: the settings' choice for the rate, else the one
        active sales tax of that rate today; none when ambiguous (invoice positions carry
        their own tax anyway)."""
        if rate is None:
            return None
        configured = self.options.tax_ids.get(mapper.wire(rate))
        if configured is not None:
            return configured
        if self._taxes_today is None:
            self._taxes_today = self.tax_codes(on=date.today())
        matching = [t for t in self._taxes_today if t.rate == rate]
        return int(matching[0].code) if len(matching) == 1 else None

    def stock_levels(self, ledger_ids: list[str]) -> dict[str, StockLevel]:
        """``stock_available_nr`` of stock-managed articles (NOTES §6: stock minus
        reservations; only when ``is_stock``)."""
        wanted = set(ledger_ids)
        rows = ([self.client.get_article(int(i)) for i in ledger_ids] if len(ledger_ids) <= 5
                else (r for r in self.client.articles() if str(r["id"]) in wanted))
        levels = {}
        for row in rows:
            if row.get("is_stock"):
                levels[str(row["id"])] = StockLevel(quantity=mapper.dec(row.get("stock_available_nr")),
                                                    sku=row.get("intern_code"))
        return levels

    # ======================================================================================
    # reference data for settings
    # ======================================================================================

    def tax_codes(self, on: date | None = None) -> list[TaxCode]:
        """Active sales taxes valid on ``on`` (the service date picks the period: NOTES §8.3)."""
        return [mapper.tax_to_code(row) for row in self.client.taxes(types="sales_tax", scope="active", on=on)]

    def sales_accounts(self) -> list[SalesAccount]:
        return [a for a in (mapper.account_to_sales(r) for r in self.client.accounts()) if a]

    def users(self) -> list[tuple[int, str]]:
        return [(int(u["id"]), f"{u.get('firstname', '')} {u.get('lastname', '')} <{u.get('email', '')}>".strip())
                for u in self.refs.users]

    def languages(self) -> list[tuple[str, str]]:
        return [(str(l["iso_639_1"]), str(l.get("name", l["iso_639_1"]))) for l in self.refs.languages]

    def currencies(self) -> list[str]:
        return [str(c["name"]) for c in self.refs.currencies]

    def bank_accounts(self) -> list[tuple[int, str]]:
        return [(int(b["id"]), f"{b.get('name', '')} {b.get('iban_nr', '')}".strip()) for b in self.refs.bank_accounts]

    # ======================================================================================
    # helpers
    # ======================================================================================

    def _invoice_refs(self, invoice: Invoice, contact_id: int) -> mapper.InvoiceRefs:
        self._date_service_taxes(invoice)
        if self.options.currency and invoice.currency and self.options.currency.upper() != invoice.currency.upper():
            raise PermanentError(N_("The order is in %(currency)s, but the Bexio currency setting is %(currency2)s.",
                                    currency=invoice.currency, currency2=self.options.currency),
                                 code="currency_mismatch",
                                 fix=N_("Set the Bexio currency to the shop's currency in the settings."))
        currency = self.refs.currency(invoice.currency or self.options.currency)
        language = self.options.language or invoice.language or "de"
        return mapper.InvoiceRefs(
            contact_id=contact_id, user_id=self.refs.user_id(self.options.user_id),
            language_id=self.refs.language_id(language), currency_id=int(currency["id"]), language=language,
            bank_account_id=self.options.bank_account_id, default_account_id=self.options.account_id,
            article_ids=self._article_ids(invoice))

    def _article_ids(self, invoice: Invoice) -> dict[int, int]:
        """Lines whose product is a Bexio article become article positions, so that Bexio
        books the stock out when the invoice is issued."""
        found: dict[int, int] = {}
        cache: dict[str, int | None] = {}
        site = _site_of(invoice.key)
        for index, line in enumerate(invoice.lines):
            if line.kind != LineKind.PRODUCT or not (line.sku or line.product_id):
                continue
            code = line.sku or "-".join([self.options.platform] + ([site] if site else []) + [str(line.product_id)])
            if code not in cache:
                hits = [h for h in self.client.search_articles([("intern_code", code, "=")])
                        if h.get("intern_code") == code]
                cache[code] = int(hits[0]["id"]) if len(hits) == 1 else None
            if cache[code]:
                found[index] = cache[code]  # type: ignore[assignment]
        return found

    def _language_id_or_none(self, code: str) -> int | None:
        try:
            return self.refs.language_id(code)
        except PermanentError:
            return None

    def _document(self, row: dict[str, Any]) -> LedgerDocument:
        return mapper.kb_to_document(row, currency_codes=self.refs.currency_codes(), web_url=self.web_url)

    def _result(self, document: LedgerDocument, *, warnings: list[str] | None = None,
                sent: dict[str, Any] | None = None, received: dict[str, Any] | None = None) -> WriteResult:
        return WriteResult(ok=True, ledger_id=document.ledger_id, number=document.number, status=document.status,
                           version=document.version, url=document.url, warnings=list(warnings or []),
                           sent=sent, received=received)

    def _contact_url(self, contact_id: Any) -> str:
        return f"{self.web_url}/index.php/contact/show/id/{contact_id}"

    def _article_url(self, article_id: Any) -> str:
        return f"{self.web_url}/index.php/article/show/id/{article_id}"


def _valid_on(tax: TaxCode, day: date) -> bool:
    return (tax.valid_from is None or tax.valid_from <= day) and (tax.valid_to is None or day <= tax.valid_to)


def _period(tax: TaxCode) -> str:
    if tax.valid_to is None:
        return f"valid from {tax.valid_from.isoformat()}" if tax.valid_from else "valid always"
    return f"valid {tax.valid_from.isoformat() if tax.valid_from else '…'} to {tax.valid_to.isoformat()}"


def _site_of(key: str) -> str | None:
    """The site of a ``<platform>:<tenant>:<site>:<order>`` key (DG1 orders), else None."""
    parts = key.split(":")
    return parts[2] if len(parts) == 4 else None


def _summary(body: dict[str, Any]) -> dict[str, Any]:
    """What the sync record shows of a created invoice: the body as sent."""
    return body


def _received(row: dict[str, Any], currency: str = "") -> dict[str, Any]:
    """What the sync record keeps of Bexio's answer; its totals and currency are what the
    export's money check compares with the order (``bridge/sync/money_check.py``)."""
    keys = ("id", "document_nr", "kb_item_status_id", "total", "total_taxes", "total_rounding_difference",
            "total_remaining_payments", "api_reference", "updated_at")
    return {**{k: str(row[k]) if isinstance(row.get(k), Decimal) else row.get(k) for k in keys},
            "currency": currency}
