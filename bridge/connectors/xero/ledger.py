"""``XeroLedger``: the ``Ledger`` interface of ``bridge.ports`` on Xero.

Flows call this; it applies Xero's business rules (identity of contacts, what each
invoice status allows) on top of ``client.XeroClient`` (the wire) and ``mapper`` (the
translation). It never touches links: those are the flows' job.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Iterator

from ...domain import Invoice, InvoiceStatus, Party, Payment, Product, StockLevel
from ...errors import ConflictError, PermanentError, SyncError
from ...messages import N_
from ...ports import (BookedTotals, Claims, CreditNote, InvoiceLookup, InvoiceWrite, Ledger, LedgerDocument,
                      LedgerParty,
                      PartyMatch, SalesAccount, TaxCode, WriteResult)
from . import credits, mapper, matching
from .client import BATCH_SIZE, XeroClient, chunked, encode_json, jsonable
from .client import idempotency_key as key_within_limit
from .contact_index import ContactIndex

log = logging.getLogger(__name__)


def _taken(party: Party, claims: Claims | None):
    """``contact id -> True`` when the contact is another customer's (``Claims``)."""
    if claims is None:
        return lambda contact_id: False
    return lambda contact_id: claims.taken(party.key, contact_id)


class XeroLedger(Ledger, kind="xero"):
    display_name = "Xero"
    needs_sales_accounts = True  # every line carries an AccountCode
    tells_sent_to_contact = True  # SentToContact, without moving UpdatedDateUTC
    reads_parties_by_id = True
    has_transactions = True  # bank transactions and payments, for the dashboard
    invoice_url_template = "https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID={id}"

    def __init__(self, client: XeroClient, *, web_url: str = "https://go.xero.com",
                 index: ContactIndex | None = None) -> None:
        self.client = client
        self.organisation_id = client.tenant_id
        self.web_url = web_url
        self.index = index  # the local contact index; None: every match asks Xero
        self._contacts: dict[str, dict[str, Any]] = {}  # read during match_party, reused by save_party
        self._sales_accounts: dict[str, str] = {}  # invoice id -> its first line's account (get_invoices)

    # ==================================================================================
    # customers
    # ==================================================================================

    def match_party(self, party: Party, linked_ledger_id: str | None, claims: Claims | None = None) -> PartyMatch:
        """Which Xero contact is this customer: ``match_parties`` for one."""
        return self.match_parties([(party, linked_ledger_id)], claims)[0]

    def _remember(self, contact: dict[str, Any] | None) -> dict[str, Any] | None:
        if contact and contact.get("ContactID"):
            self._contacts[contact["ContactID"]] = contact
        return contact

    def save_party(self, party: Party, match: PartyMatch, idempotency_key: str) -> WriteResult:
        """Create (PUT) the contact with our key as ContactNumber, or update (POST) only
        what differs (``_body``); an update with nothing to say is not sent."""
        return self.save_parties([(party, match, idempotency_key)])[0]

    def _full(self, ledger_ids: list[str]) -> None:
        """Read whole (50 IDs a call) the contacts to update that are known only from the
        contact index or not at all: an update is compared with what Xero has now."""
        wanted = [i for i in dict.fromkeys(ledger_ids) if (self._contacts.get(i) or {"_partial": True}).get("_partial")]
        if wanted:
            for contact in self.client.contacts_by_ids(wanted):
                self._remember(contact)

    def _body(self, party: Party, match: PartyMatch) -> tuple[dict[str, Any] | None, list[str]]:
        """What to send for one customer: everything of ours for a new contact; for an
        existing one, only the owned fields that differ from Xero's current values in the
        groups the platform changed (``match.groups``), None when there are none."""
        if not match.ledger_id:
            return mapper.party_to_contact(party, match.name)
        existing = self._contacts.get(match.ledger_id) or {"ContactID": match.ledger_id}
        body, warnings = mapper.contact_update(party, match.name, existing, match.groups,
                                               claim_number=match.matched_by in ("email", "name"))
        if existing.get("ContactStatus") == "ARCHIVED":
            body = body or {"ContactID": match.ledger_id}
            body["ContactStatus"] = "ACTIVE"  # invoices must not go to archived contacts (NOTES 4)
            warnings.append("The Xero contact was archived; it has been restored.")
        return body, warnings

    def _unchanged(self, match: PartyMatch, warnings: list[str]) -> WriteResult:
        contact = self._contacts.get(match.ledger_id or "") or {}
        return WriteResult(ok=True, ledger_id=match.ledger_id, number=contact.get("ContactNumber"),
                           version=str(contact.get("UpdatedDateUTC") or "") or None, warnings=warnings)

    # -- in bulk (the contact index) --------------------------------------------------------

    MISS_CHUNK = 20  # customers per chunked lookup: 3 terms each keeps the URL short

    def match_parties(self, items: list[tuple[Party, str | None]], claims: Claims | None = None) -> list[PartyMatch]:
        """Which Xero contact is each customer: link -> ContactNumber -> e-mail -> exact name,
        by the identity rules of ``matching`` (their one home). A same-name contact is the
        same customer only if its e-mail equals ours or it has none; any other same-name
        contact makes ours get a distinguishing name and a warning (NOTES 4, lesson 4) -
        never a failed sync, never someone else's contact. A contact that carries another
        ContactNumber, or that ``claims`` gives to another customer (a company's contact,
        for its contact person invoiced alone), is never taken.

        The candidates come from the contact index (no call for known customers) or, for an
        organisation without one, from live lookups as the rules ask (``matching.LivePool``).
        """
        if self.index is None:
            pool: matching.ContactPool = matching.LivePool(self.client, self._remember)
        else:
            pool = self._indexed_pool(items, claims)
        results: dict[tuple[str, str | None], PartyMatch] = {}
        out = []
        for party, linked in items:
            key = (party.key, linked)
            if key not in results:  # the same customer twice in a batch: one answer
                results[key] = matching.match(pool, party, linked, _taken(party, claims))
            out.append(results[key])
        if self.index is not None:
            for result in out:
                if result.ledger_id and result.ledger_id in pool.by_id:
                    self._contacts[result.ledger_id] = pool.by_id[result.ledger_id]  # the freshest copy
        return out

    def _indexed_pool(self, items: list[tuple[Party, str | None]], claims: Claims | None) -> matching.ContactPool:
        """The candidates from the index: at most one incremental read of it (when it is
        older than its freshness window or a webhook marked it stale) and, when that read
        did not just happen, one chunked lookup (ContactNumber/e-mail/name, OR-ed) for the
        customers it does not know whose earlier create may have landed (``Claims.unsure``)."""
        assert self.index is not None
        refreshed = self.index.refresh(self.client)
        pool = self._pool(items)
        if claims is not None:
            claims.load(pool.by_id)  # whose each candidate is: one query for the batch
        probe = matching.ContactPool(list(pool.by_id.values()))
        # A customer the index does not know is created without asking Xero, unless an earlier
        # create of it may have landed unrecorded (``Claims.unsure``: its intent has no outcome).
        misses = [(party, linked) for party, linked in items if (claims is None or claims.unsure(party.key))
                  and matching.match(probe, party, linked, _taken(party, claims)).ledger_id is None]
        if misses and not refreshed:
            found = self._lookup_misses([party for party, _ in misses])
            if found:
                self.index.upsert(found)
                pool = self._pool(items)
                if claims is not None:
                    claims.load(pool.by_id)
        return pool

    def _pool(self, items: list[tuple[Party, str | None]]) -> matching.ContactPool:
        assert self.index is not None
        names = [n for party, _ in items for n in matching.candidate_names(party)]
        rows = self.index.lookup(ids=[linked for _, linked in items if linked],
                                 numbers=[mapper.contact_number(party.key) for party, _ in items],
                                 emails=[party.email for party, _ in items if party.email], names=names)
        return matching.ContactPool([row.as_contact() for row in rows])

    def _lookup_misses(self, parties: list[Party]) -> list[dict[str, Any]]:
        """One GET per MISS_CHUNK customers: any contact with their ContactNumber, e-mail or name."""
        found: list[dict[str, Any]] = []
        for chunk in chunked(parties, self.MISS_CHUNK):
            terms: list[tuple[str, str]] = []
            for party in chunk:
                terms.append(("ContactNumber", mapper.contact_number(party.key)))
                if party.email:
                    terms.append(("EmailAddress", party.email.strip()))
                terms.append(("Name", mapper.party_name(party)))
            found += self.client.find_contacts(matching.where_any(list(dict.fromkeys(terms))), include_archived=True)
        return found

    def save_parties(self, items: list[tuple[Party, PartyMatch, str]]) -> list[WriteResult]:
        """``save_party`` for a batch: one PUT for the new contacts and one POST for the
        changed ones (50 a call, summarizeErrors=false), a result per customer, in order.

        Updates are compared with the contacts as Xero has them now (read first, 50 IDs a
        call, when only the index knows them): a customer whose owned fields Xero already
        has costs no write at all.
        """
        self._full([m.ledger_id for _, m, _ in items if m.ledger_id])
        prepared = []
        results: dict[int, WriteResult] = {}
        for i, (party, match, key) in enumerate(items):
            body, warnings = self._body(party, match)
            if match.warning:
                warnings.insert(0, match.warning)
            if body is None:
                results[i] = self._unchanged(match, warnings)
                continue
            prepared.append((i, body, warnings, key, match.ledger_id is None))
        saved: list[dict[str, Any]] = []
        for create in (True, False):
            group = [p for p in prepared if p[4] == create]
            for chunk in chunked(group, BATCH_SIZE):
                key = self._batch_key([p[3] for p in chunk], create, kind="con")
                bodies = [p[1] for p in chunk]
                sent = lambda body: {"method": "PUT" if create else "POST", "path": "Contacts",  # noqa: E731
                                     "idempotency_key": key, "body": jsonable(body)}
                try:
                    batch = self.client.save_contacts(bodies, key, create=create)
                except SyncError as exc:
                    for i, body, warnings, _, _ in chunk:
                        results[i] = WriteResult(ok=False, error=exc, warnings=warnings, sent=sent(body))
                    continue
                for (i, body, warnings, _, _), element in zip(chunk, batch.elements):
                    if not element.ok:
                        results[i] = WriteResult(ok=False, error=element.error, warnings=warnings, sent=sent(body),
                                                 received=jsonable(element.data))
                        continue
                    contact = self._remember(element.data) or {}
                    saved.append(contact)
                    results[i] = WriteResult(ok=True, ledger_id=contact.get("ContactID"),
                                             number=contact.get("ContactNumber"),
                                             version=str(contact.get("UpdatedDateUTC") or "") or None,
                                             warnings=warnings + element.warnings, sent=sent(body),
                                             received=jsonable(element.data))
        if self.index is not None and saved:
            self.index.upsert(saved)
        return [results[i] for i in range(len(items))]

    def changed_parties(self, since: datetime | None) -> Iterator[LedgerParty]:
        for contact in self.client.contacts(since=since, include_archived=True):
            yield mapper.ledger_party(contact)

    def get_parties(self, ledger_ids: list[str]) -> list[LedgerParty]:
        """These contacts, whole (50 IDs a call)."""
        return [mapper.ledger_party(contact) for contact in self.client.contacts_by_ids(ledger_ids)]

    def invoiced_parties(self, since: datetime | None, *, suppliers: bool = False) -> Iterator[LedgerParty]:
        """The contacts of the sales invoices (and with ``suppliers`` the bills) changed
        since ``since``. Xero makes a contact a customer with its first sales invoice
        without moving the contact's UpdatedDateUTC (NOTES 2), so this, not the contacts'
        modified-since, is where a new customer shows up. A page of 100 invoices, then 50
        contacts, per call."""
        where = None if suppliers else 'Type=="ACCREC"'
        ids = [str((invoice.get("Contact") or {}).get("ContactID") or "")
               for invoice in self.client.invoices(since, where=where)]
        ids = [i for i in dict.fromkeys(ids) if i]
        if ids:
            yield from self.get_parties(ids)

    # ==================================================================================
    # invoices
    # ==================================================================================

    # Statuses an invoice bridge made can have while it may still be the one to bind: a
    # voided or deleted one is the user's decision, and the next attempt makes a new one.
    LIVE_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED", "PAID")

    def find_invoice(self, invoice: Invoice, lookup: InvoiceLookup | None = None) -> LedgerDocument | None:
        """``find_invoices`` for one invoice."""
        return self.find_invoices([invoice], {invoice.key: lookup} if lookup else None)[0]

    def find_invoices(self, invoices: list[Invoice],
                      lookups: dict[str, InvoiceLookup | None] | None = None) -> list[LedgerDocument | None]:
        """Is this invoice in Xero already? Only with Xero's optimised parameters (NOTES 2:
        large organisations refuse other ``where`` filters), never by Reference or Url:

        - numbered by us ("Bitrix24 numbers"): by InvoiceNumber (unique for ACCREC), 50 a call;
        - numbered by Xero: only after an unknown outcome (``lookup.since``: an earlier
          attempt wrote), the invoices this app made for the customer since a little
          before that attempt (ContactIDs, createdByMyApp, Statuses, If-Modified-Since),
          matched on our side by their Url (the link back to the platform invoice) and,
          between several, by amounts. An invoice never sent costs no call.
        """
        lookups = lookups or {}
        numbers = [i.number for i in invoices if i.number]
        by_number: dict[str, list[dict[str, Any]]] = {}
        for found in self.client.invoices_by_number(numbers) if numbers else []:
            if found.get("Type") == "ACCREC":
                by_number.setdefault((found.get("InvoiceNumber") or "").lower(), []).append(found)
        searched = [(i, lookups[i.key]) for i in invoices if not i.number and lookups.get(i.key) is not None
                    and lookups[i.key].since is not None and lookups[i.key].contact_id]
        made = self._made_by_us(searched)
        out: list[LedgerDocument | None] = []
        for invoice in invoices:
            if invoice.number:
                found = by_number.get(invoice.number.lower(), [])
                live = [i for i in found if i.get("Status") not in ("DELETED", "VOIDED")]
                out.append(mapper.document_from_xero((live or found)[0], self.web_url) if found else None)
                continue
            lookup = lookups.get(invoice.key)
            mine = made.get(lookup.contact_id, []) if lookup and lookup.contact_id else []
            match = mapper.pick_ours(invoice, mine)
            out.append(mapper.document_from_xero(match, self.web_url) if match else None)
        return out

    def _made_by_us(self, searched: list[tuple[Invoice, InvoiceLookup]]) -> dict[str, list[dict[str, Any]]]:
        """{ContactID: the sales invoices this app made for it}: one paged GET per 50
        customers, from the earliest attempt among them."""
        if not searched:
            return {}
        contacts = list(dict.fromkeys(lookup.contact_id for _, lookup in searched if lookup.contact_id))
        since = min(lookup.since for _, lookup in searched if lookup.since is not None)
        made: dict[str, list[dict[str, Any]]] = {}
        for found in self.client.invoices_made_by_app(contacts, list(self.LIVE_STATUSES), since):
            contact_id = str((found.get("Contact") or {}).get("ContactID") or "").lower()
            if found.get("Type") == "ACCREC":
                made.setdefault(contact_id, []).append(found)
        return {contact: made.get(contact.lower(), []) for contact in contacts}

    def get_invoices(self, ledger_ids: list[str]) -> list[LedgerDocument]:
        documents = []
        for raw in self.client.get_invoices(ledger_ids):
            # The sales account of its first line: a credit note for it books there too.
            self._sales_accounts[str(raw.get("InvoiceID") or "")] = next(
                (str(l["AccountCode"]) for l in raw.get("LineItems") or [] if l.get("AccountCode")), "")
            documents.append(replace(mapper.document_from_xero(raw, self.web_url),
                                     settlements=credits.settlements(raw)))
        return documents

    def save_invoices(self, writes: list[InvoiceWrite]) -> list[WriteResult]:
        """Batches of up to 50 with summarizeErrors=false; a result per write, in order.

        Creates go by PUT and updates by POST: a POST carrying the number of an existing
        invoice could update it, a PUT can only fail (NOTES 3, lesson 3). Each batch's
        Idempotency-Key is derived from its writes' keys, which the flow renews per attempt.
        """
        results: dict[int, WriteResult] = {}
        indexed = list(enumerate(writes))
        for create in (True, False):
            group = [(i, w) for i, w in indexed if (w.ledger_id is None) == create]
            for chunk in chunked(group, BATCH_SIZE):
                bodies = [mapper.invoice_to_xero(w.invoice, w.party_ledger_id, invoice_id=w.ledger_id,
                                                 existing_line_ids=w.existing_line_ids) for _, w in chunk]
                key = self._batch_key([w.idempotency_key for _, w in chunk], create)
                try:
                    batch = self.client.save_invoices(bodies, key, create=create)
                except SyncError as exc:  # the whole call failed: every write in it did
                    for (i, _), body in zip(chunk, bodies):
                        results[i] = WriteResult(ok=False, error=exc, sent=self._sent(create, key, body))
                    continue
                for (i, _), body, element in zip(chunk, bodies, batch.elements):
                    results[i] = self._invoice_result(create, key, body, element)
        return [results[i] for i in range(len(writes))]

    @staticmethod
    def _batch_key(keys: list[str], create: bool, kind: str = "inv") -> str:
        """The request's Idempotency-Key, from its writes' keys and its method. Xero refuses
        a key it has seen with another request ("already been used with a different
        request"): a create sent by a worker that died, and its retry's update of the
        contact or invoice that create made (found by our key), are two requests."""
        if len(keys) == 1:
            return keys[0] if create else key_within_limit(f"{keys[0]}-update")
        digest = hashlib.sha256(("PUT" if create else "POST").encode() + "|".join(keys).encode()).hexdigest()
        return f"{kind}-batch-{digest[:40]}"

    @staticmethod
    def _sent(create: bool, key: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"method": "PUT" if create else "POST", "path": "Invoices?summarizeErrors=false&unitdp=4",
                "idempotency_key": key, "body": jsonable(body)}

    def _invoice_result(self, create: bool, key: str, body: dict[str, Any], element) -> WriteResult:
        sent = self._sent(create, key, body)
        if not element.ok:
            return WriteResult(ok=False, error=element.error, warnings=element.warnings, sent=sent,
                               received=jsonable(element.data))
        return self._written(element, sent)

    def _written(self, element, sent: dict[str, Any]) -> WriteResult:
        """The result of an invoice Xero accepted, as its answer describes it."""
        document = mapper.document_from_xero(element.data, self.web_url)
        return WriteResult(ok=True, ledger_id=document.ledger_id, number=document.number, status=document.status,
                           version=document.version, url=document.url, warnings=element.warnings, sent=sent,
                           received=jsonable(element.data))

    def preview_invoice(self, invoice: Invoice, party_ledger_id: str | None) -> dict[str, Any]:
        """Exactly what a create would send, and the totals Xero will compute from it."""
        body = mapper.invoice_to_xero(invoice, party_ledger_id or "<the customer's ContactID>")
        text = encode_json({"Invoices": [body]})
        return {"method": "PUT", "path": "Invoices?summarizeErrors=false&unitdp=4", "json": text,
                "body": jsonable({"Invoices": [body]}),
                "expected_totals": jsonable(mapper.expected_totals(invoice))}

    # -- status changes (NOTES 3, Statuses; lesson 9) ---------------------------------------

    def _current(self, document: LedgerDocument) -> dict[str, Any]:
        found = self.client.get_invoices([document.ledger_id])
        if not found:
            raise PermanentError(N_("The invoice no longer exists in Xero."), code="not_found",
                                 fix=N_("Resync the invoice to create it again."))
        return found[0]

    def _status_change(self, document: LedgerDocument, status: str, key: str) -> WriteResult:
        element = self.client.update_invoice(document.ledger_id, {"Status": status}, key)
        sent = {"method": "POST", "path": f"Invoices/{document.ledger_id}", "idempotency_key": key,
                "body": {"InvoiceID": document.ledger_id, "Status": status}}
        if not element.ok:
            return WriteResult(ok=False, ledger_id=document.ledger_id, error=element.error, sent=sent,
                               received=jsonable(element.data))
        return self._written(element, sent)

    @staticmethod
    def _key(document: LedgerDocument, action: str, current: dict[str, Any]) -> str:
        return f"{action}-{document.ledger_id}-{current.get('UpdatedDateUTC') or ''}"[:128]

    def cancel_invoice(self, document: LedgerDocument, *, void_allowed: bool) -> WriteResult:
        """DRAFT/SUBMITTED -> DELETED; AUTHORISED -> VOIDED only if allowed and unpaid.

        There is no HTTP DELETE for invoices: the status is POSTed (NOTES 3).
        """
        current = self._current(document)
        status = current.get("Status")
        if status in ("DELETED", "VOIDED"):
            doc = mapper.document_from_xero(current, self.web_url)
            return WriteResult(ok=True, ledger_id=doc.ledger_id, number=doc.number, status=doc.status,
                               version=doc.version, url=doc.url)
        if status in ("DRAFT", "SUBMITTED"):
            return self._status_change(document, "DELETED", self._key(document, "delete", current))
        theirs = jsonable({k: current.get(k) for k in ("InvoiceNumber", "Status", "Total", "AmountPaid",
                                                     "AmountCredited")})
        if status == "AUTHORISED" and not void_allowed:
            raise ConflictError(N_("The invoice is approved in Xero; voiding approved invoices is turned off."),
                                code="void_not_allowed", ours="cancelled", theirs=theirs,
                                choices=[N_("void in Xero"), N_("allow voiding in Settings"), N_("keep")],
                                fix=N_("Void it in Xero, or allow voiding approved invoices in Settings."))
        paid = mapper.dec(current.get("AmountPaid")) + mapper.dec(current.get("AmountCredited"))
        if status == "PAID" or paid > 0:
            raise ConflictError(N_("The invoice has payments or credit notes in Xero, so it cannot be voided."),
                                code="has_payments", ours="cancelled", theirs=theirs,
                                choices=[N_("remove the payments in Xero, then retry"), N_("keep")],
                                fix=N_("Remove the payments (and credit notes) in Xero first, then retry."))
        return self._status_change(document, "VOIDED", self._key(document, "void", current))

    def issue_invoice(self, document: LedgerDocument) -> WriteResult:
        """Approve (AUTHORISED). Already approved or paid: nothing to do."""
        current = self._current(document)
        if current.get("Status") in ("AUTHORISED", "PAID"):
            doc = mapper.document_from_xero(current, self.web_url)
            return WriteResult(ok=True, ledger_id=doc.ledger_id, number=doc.number, status=doc.status,
                               version=doc.version, url=doc.url)
        if current.get("Status") not in ("DRAFT", "SUBMITTED"):
            raise ConflictError(N_("The invoice is %(status)s in Xero and cannot be approved.",
                                   status=str(current.get('Status')).lower()),
                                code="invalid_status", ours="authorised", theirs={"Status": current.get("Status")})
        return self._status_change(document, "AUTHORISED", self._key(document, "approve", current))

    def send_invoice(self, document: LedgerDocument) -> WriteResult:
        """Xero e-mails the invoice to the contact; only approved invoices (NOTES 3)."""
        key = f"email-{document.ledger_id}-{document.version or ''}"[:128]
        sent = {"method": "POST", "path": f"Invoices/{document.ledger_id}/Email", "idempotency_key": key}
        if document.status not in (InvoiceStatus.AUTHORISED, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.PAID):
            return WriteResult(ok=False, ledger_id=document.ledger_id, sent=sent, error=PermanentError(
                N_("Xero e-mails only approved invoices."), code="not_approved",
                fix=N_("Approve the invoice first (or turn on approving before sending in Settings).")))
        try:
            self.client.email_invoice(document.ledger_id, key)
        except SyncError as exc:
            return WriteResult(ok=False, ledger_id=document.ledger_id, error=exc, sent=sent)
        return WriteResult(ok=True, ledger_id=document.ledger_id, number=document.number, status=document.status,
                           url=document.url, sent=sent)

    def record_payment(self, document: LedgerDocument, payment: Payment, idempotency_key: str) -> WriteResult:
        if not payment.ledger_account_code:
            return WriteResult(ok=False, ledger_id=document.ledger_id, error=PermanentError(
                N_("No Xero account is chosen for payments."), code="no_payment_account",
                fix=N_("Choose the bank account for payments in Settings.")))
        body = mapper.payment_to_xero(document.ledger_id, payment.amount, payment.paid_on,
                                      payment.ledger_account_code, payment.reference)
        result = self.client.save_payments([body], idempotency_key)
        element = result.elements[0]
        sent = {"method": "PUT", "path": "Payments?summarizeErrors=false", "idempotency_key": idempotency_key,
                "body": jsonable(body)}
        if not element.ok:
            return WriteResult(ok=False, ledger_id=document.ledger_id, error=element.error, sent=sent,
                               received=jsonable(element.data), warnings=element.warnings)
        return WriteResult(ok=True, ledger_id=element.data.get("PaymentID"), number=document.number,
                           version=str(element.data.get("UpdatedDateUTC") or "") or None, sent=sent,
                           received=jsonable(element.data), warnings=element.warnings)

    def changed_invoices(self, since: datetime | None) -> Iterator[LedgerDocument]:
        """Sales invoices changed since ``since``, and those whose payments changed.

        Payments have no webhook (NOTES 5) and some payment-related changes do not move the
        invoice's UpdatedDateUTC (NOTES 2), so payments are polled too and their invoices read.
        """
        seen: set[str] = set()
        for xero_invoice in self.client.invoices(since=since):
            seen.add(xero_invoice.get("InvoiceID"))
            yield mapper.document_from_xero(xero_invoice, self.web_url)
        if since is None:
            return
        paid = [p["Invoice"]["InvoiceID"] for p in self.client.payments(since=since)
                if (p.get("Invoice") or {}).get("InvoiceID") and (p.get("Invoice") or {}).get("Type", "ACCREC") == "ACCREC"]
        missing = [i for i in dict.fromkeys(paid) if i not in seen]
        if missing:
            yield from self.get_invoices(missing)

    # ==================================================================================
    # credit notes and the online invoice
    # ==================================================================================

    issues_credit_notes = True

    def find_credit(self, document: LedgerDocument, amount: Decimal, since: datetime | None) -> CreditNote | None:
        """An unapplied credit note for the invoice's contact over ``amount``, changed since
        ``since`` (If-Modified-Since keeps the read small); what a crash after the create left."""
        if not document.contact_id:
            return None
        where = f'Contact.ContactID==Guid("{document.contact_id}") AND Type=="ACCRECCREDIT"'
        found = list(self.client.credit_notes(since=since - timedelta(minutes=1) if since else None, where=where))
        return credits.unapplied_match(found, document.contact_id, amount)

    def create_credit(self, document: LedgerDocument, amount: Decimal, idempotency_key: str) -> WriteResult:
        account = self._sales_accounts.get(document.ledger_id, "")
        body = credits.credit_note_body(document.contact_id, document.currency, amount,
                                        f"Credit for invoice {document.number}", account)
        result = self.client.save_credit_notes([body], idempotency_key)
        element = result.elements[0]
        sent = {"method": "PUT", "path": "CreditNotes?summarizeErrors=false", "idempotency_key": idempotency_key,
                "body": jsonable(body)}
        if not element.ok:
            return WriteResult(ok=False, error=element.error, sent=sent, received=jsonable(element.data))
        return WriteResult(ok=True, ledger_id=element.data.get("CreditNoteID"),
                           number=element.data.get("CreditNoteNumber"), sent=sent, received=jsonable(element.data))

    def apply_credit(self, document: LedgerDocument, credit_id: str, amount: Decimal,
                     idempotency_key: str) -> WriteResult:
        body = credits.allocation_body(document.ledger_id, amount)
        result = self.client.allocate_credit_note(credit_id, body, idempotency_key)
        element = result.elements[0]
        sent = {"method": "PUT", "path": f"CreditNotes/{credit_id}/Allocations", "body": jsonable(body)}
        if not element.ok:
            return WriteResult(ok=False, ledger_id=credit_id, error=element.error, sent=sent,
                               received=jsonable(element.data))
        return WriteResult(ok=True, ledger_id=credit_id, sent=sent, received=jsonable(element.data))

    def online_invoice_url(self, ledger_id: str) -> str:
        return credits.online_url(self.client.online_invoice(ledger_id))

    # ==================================================================================
    # products and stock: not part of Xero's sales flow here
    # ==================================================================================

    def save_products(self, products: list[tuple[Product, str | None]], idempotency_key: str) -> list[WriteResult]:
        raise PermanentError(N_("not supported by Xero"), code="not_supported",
                             fix=N_("Product sync is available with Bexio; with Xero, invoices carry their lines."))

    def stock_levels(self, ledger_ids: list[str]) -> dict[str, StockLevel]:
        raise PermanentError(N_("not supported by Xero"), code="not_supported")

    # ==================================================================================
    # reference data for settings
    # ==================================================================================

    @staticmethod
    def booked_totals(received: dict[str, Any] | None) -> BookedTotals | None:
        """SubTotal, TotalTax, Total and CurrencyCode of the invoice Xero answered with."""
        received = received or {}
        return BookedTotals.read(received.get("TotalTax"), received.get("Total"), received.get("CurrencyCode"),
                                 received.get("SubTotal"))

    def transactions(self, stream: str, since: datetime | None) -> Iterator[dict[str, Any]]:
        """Bank transactions or payments changed since ``since`` (If-Modified-Since), as Xero
        sends them; Xero has no webhooks for either."""
        read = {"bank_transactions": self.client.bank_transactions, "payments": self.client.payments}[stream]
        return read(since)

    def tax_codes(self, on: date | None = None) -> list[TaxCode]:
        return mapper.revenue_tax_codes(self.client.tax_rates(where='Status=="ACTIVE"'))

    def sales_accounts(self) -> list[SalesAccount]:
        return mapper.sales_accounts(self.client.accounts(where='Status=="ACTIVE"'))

    def tracking_categories(self) -> dict[str, list[str]]:
        return {str(c.get("Name") or ""): [str(o.get("Name") or "") for o in c.get("Options") or []
                                           if o.get("Status", "ACTIVE") == "ACTIVE"]
                for c in self.client.tracking_categories() if c.get("Status", "ACTIVE") == "ACTIVE"}

    def branding_themes(self) -> dict[str, str]:
        themes = sorted(self.client.branding_themes(), key=lambda t: int(t.get("SortOrder") or 0))
        return {str(t.get("Name") or ""): str(t.get("BrandingThemeID") or "") for t in themes}

    def payment_accounts(self) -> list[SalesAccount]:
        """Accounts payments can be recorded to (for the payment-account setting)."""
        return mapper.payment_accounts(self.client.accounts(where='Status=="ACTIVE"'))
