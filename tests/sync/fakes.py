"""In-memory Platform and Ledger for flow tests: the flows' rules without any wire."""
from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date
from decimal import Decimal

from bridge.descriptor import Connector
from bridge.domain import Invoice, InvoiceStatus, Line, Party, PartyKind
from bridge.errors import PermanentError, RetryableError
from bridge.ports import KEPT_CANCELLED, Ledger, LedgerDocument, PartyMatch, Platform, TaxCode, WriteResult


class FakePlatform(Platform):
    """Only the single forms: the port's defaults give the rest (``read_invoices``,
    ``set_ledger_references``, ``save_parties``...), as for a platform without batches."""

    kind = "fakeplatform"

    def __init__(self) -> None:
        self.invoices: dict[str, Invoice] = {}
        self.references: dict[str, str] = {}
        self.statuses: dict[str, InvoiceStatus] = {}
        self.parties = {}
        self.save_calls = 0
        self.find_calls = 0
        self.applied: list[list[str]] = []

    def get_invoice(self, platform_id):
        invoice = self.invoices.get(platform_id)
        return replace(invoice, lines=[replace(line) for line in invoice.lines]) if invoice else None

    def get_invoices(self, ids):
        return {i: self.get_invoice(i) for i in ids}

    def changed_invoices(self, since):
        from datetime import datetime, timezone
        for n, platform_id in enumerate(sorted(self.invoices, key=int)):
            yield platform_id, datetime(2026, 1, 1, tzinfo=timezone.utc).replace(day=1 + n % 28)

    def set_ledger_reference(self, platform_id, document):
        self.references[platform_id] = document.number

    def set_invoice_status(self, platform_id, status):
        current = self.invoices.get(platform_id)
        if current is not None and current.status.is_cancelled and not status.is_cancelled:
            return KEPT_CANCELLED  # the port's rule: a person's cancellation stands
        self.statuses[platform_id] = status
        return None

    def apply_invoice_changes(self, platform_id, invoice, groups):
        current = self.invoices[platform_id]
        if "header" in groups:
            current = replace(current, issue_date=invoice.issue_date, due_date=invoice.due_date,
                              reference=invoice.reference, currency=invoice.currency)
        if "lines" in groups:
            current = replace(current, lines=[replace(line) for line in invoice.lines])
        self.invoices[platform_id] = current
        self.applied.append(sorted(groups))

    # customers: platform key -> (party, origin)
    parties: dict

    def find_parties(self, ledger_kind, ledger_ids):
        self.find_calls += 1
        return {origin[1]: key for key, (_, origin) in self.parties.items()
                if origin[0] == ledger_kind and (ledger_ids is None or origin[1] in ledger_ids)}

    def party_key(self, platform_id):
        return f"fake:{platform_id}"

    def get_party(self, platform_id):
        stored = self.parties.get(platform_id)
        return stored[0] if stored else None

    def save_parties(self, items):
        self.save_calls += 1
        keys = []
        for party, platform_id, origin in items:
            key = platform_id or f"fake:C:{len(self.parties) + 1}"
            self.parties[key] = (party, origin)
            keys.append(key)
        return keys


