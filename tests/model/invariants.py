"""The invariants a history must keep (issue 16, a to j), checked on the live world.

Each check returns ``Violation``s; each names the invariant and the history step that
broke it (the step a request was made in, from the sandbox's request log, or the last
step that touched the object). ``World`` and the model's ``Ledgerbook`` are read only.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import unquote_plus

from sqlalchemy import select

from bridge.connectors.bitrix24 import store
from bridge.extensions import db
from bridge.models import Link, SyncRecord, WorkItem
from bridge.settings import get_section

from .world import History, World, money

# (g) the most API calls one step may cost bridge, all flows together (a create with a new
# customer is about ten, an import about three per contact imported: ``Book.imported``).
CALLS_PER_STEP = 40
CALLS_PER_IMPORTED = 3
# What a user can never be shown: an exception class, SQL, a traceback, a Python repr.
UNPLAIN = re.compile(r"Traceback|\b\w+(Error|Exception)\b|\[SQL|\bSELECT\b|\bINSERT INTO\b|\bUPDATE \w+ SET\b|"
                     r"UNIQUE constraint|sqlalchemy|psycopg|\bNone\b|<[a-z_.]+ object at", re.I)
# Xero fields bridge does not own (e) and customer-visible ones (h).
NOT_OURS = ("IncludeInEmails", "SentToContact", "ContactGroups", "BrandingThemeID")
BRIDGE_KEY = re.compile(r"\bb24:|\bdg1:|member_id|:SI:|:CO:|:C:")
WRITE_METHODS = re.compile(r"\.(add|update|delete|set|bind|unbind)\b", re.I)
INVOICE_ID_IN_URL = re.compile(r"/details/(\d+)/?$")
OLD_INVOICE_ID_IN_URL = re.compile(r"/crm/invoice/show/(\d+)/?$")  # an old invoice: platform id "L<id>"


@dataclass
class Violation:
    invariant: str
    step: int | None
    text: str

    def render(self, history: History) -> str:
        return f"[{self.invariant}] at {history.describe(self.step)}: {self.text}"


@dataclass
class Book:
    """What the users did, as the model remembers it: what bridge may legitimately show."""

    # names/e-mails a user gave to each object: ("b24company", id) / ("xerocontact", id)
    names: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    emails: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    line_texts: dict[str, set[str]] = field(default_factory=dict)  # B24 invoice id -> descriptions
    created_names: dict[str, int] = field(default_factory=dict)  # name -> times a user created it (any side)
    deleted_invoices: set[str] = field(default_factory=set)
    sent_by_user: set[str] = field(default_factory=set)  # Xero InvoiceIDs a user marked sent
    include_in_emails: dict[str, list[bool]] = field(default_factory=dict)  # Xero contact -> persons' flags
    imported: int = 0  # Xero contacts an import could bring (bounds the import's calls)
    stage_settings_step: int = 0  # when a user last changed what the stages mean
    # B24 invoice -> step it was moved to the failure stage while paid in Xero (until a user edits it again)
    refunded: dict[str, int] = field(default_factory=dict)
    cancelled: set[str] = field(default_factory=set)  # B24 invoices ever cancelled while paid (stay cancelled)
    refunds: dict[str, list[Decimal]] = field(default_factory=dict)  # DG1 order -> amounts the shop refunded
    vouchers: dict[str, Decimal] = field(default_factory=dict)  # Bexio invoice -> credit a person booked by hand
    marked_paid: dict[str, int] = field(default_factory=dict)  # Bexio invoice -> times a person marked it paid

    def named(self, kind: str, ident: str, name: str | None, email: str | None = None) -> None:
        if name:
            self.names.setdefault((kind, str(ident)), set()).add(name)
        if email:
            self.emails.setdefault((kind, str(ident)), set()).add(email.lower())


# -- helpers -----------------------------------------------------------------------------

def _party_name(row: dict) -> str:
    return row.get("TITLE") or " ".join(p for p in (row.get("NAME"), row.get("LAST_NAME")) if p)


def _emails(row: dict) -> set[str]:
    return {e["VALUE"].lower() for e in row.get("EMAIL") or [] if e.get("VALUE")}


def _b24_invoice_of(xero_invoice: dict, member_id: str) -> str | None:
    """Which Bitrix24 invoice a Xero invoice belongs to: its Url (or, before Url, the key in
    Reference)."""
    found = INVOICE_ID_IN_URL.search(xero_invoice.get("Url") or "")
    if found:
        return found.group(1)
    old = OLD_INVOICE_ID_IN_URL.search(xero_invoice.get("Url") or "")
    if old:
        return f"L{old.group(1)}"
    ref = xero_invoice.get("Reference") or ""
    if ref.startswith(f"b24:{member_id}:SI:"):
        return ref.rsplit(":", 1)[1]
    return None


def _similar(value: str, allowed: set[str]) -> bool:
    """Equal to a name a user gave, or that name with the suffix in brackets bridge adds
    to tell two customers of one name apart ("Globex Ltd (2)"; what the suffix may hold
    is invariant h's business)."""
    return any(value == a or (value.startswith(a + " (") and value.endswith(")")) for a in allowed)


def _live(status: str | None) -> bool:
    return status not in ("VOIDED", "DELETED", "ARCHIVED")


# -- state invariants (after every step) --------------------------------------------------

def check_state(world: World, book: Book, step: int | None, portal: dict, xero: dict) -> list[Violation]:
    out: list[Violation] = []
    out += no_duplicates(world, book, step, portal, xero)
    out += no_foreign_overwrite(world, book, step, portal, xero)
    out += fields_not_ours(book, step, xero)
    out += plain_words(world, step)
    out += no_key_on_documents(world, step, xero)
    out += money_notes_once(world, step, portal, xero)
    if world.shop:
        out += shop_state(world, book, step)
    return out


def shop_state(world: World, book: Book, step) -> list[Violation]:
    """DG1 and Bexio: (a) one live Bexio invoice per order; (h) no bridge key in what the
    customer reads on it (title, header, footer)."""
    out = []
    per_order: dict[str, int] = {}
    for invoice in world.bexio()["invoices"]:
        if invoice.get("kb_item_status_id") not in (19, 31):  # cancelled / deleted
            ref = invoice.get("api_reference") or ""
            per_order[ref] = per_order.get(ref, 0) + 1
        for field_name in ("title", "header", "footer"):
            if BRIDGE_KEY.search(str(invoice.get(field_name) or "")):
                out.append(Violation("h key on document", step, f"Bexio invoice {invoice['id']} {field_name} is "
                                                                f"{invoice.get(field_name)!r}"))
    out += [Violation("a duplicate", step, f"{n} live Bexio invoices for {ref}") for ref, n in per_order.items()
            if ref and n > 1]
    return out + bexio_money_once(world, book, step)


def bexio_money_once(world: World, book: Book, step) -> list[Violation]:
    """(k) on the Bexio side: no payment booked twice (at most the order's DG1 payments plus
    what a person marked paid, never more than the total), no credit bridge booked itself
    (credit vouchers are exactly what people booked for refunds), and (d) total - credit
    vouchers - payments = what Bexio says remains."""
    out = []
    paid_in_dg1 = {o["id"]: len(o.get("payments") or []) for o in world.dg1()["orders"]}
    for inv in world.bexio()["invoices"]:
        order_id = (inv.get("api_reference") or "").rsplit(":", 1)[-1]
        total, received = money(inv["total"]), money(inv["total_received_payments"])
        credited, remaining = money(inv["total_credit_vouchers"]), money(inv["total_remaining_payments"])
        allowed = paid_in_dg1.get(order_id, 0) + book.marked_paid.get(str(inv["id"]), 0)
        if len(inv.get("payments") or []) > allowed or received > total:
            out.append(Violation("k duplicate payment", step, f"Bexio invoice {inv['id']} (order {order_id}) has "
                                                              f"{len(inv.get('payments') or [])} payment(s), "
                                                              f"{received} of {total}; DG1 and people made {allowed}"))
        if credited != book.vouchers.get(str(inv["id"]), Decimal(0)):
            out.append(Violation("k credit booked by bridge", step, f"Bexio invoice {inv['id']} has {credited} in "
                                                                    f"credit vouchers; people booked "
                                                                    f"{book.vouchers.get(str(inv['id']), 0)}"))
        if max(total - credited - received, Decimal(0)) != remaining:
            out.append(Violation("d balance", step, f"Bexio invoice {inv['id']}: {total} - {credited} - {received} "
                                                    f"!= {remaining}"))
    return out


def no_duplicates(world: World, book: Book, step, portal: dict, xero: dict) -> list[Violation]:
    """(a) no object appears on a side more often than users created it (on both sides), no
    two live Xero invoices for one Bitrix24 invoice, links both ways to live objects."""
    out = []
    by_invoice: dict[str, list[str]] = {}
    for inv in xero["invoices"]:
        if inv["Type"] == "ACCREC" and _live(inv["Status"]):
            b24 = _b24_invoice_of(inv, world.member_id)
            if b24:
                by_invoice.setdefault(b24, []).append(inv["InvoiceNumber"])
    for b24, numbers in by_invoice.items():
        if len(numbers) > 1:
            out.append(Violation("a duplicate", step, f"Bitrix24 invoice {b24} has {len(numbers)} live Xero "
                                                      f"invoices: {numbers}"))
    counts: dict[tuple[str, str], int] = {}  # (side, name without a "(2)" suffix) -> live objects
    for c in xero["contacts"]:
        if _live(c.get("ContactStatus")):
            key = ("Xero", c["Name"].split(" (", 1)[0])
            counts[key] = counts.get(key, 0) + 1
    for row in portal["companies"] + portal["contacts"]:
        key = ("Bitrix24", _party_name(row).split(" (", 1)[0])
        counts[key] = counts.get(key, 0) + 1
    for (side, name), n in counts.items():
        if name and n > book.created_names.get(name, 0):
            out.append(Violation("a duplicate", step, f"{side} has {n} customers named {name!r}; users created "
                                                      f"{book.created_names.get(name, 0)} (on both sides)"))
    with world.app.app_context():
        links = db.session.scalars(select(Link).where(Link.installation_id == world.installation_id)).all()
        db.session.expunge_all()
    xero_invoices = {i["InvoiceID"]: i for i in xero["invoices"]}
    xero_contacts = {c["ContactID"]: c for c in xero["contacts"]}
    b24_invoices = {str(i["id"]) for i in portal["invoices"]} | {f"L{i['ID']}" for i in portal["legacy_invoices"]}
    b24_parties = {f"company:{c['ID']}" for c in portal["companies"]} | {f"contact:{c['ID']}" for c in portal["contacts"]}
    for link in links:
        ref = platform_ref(link.platform_id)
        if link.kind == "invoice":
            invoice_id = ref.rpartition(":")[2]
            if link.ledger_id and link.ledger_id not in xero_invoices:
                out.append(Violation("a links", step, f"invoice link {link.platform_id} -> {link.ledger_id}: no such "
                                                      f"Xero invoice"))
            if invoice_id not in b24_invoices and invoice_id not in book.deleted_invoices:
                out.append(Violation("a links", step, f"invoice link to Bitrix24 invoice {link.platform_id}, "
                                                      f"which does not exist"))
        elif link.kind == "party":
            if link.ledger_id and link.ledger_id.split(":")[0] not in xero_contacts:
                out.append(Violation("a links", step, f"party link {link.platform_id} -> {link.ledger_id}: no such "
                                                      f"Xero contact"))
            if ref not in b24_parties:
                out.append(Violation("a links", step, f"party link to Bitrix24 {ref}, which does "
                                                      f"not exist"))
    return out


KINDS = {"CO": "company", "C": "contact", "SI": "invoice"}


def platform_ref(platform_id: str) -> str:
    """A link's platform id (``b24:<member>:CO:7``, or a bare ``7``) as ``company:7``; an old
    invoice's (``b24:<member>:L:7``) as ``invoice:L7``."""
    parts = platform_id.split(":")
    if len(parts) >= 2 and parts[-2] == "L":
        return f"invoice:L{parts[-1]}"
    if len(parts) >= 2 and parts[-2] in KINDS:
        return f"{KINDS[parts[-2]]}:{parts[-1]}"
    return platform_id


def _party_links(world: World) -> list[Link]:
    with world.app.app_context():
        rows = db.session.scalars(select(Link).where(Link.kind == "party",
                                                     Link.installation_id == world.installation_id)).all()
        db.session.expunge_all()
        return rows


def no_foreign_overwrite(world: World, book: Book, step, portal: dict, xero: dict) -> list[Violation]:
    """(c) a linked pair carries only names and e-mails users gave to one of the two; a Xero
    invoice only the lines its Bitrix24 invoice had."""
    out = []
    contacts = {c["ContactID"]: c for c in xero["contacts"]}
    parties = {f"company:{c['ID']}": c for c in portal["companies"]} | {f"contact:{c['ID']}": c for c in portal["contacts"]}
    for link in _party_links(world):
        contact = contacts.get((link.ledger_id or "").split(":")[0])
        ref = platform_ref(link.platform_id)
        party = parties.get(ref)
        if contact is None or party is None:
            continue
        kind, _, ident = ref.partition(":")
        names = book.names.get((f"b24{kind}", ident), set()) | book.names.get(("xerocontact", contact["ContactID"]), set())
        mails = book.emails.get((f"b24{kind}", ident), set()) | book.emails.get(("xerocontact", contact["ContactID"]), set())
        if ":" not in (link.ledger_id or "") and names and not _similar(contact["Name"], names):
            out.append(Violation("c foreign overwrite", step, f"Xero contact {contact['Name']!r} is linked to "
                                                              f"Bitrix24 {ref}, whose names were {sorted(names)}"))
        if names and not _similar(_party_name(party), names):
            out.append(Violation("c foreign overwrite", step, f"Bitrix24 {ref} is now "
                                                              f"{_party_name(party)!r}; users named it {sorted(names)}"))
        email = (contact.get("EmailAddress") or "").lower()
        if ":" not in (link.ledger_id or "") and email and mails and email not in mails:
            out.append(Violation("c foreign overwrite", step, f"Xero contact {contact['Name']!r} has e-mail {email}, "
                                                              f"not one users gave it or {ref}"))
    for inv in xero["invoices"]:
        b24 = _b24_invoice_of(inv, world.member_id) if inv["Type"] == "ACCREC" else None
        allowed = book.line_texts.get(b24 or "", set())
        if b24 and allowed:
            for line in inv.get("LineItems") or []:
                if line.get("Description") and not any(line["Description"].startswith(t) for t in allowed):
                    out.append(Violation("c foreign overwrite", step, f"Xero invoice {inv['InvoiceNumber']} has the "
                                                                      f"line {line['Description']!r}, not one of "
                                                                      f"Bitrix24 invoice {b24}"))
    return out


def fields_not_ours(book: Book, step, xero: dict) -> list[Violation]:
    """(e) SentToContact only where a user sent; the persons' IncludeInEmails as users set them."""
    out = []
    for inv in xero["invoices"]:
        if inv.get("SentToContact") and inv["InvoiceID"] not in book.sent_by_user:
            out.append(Violation("e not ours", step, f"Xero invoice {inv.get('InvoiceNumber')} is marked sent; "
                                                     f"no user sent it"))
    for c in xero["contacts"]:
        expected = book.include_in_emails.get(c["ContactID"])
        if expected is not None:
            now = [bool(p.get("IncludeInEmails")) for p in c.get("ContactPersons") or []][:len(expected)]
            if now != expected:
                out.append(Violation("e not ours", step, f"Xero contact {c['Name']!r}: persons' IncludeInEmails "
                                                         f"{expected} became {now}"))
    return out


def _user_texts(world: World) -> list[tuple[SyncRecord, str]]:
    with world.app.app_context():
        records = db.session.scalars(select(SyncRecord)).all()
        db.session.expunge_all()
    return [(r, text) for r in records for text in (r.error_message, r.error_fix, r.warning) if text]


def plain_words(world: World, step) -> list[Violation]:
    """(f) what a user reads on a record is plain words; (j) and names only what exists on
    that platform (Bitrix24 has an invoice tab, DG1 does not)."""
    out = []
    for record, text in _user_texts(world):
        if UNPLAIN.search(text):
            out.append(Violation("f plain words", step, f"{record.flow} {record.object_kind}:{record.object_id} "
                                                        f"shows {text[:300]!r}"))
        if record.installation_id == world.shop_installation_id and "invoice tab" in text.lower():
            out.append(Violation("j platform words", step, f"DG1 {record.object_id} shows {text[:200]!r}: DG1 has "
                                                           f"no invoice tab"))
    return out


def no_key_on_documents(world: World, step, xero: dict) -> list[Violation]:
    """(h) no bridge key in what the customer sees: the invoice's Reference, the name of
    the contact it is addressed to."""
    return [Violation("h key on document", step, f"Xero invoice {inv.get('InvoiceNumber')} Reference is "
                                                 f"{inv['Reference']!r}")
            for inv in xero["invoices"] if BRIDGE_KEY.search(inv.get("Reference") or "")] + [
        Violation("h key on document", step, f"Xero contact named {c['Name']!r} (printed on its invoices)")
        for c in xero["contacts"] if BRIDGE_KEY.search(c.get("Name") or "")]


# -- at rest (end of a history) ----------------------------------------------------------------

def check_at_rest(world: World, book: Book, portal: dict, xero: dict) -> list[Violation]:
    return (money_agrees(world, book, portal, xero) + stages_follow(world, book, portal, xero)
            + balances_agree(world, portal, xero) + refunds_credited(world, book, portal, xero)
            + (refund_tasks(world, book) if world.shop else []))


def _our_credit_notes(xero: dict, inv: dict) -> list[dict]:
    """Bridge's credit notes for a Xero invoice (their line names the invoice it credits)."""
    text = f"Credit for invoice {inv['InvoiceNumber']}"
    return [c for c in xero.get("creditNotes") or [] if c.get("Status") not in ("VOIDED", "DELETED")
            and any(str(line.get("Description", "")) == text for line in c.get("LineItems") or [])]


def refunds_credited(world: World, book: Book, portal: dict, xero: dict) -> list[Violation]:
    """(l) a paid or part-paid invoice a user cancelled in Bitrix24 (and did not edit since) has
    exactly one credit note of ours in Xero, applied to it where something was due, and
    nothing is still due."""
    out = []
    live = {str(i["id"]): i for i in portal["invoices"]}
    twins = {_b24_invoice_of(inv, world.member_id): inv for inv in xero["invoices"]
             if inv["Type"] == "ACCREC" and inv["Status"] in ("AUTHORISED", "PAID")}
    for item_id, step in book.refunded.items():
        item, inv = live.get(item_id), twins.get(item_id)
        if item is None or inv is None or item.get("ufCrmSmartInvoiceXeroSync") == "N":
            continue
        ours = _our_credit_notes(xero, inv)
        applied = {c["CreditNoteID"] for c in inv.get("CreditNotes") or []}
        was_due = money(inv["AmountPaid"]) < money(inv["Total"])  # else nothing to apply it to: the customer's credit
        if len(ours) != 1 or money(inv["AmountDue"]) != 0 or (was_due and not applied & {c["CreditNoteID"] for c in ours}):
            out.append(Violation("l refund credited", step, f"Bitrix24 invoice {item_id} was cancelled paid; Xero "
                                                            f"{inv['InvoiceNumber']} has {len(ours)} credit note(s) "
                                                            f"of ours, {inv['AmountDue']} still due"))
    return out


def refund_tasks(world: World, book: Book) -> list[Violation]:
    """(l) a DG1 refund on an order with a live Bexio invoice is a visible "credit it in
    Bexio" task until a person has booked the credit, and one task per refund at most."""
    out = []
    with world.app.app_context():
        rows = db.session.execute(select(SyncRecord.object_id, SyncRecord.state).where(
            SyncRecord.flow == "invoice_refund", SyncRecord.installation_id == world.shop_installation_id)
            .order_by(SyncRecord.id)).all()
    latest = {object_id: state for object_id, state in rows}
    for inv in world.bexio()["invoices"]:
        order_id = (inv.get("api_reference") or "").rsplit(":", 1)[-1]
        refunds = book.refunds.get(order_id)
        if not refunds or inv.get("kb_item_status_id") in (19, 31):
            continue
        key = ":".join((inv.get("api_reference") or "").rsplit(":", 2)[-2:])  # the order's platform id: site:id
        step = world.history.last_touching(f"order:ch:{order_id}")
        open_tasks = sum(1 for object_id, state in rows if object_id == key and state == "conflict")
        if money(inv["total_credit_vouchers"]) < sum(refunds, Decimal(0)) and latest.get(key) != "conflict":
            out.append(Violation("l refund task", step, f"order {order_id} was refunded {sum(refunds)} and Bexio "
                                                        f"invoice {inv['id']} has {inv['total_credit_vouchers']} "
                                                        f"credited, but no task asks to credit it "
                                                        f"(latest: {latest.get(key)})"))
        if open_tasks > len(refunds):
            out.append(Violation("k duplicate task", step, f"order {order_id}: {open_tasks} open refund tasks for "
                                                           f"{len(refunds)} refund(s)"))
    return out


_MARKER = re.compile(r"\[([0-9a-fA-F-]{36})\]$")
_STILL_DUE = re.compile(r"([0-9]+\.[0-9]{2}) [A-Z]{3}\.")


def _notes_by_invoice(portal: dict) -> dict[str, list[str]]:
    notes: dict[str, list[str]] = {}
    for comment in sorted(portal.get("timeline") or [], key=lambda c: c["ID"]):
        notes.setdefault(str(comment["ENTITY_ID"]), []).append(comment["COMMENT"])
    return notes


def money_notes_once(world: World, step, portal: dict, xero: dict) -> list[Violation]:
    """(k) no payment or credit note is written twice under a Bitrix24 invoice, and no
    cancellation gives a second credit note of ours."""
    out = []
    for item_id, notes in _notes_by_invoice(portal).items():
        markers = [m.group(1) for m in (_MARKER.search(n) for n in notes) if m]
        for marker in {m for m in markers if markers.count(m) > 1}:
            out.append(Violation("k duplicate note", step, f"Bitrix24 invoice {item_id} has {markers.count(marker)} "
                                                           f"timeline comments for {marker}"))
    ours: dict[str, int] = {}
    for note in xero.get("creditNotes") or []:
        for line in note.get("LineItems") or []:
            if str(line.get("Description", "")).startswith("Credit for invoice "):
                ours[line["Description"]] = ours.get(line["Description"], 0) + 1
    for text, n in ours.items():
        if n > 1:
            out.append(Violation("k duplicate credit note", step, f"{n} credit notes {text!r}"))
    return out


def balances_agree(world: World, portal: dict, xero: dict) -> list[Violation]:
    """(d) extended: total - credits - payments = balance in Xero, and the Bitrix24 invoice's
    last money note says the same balance, with every payment and credit noted once."""
    out = []
    notes = _notes_by_invoice(portal)
    live_items = {str(i["id"]) for i in portal["invoices"]}
    for inv in xero["invoices"]:
        if inv["Type"] != "ACCREC" or inv["Status"] in ("DRAFT", "SUBMITTED", "DELETED", "VOIDED"):
            continue
        total, paid, credited, due = (money(inv[k]) for k in ("Total", "AmountPaid", "AmountCredited", "AmountDue"))
        if total - paid - credited != due:
            out.append(Violation("d balance", None, f"Xero {inv['InvoiceNumber']}: {total} - {paid} - {credited} "
                                                    f"!= {due}"))
        b24 = _b24_invoice_of(inv, world.member_id)
        if not b24 or b24 not in live_items or b24.startswith("L"):
            continue
        settled = [p["PaymentID"] for p in inv.get("Payments") or []] + [
            c["CreditNoteID"] for c in inv.get("CreditNotes") or []]
        mine = notes.get(b24, [])
        noted = {m.group(1) for m in (_MARKER.search(n) for n in mine) if m}
        missing = [s for s in settled if s not in noted]
        if missing:
            out.append(Violation("d balance", None, f"Bitrix24 invoice {b24}: {len(missing)} payment(s) or credit(s) "
                                                    f"of Xero {inv['InvoiceNumber']} are not in its timeline"))
            continue
        money_notes = [n for n in mine if _MARKER.search(n)]
        if money_notes:
            last = money_notes[-1]
            found = _STILL_DUE.findall(last.split("Still due:")[-1]) if "Still due:" in last else ["0.00"]
            shown = Decimal(found[0]) if found else None
            if shown != due:
                out.append(Violation("d balance", None, f"Bitrix24 invoice {b24}'s timeline says {shown} still due, "
                                                        f"Xero {inv['InvoiceNumber']} {due}"))
    return out




def money_agrees(world: World, book: Book, portal: dict, xero: dict) -> list[Violation]:
    """(d) a linked invoice's total, tax and currency in Xero are the platform's, or its
    record does not read as synced."""
    out = []
    xero_by_b24 = {}
    for inv in xero["invoices"]:
        b24 = _b24_invoice_of(inv, world.member_id) if inv["Type"] == "ACCREC" else None
        if b24 and _live(inv["Status"]):
            xero_by_b24[b24] = inv
    for item in portal["invoices"]:
        inv = xero_by_b24.get(str(item["id"]))
        if inv is None:
            continue
        ours = (money(item["opportunity"]), money(item.get("taxValue")), item["currencyId"])
        out += _money_violation(world, str(item["id"]), ours, inv)
    for old in portal["legacy_invoices"]:
        inv = xero_by_b24.get(f"L{old['ID']}")
        if inv is not None:
            out += _money_violation(world, f"L{old['ID']}", (money(old["PRICE"]), money(old.get("TAX_VALUE")),
                                                             old["CURRENCY"]), inv)
    return out


def _money_violation(world: World, platform_id: str, ours: tuple, inv: dict) -> list[Violation]:
    theirs = (money(inv["Total"]), money(inv["TotalTax"]), inv["CurrencyCode"])
    lines = max(len(inv.get("LineItems") or []), 1)
    if (ours[2] == theirs[2] and abs(ours[0] - theirs[0]) <= Decimal("0.01") * lines
            and abs(ours[1] - theirs[1]) <= Decimal("0.01") * lines):
        return []
    tab = _tab_state(world, platform_id)
    if tab.tone != "ok":
        return []
    step = world.history.last_touching(f"invoice:{platform_id}", f"ledger_invoice:{inv['InvoiceID']}")
    return [Violation("d money", step, f"Bitrix24 invoice {platform_id} is {ours}, Xero {inv['InvoiceNumber']} "
                                       f"({inv['Status']}) is {theirs}, and the invoice tab reads {tab.label!r}")]


def _tab_state(world: World, invoice_id: str):
    """What the invoice tab shows for the invoice (its label and tone), as a user sees it."""
    from bridge.web.bitrix24.invoice_state import invoice_state

    with world.app.test_request_context():
        return invoice_state(world.installation_id, invoice_id)


def stages_follow(world: World, book: Book, portal: dict, xero: dict) -> list[Violation]:
    """(i) the Bitrix24 stage is the one the stage settings give for Xero's state: paid ->
    the paid stage, voided -> failure, "sent" once Xero has it sent to the customer (or
    approved, as the setting says); approved but not sent is not "sent" by default (the
    seed: "once the invoice has been sent to a client"). An invoice Xero has not changed
    since the settings did keeps the stage it was given."""
    with world.app.app_context():
        settings = get_section(store.find(world.member_id), "invoices")
    out = []
    stages = {s["STATUS_ID"]: s for s in portal["stages"] if str(s.get("CATEGORY_ID")) == "1"}
    success = {k for k, s in stages.items() if s.get("SEMANTICS") == "S"}
    failure = {k for k, s in stages.items() if s.get("SEMANTICS") == "F"}
    sent_stage = {settings.stage_sent} if settings.stage_sent else {k for k in stages if k.endswith(":S")}
    xero_by_b24 = {}
    for inv in xero["invoices"]:
        b24 = _b24_invoice_of(inv, world.member_id) if inv["Type"] == "ACCREC" else None
        if b24:
            xero_by_b24[b24] = inv
    for item in portal["invoices"]:
        inv = xero_by_b24.get(str(item["id"]))
        if inv is None or item.get("ufCrmSmartInvoiceXeroSync") == "N":
            continue
        touched = world.history.last_touching(f"ledger_invoice:{inv['InvoiceID']}", f"invoice:{item['id']}") or 0
        if touched < book.stage_settings_step:
            continue
        stage, status = item["stageId"], inv["Status"]
        sent = inv.get("SentToContact") or settings.sent_when == "approved"
        expected = None
        if str(item["id"]) in book.cancelled:
            expected = failure  # the user's cancellation stands: a credit note makes it PAID in Xero
        elif status == "PAID":
            expected = {settings.stage_paid} if settings.stage_paid else success
        elif status == "VOIDED":
            expected = {settings.stage_failed} if settings.stage_failed else failure
        elif status == "AUTHORISED" and sent:
            expected = sent_stage
        elif status in ("AUTHORISED", "DRAFT") and stage in sent_stage:
            expected = set(stages) - sent_stage
        if expected is not None and stage not in expected:
            out.append(Violation("i stage", touched or None,
                                 f"Bitrix24 invoice {item['id']} is at {stage}; Xero has it {status}"
                                 f"{' and sent' if inv.get('SentToContact') else ''}, which the settings "
                                 f"(sent when {settings.sent_when}) map to one of {sorted(expected)}"))
    return out + old_statuses_follow(world, book, portal, xero_by_b24, settings.sent_when)


def old_invoice_status_expected(status: str, sent: bool, current: str) -> set[str] | None:
    """(i) for an old invoice: the portal's INVOICE_STATUS by semantics (N new, S sent, P paid
    with success semantics, D declined with failure semantics)."""
    if status == "PAID":
        return {"P"}
    if status == "VOIDED":
        return {"D"}
    if status == "AUTHORISED" and sent:
        return {"S"}
    if status in ("AUTHORISED", "DRAFT") and current == "S":
        return {"N", "P", "D"}
    return None


def old_statuses_follow(world: World, book: Book, portal: dict, xero_by_b24: dict, sent_when: str) -> list[Violation]:
    out = []
    for old in portal["legacy_invoices"]:
        platform_id = f"L{old['ID']}"
        inv = xero_by_b24.get(platform_id)
        if inv is None or str(old.get("UF_CRM_XERO_SYNC")) == "0":
            continue
        touched = world.history.last_touching(f"ledger_invoice:{inv['InvoiceID']}", f"invoice:{platform_id}") or 0
        if touched < book.stage_settings_step:
            continue
        expected = old_invoice_status_expected(inv["Status"], bool(inv.get("SentToContact")) or sent_when == "approved",
                                               old["STATUS_ID"])
        if expected is not None and old["STATUS_ID"] not in expected:
            out.append(Violation("i stage", touched or None,
                                 f"old Bitrix24 invoice {platform_id} has status {old['STATUS_ID']}; Xero has it "
                                 f"{inv['Status']}, which means one of {sorted(expected)}"))
    return out


# -- writes and their causes ---------------------------------------------------------------------

def writes(entry: dict) -> bool:
    """A request that changes something on the other side."""
    path, method = entry["path"], entry["method"]
    if not (200 <= entry["status"] < 300):
        return False
    if "/api.xro/2.0/" in path:  # a 200 whose every element failed validation changed nothing
        refused = '"HasErrors": true' in entry.get("answer", "") and '"HasErrors": false' not in entry.get("answer", "")
        return method in ("PUT", "POST", "DELETE") and not refused
    if "/rest/" in path:
        name = path.rsplit("/rest/", 1)[1].removesuffix(".json")
        if name == "batch":
            commands = [v for k, v in _form(entry["body"]).items() if k.startswith("cmd[")]
            return any(WRITE_METHODS.search(c.split("?", 1)[0]) for c in commands)
        return bool(WRITE_METHODS.search(name))
    return False


def _form(body: str) -> dict[str, str]:
    try:
        data = json.loads(body)
        return {f"cmd[{k}]": v for k, v in (data.get("cmd") or {}).items()} if isinstance(data, dict) else {}
    except ValueError:
        pairs = [p.split("=", 1) for p in body.split("&") if "=" in p]
        return {unquote_plus(k): unquote_plus(v) for k, v in pairs}


def _work_keys(world: World, cause: str | None) -> list[str]:
    if not cause or not cause.startswith("work="):
        return []
    ids = [int(i) for i in cause[5:].split(",") if i.isdigit()]
    with world.app.app_context():
        rows = db.session.execute(select(WorkItem.flow, WorkItem.object_key).where(WorkItem.id.in_(ids))).all()
    return [key for _, key in rows]


def allocated_invoices(entry: dict) -> list[str]:
    """The Xero invoices a credit-note allocation of bridge's applies to: the allocation
    changes each one's balance, which bridge then notes under its platform invoice."""
    if "/creditnotes/" not in entry["path"].lower() or "allocations" not in entry["path"].lower():
        return []
    try:
        body = json.loads(entry["body"] or "{}")
    except ValueError:
        return []
    return [f"ledger_invoice:{a['Invoice']['InvoiceID']}" for a in body.get("Allocations") or []
            if isinstance(a, dict) and (a.get("Invoice") or {}).get("InvoiceID")]


def writes_have_causes(world: World, book: Book, log: list[dict]) -> list[Violation]:
    """(b) every write is caused by a user change: its work's object was changed by a user
    (or a user asked: Sync now, Import) after that object's previous writes, or those
    failed and this is their retry; or bridge's own credit-note allocation (itself caused
    by a user's cancellation) changed that ledger invoice after its last write, in the
    order of the log: a user who cancels while Xero's payment is on its way sees the
    payment noted, then the credit. (g) and no step costs more than the bound."""
    out = []
    changed = world.history.changed
    last_write_mark: dict[str, int] = {}
    last_write_at: dict[str, int] = {}
    allocated_at: dict[str, int] = {}
    failed_since: set[str] = set()
    per_step: dict[int, int] = {}
    for position, entry in enumerate(log):
        mark = entry["mark"] or 0
        per_step[mark] = per_step.get(mark, 0) + 1
        keys = _work_keys(world, entry["cause"])
        if entry["status"] >= 300:
            failed_since.update(keys)
            continue
        if not writes(entry):
            continue
        what = f"{entry['method']} {entry['path'].split('/', 2)[-1]}"
        if not keys:
            out.append(Violation("b write without a change", mark, f"{what} made outside any sync run"))
            continue
        justified = False
        for key in keys:
            previous = last_write_mark.get(key, 0)
            if any(previous < s <= mark for s in changed.get(key, [])) or (
                    previous == mark and any(s <= mark for s in changed.get(key, []))) or key in failed_since or \
                    allocated_at.get(key, -1) > last_write_at.get(key, -1):
                justified = True
        if not justified:
            out.append(Violation("b write without a change", mark,
                                 f"{what} caused by {keys}: no user changed {' or '.join(keys)} since its last write"))
        for key in keys:
            last_write_mark[key] = mark
            last_write_at[key] = position
            failed_since.discard(key)
        for key in allocated_invoices(entry):
            allocated_at[key] = position
    # A delivery or the rest at the end runs the work of every step before it: the bound is
    # per user step up to there (so a history's calls stay within 40 a step in all).
    total = 0
    for mark, calls in sorted(per_step.items()):
        total += calls
        bound = CALLS_PER_STEP * max(mark, 1) + CALLS_PER_IMPORTED * book.imported
        if total > bound:
            out.append(Violation("g bounded cost", mark, f"{total} API calls up to this step (bound {bound})"))
            break
    return out