class FakeLedger(Ledger):
    """Only the single forms: the port loops them for ``match_parties``, ``save_parties`` and
    ``find_invoices``, as for a ledger without batches (Bexio)."""

    kind = "fakeledger"
    organisation_id = "org-1"
    reads_parties_by_id = True

    def __init__(self) -> None:
        self.invoices: dict[str, dict] = {}
        self.parties: dict[str, dict] = {}
        self.listed_since: list = []  # the ``since`` of each contact listing
        self.writes: list[str] = []
        self.idempotency_keys: list[str] = []
        self.lose_next_response = False
        self.lookups: list = []  # the InvoiceLookup of each find_invoice
        self.batches: list[int] = []
        self.refuse: dict[str, str] = {}
        self.fail_payments = 0  # invoice key -> the ledger's validation message
        self._ids = itertools.count(1)

    # customers
    def match_party(self, party: Party, linked_ledger_id, claims=None):
        if linked_ledger_id in self.parties:
            return PartyMatch(linked_ledger_id, party.name, "link")
        for ledger_id, stored in self.parties.items():
            if stored["key"] == party.key:
                return PartyMatch(ledger_id, party.name, "external_key")
        return PartyMatch(None, party.name)

    def save_party(self, party, match, idempotency_key):
        ledger_id = match.ledger_id or f"C{next(self._ids)}"
        self.parties[ledger_id] = {"key": party.key, "name": match.name}
        self.writes.append(f"party:{ledger_id}")
        return WriteResult(ok=True, ledger_id=ledger_id)

    # invoices
    def preview_invoice(self, invoice, party_ledger_id):
        return {"Url": invoice.platform_url, "InvoiceNumber": invoice.number, "Contact": party_ledger_id,
                "Lines": [{"d": l.description, "q": l.quantity, "p": l.unit_price, "t": l.ledger_tax_code}
                          for l in invoice.lines]}

    def find_invoice(self, invoice, lookup=None):
        """As Xero: nothing to look for unless an earlier attempt wrote (``lookup.since``);
        then the invoice whose link back (Url) is this platform invoice."""
        self.lookups.append(lookup)
        if lookup is None or lookup.since is None:
            return None
        for ledger_id, stored in self.invoices.items():
            if stored["doc"].get("Url") == invoice.platform_url:
                return self._document(ledger_id)
        return None

    def get_invoices(self, ids):
        return [self._document(i) for i in ids if i in self.invoices]

    def save_invoices(self, writes):
        self.batches.append(len(writes))
        results = []
        for write in writes:
            if write.invoice.key in self.refuse:
                results.append(WriteResult(ok=False, error=PermanentError(
                    "Xero refused the invoice.", ledger_messages=[self.refuse[write.invoice.key]])))
                continue
            self.idempotency_keys.append(write.idempotency_key)
            ledger_id = write.ledger_id or f"I{next(self._ids)}"
            status = self.invoices.get(ledger_id, {}).get("status", InvoiceStatus.DRAFT)
            self.invoices[ledger_id] = {"doc": self.preview_invoice(write.invoice, write.party_ledger_id),
                                        "status": status, "number": f"INV-{ledger_id}",
                                        "invoice": write.invoice, "version": f"w{len(self.writes)}"}
            self.writes.append(f"invoice:{ledger_id}")
            if self.lose_next_response:
                self.lose_next_response = False
                raise RetryableError("connection reset after the ledger saved it")
            results.append(WriteResult(ok=True, ledger_id=ledger_id, number=f"INV-{ledger_id}",
                                       status=status, version=self.invoices[ledger_id]["version"]))
        return results

    def _document(self, ledger_id):
        stored = self.invoices[ledger_id]
        return LedgerDocument(ledger_id=ledger_id, number=stored["number"], status=stored["status"],
                              external_url=stored["doc"].get("Url") or "",
                              reference=stored["doc"].get("Reference") or "", amount_paid=stored.get("paid", Decimal(0)),
                              version=stored.get("version", "v1"), invoice=stored.get("invoice"),
                              sent_to_contact=stored.get("sent"))

    def issue_invoice(self, document):
        self.invoices[document.ledger_id]["status"] = InvoiceStatus.AUTHORISED
        self.writes.append(f"issue:{document.ledger_id}")
        return WriteResult(ok=True, ledger_id=document.ledger_id, status=InvoiceStatus.AUTHORISED)

    def record_payment(self, document, payment, idempotency_key):
        if self.fail_payments:
            self.fail_payments -= 1
            return WriteResult(ok=False, error=RetryableError("Bexio is busy", retry_after=1))
        self.writes.append(f"payment:{document.ledger_id}:{payment.amount}")
        return WriteResult(ok=True, ledger_id=document.ledger_id)

    def send_invoice(self, document):
        self.writes.append(f"email:{document.ledger_id}")
        return WriteResult(ok=True, ledger_id=document.ledger_id)

    def cancel_invoice(self, document, *, void_allowed):
        stored = self.invoices[document.ledger_id]
        stored["status"] = InvoiceStatus.DELETED if document.status == InvoiceStatus.DRAFT else InvoiceStatus.VOIDED
        self.writes.append(f"cancel:{document.ledger_id}")
        return WriteResult(ok=True, ledger_id=document.ledger_id, status=stored["status"])

    def changed_invoices(self, since):
        return [self._document(i) for i in self.invoices]

    def _ledger_party(self, ledger_id, p):
        from bridge.ports import LedgerParty
        return LedgerParty(ledger_id=ledger_id, name=p["name"], external_key=p.get("number"),
                           party=Party(key=p["key"], kind=PartyKind.COMPANY, name=p["name"], email=p.get("email", "")),
                           roles=p.get("roles"), updated_at=p.get("updated"))

    def changed_parties(self, since):
        """Every contact, or (those that carry ``updated``) the ones changed after ``since``;
        oldest change first, as the port asks."""
        self.listed_since.append(since)
        chosen = [(i, p) for i, p in self.parties.items()
                  if since is None or p.get("updated") is None or p["updated"] > since]
        chosen.sort(key=lambda item: (item[1].get("updated") is not None, item[1].get("updated") or 0, item[0]))
        return [self._ledger_party(i, p) for i, p in chosen]

    def get_parties(self, ledger_ids):
        return [self._ledger_party(i, self.parties[i]) for i in ledger_ids if i in self.parties]

    def invoiced_parties(self, since, *, suppliers=False):
        """The contacts of invoices changed since ``since`` (``invoiced``: ledger ids)."""
        self.invoiced_since = since
        return self.get_parties(list(getattr(self, "invoiced", [])))

    # test helpers: what a ledger user does
    def user_edits(self, **changes):
        for stored in self.invoices.values():
            stored["invoice"] = replace(stored["invoice"], **changes)
            stored["version"] = f"edit-{len(changes)}-{id(changes)}"

    def user_sets(self, status, paid=Decimal(0), sent=None):
        """``sent``: the ledger's "sent to the customer" (None: a ledger that does not say)."""
        for stored in self.invoices.values():
            stored["status"], stored["paid"], stored["sent"] = status, paid, sent
            stored["version"] = f"v-{status.value}"

    def user_marks_sent(self, *, bump_version: bool = True):
        """Xero keeps the version of a part-paid invoice marked sent (NOTES 2)."""
        for stored in self.invoices.values():
            stored["sent"] = True
            if bump_version:
                stored["version"] = f"{stored.get('version')}-sent"

    def tax_codes(self, on=None):
        return [TaxCode("OUTPUT2", "GST 15%", Decimal("15"))]


def sample_invoice(platform_id: str = "7", *, rate: str = "15", qty: str = "2", sync: bool = True) -> Invoice:
    party = Party(key="fake:CO:3", kind=PartyKind.COMPANY, name="Globex Ltd", email="ap@globex.example")
    return Invoice(key=f"fake:invoice:{platform_id}", number=f"B24-{platform_id}", issue_date=date(2026, 11, 2),
                   currency="NZD", party=party, sync_enabled=sync,
                   platform_url=f"https://portal.example/crm/invoice/{platform_id}/",
                   lines=[Line(description="Consulting", quantity=Decimal(qty), unit_price=Decimal("120.00"),
                               tax_rate=Decimal(rate))])


def fake_connector(kind: str, role: str, adapter) -> Connector:
    """A descriptor whose builder hands out ``adapter``, for ``registry.install``."""
    return Connector(kind=kind, role=role, title=kind, package=__name__, builder=lambda *args: adapter)
