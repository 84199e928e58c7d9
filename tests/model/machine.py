"""The model: what users do on both sides, as hypothesis rules, over one live ``World``.

A history is a sequence of rule calls; hypothesis generates, runs and shrinks them. Every
rule is one user action (or one delivery, fault or clock move), recorded as a step; after
each the state invariants are checked, and at the end the world is driven to rest and the
rest are (``invariants``). Nothing in a rule waits on the wall clock: deliveries are
released by rules, the queue is drained by rules, time is the sandbox's.

Objects are picked by index (``which % len(...)``) so a printed history reads as plain
calls (``state.xero_approve(which=1)``) and replays as such.
"""
from __future__ import annotations

import os
import zlib
from decimal import Decimal

import requests

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from bridge.extensions import db

from .invariants import (Book, Violation, _b24_invoice_of, check_at_rest, check_state, refunds_credited, writes,
                         writes_have_causes)
from .world import ACME, World, money

NAMES = ("Globex Ltd", "Initech", "Umbrella Corp", "Hooli", "Globex Ltd")  # one name twice: a real clash
PEOPLE = (("Jane", "Doe"), ("Owen", "Owner"), ("Ada", "Byron"))
PRODUCTS = ("Workshop day", "Licence", "Support hour")
CURRENCIES = ("NZD", "NZD", "AUD", "GBP")  # GBP is not enabled in the Xero organisation
WHICH = st.integers(min_value=0, max_value=5)
COUNT = st.one_of(st.none(), st.integers(min_value=1, max_value=3))

REPLAY = "BRIDGE_MODEL_SEED={seed} {python} -m pytest -q{marker} 'tests/model/test_histories.py::{test}'"


class HistoryFailed(AssertionError):
    pass


# What the runs of this process did (printed by the tests, quoted in docs/RELIABILITY.md).
STATS = {"histories": 0, "steps": 0, "digest": 0, "refunds": 0}  # refunds: paid invoices cancelled, orders refunded


class BridgeHistory(RuleBasedStateMachine):
    """Set ``world`` (a class attribute) before running: the tests do it."""

    world: World
    replay_hint = ""
    with_shop = False  # also the DG1 shop and its Bexio company

    def __init__(self) -> None:
        super().__init__()
        self.book = Book()
        self.companies: list[str] = []
        self.people: list[str] = []
        self.invoices: list[str] = []  # Bitrix24 invoice ids (live ones)
        self.old_invoices: list[str] = []  # old Bitrix24 invoices (crm.invoice.*), as "L<id>" (live ones)
        self.xero_contacts: list[str] = []

    @initialize()
    def fresh_world(self) -> None:
        self.world.reset(shop=self.with_shop)
        STATS["histories"] += 1

    # -- helpers ---------------------------------------------------------------------------
    @property
    def w(self) -> World:
        return self.world

    def _b24(self, path: str, method: str = "POST", **body):
        return self.w.control(f"bitrix24/portals/{ACME}/{path}", method, json=body or None)

    def _xero(self, path: str, **body):
        """Act as a person in Xero; a refusal (400: a name Xero has, a status it does not
        allow) is what that person would see, not a test error."""
        response = requests.post(f"{self.w.live.sandbox_url}/_sandbox/xero/orgs/{self.w.tenant}/{path}", json=body,
                                 timeout=30)
        if response.status_code not in (200, 201, 400):
            response.raise_for_status()
        return response.json()

    def _xero_invoices(self, status: tuple[str, ...] | None = None) -> list[dict]:
        found = [i for i in self.w.xero()["invoices"] if i["Type"] == "ACCREC"]
        return [i for i in found if status is None or i["Status"] in status]

    def _rows(self, lines: int, discount: bool, rate: int, text: str, quantity: int) -> list[dict]:
        rows = []
        for n in range(lines):
            row = {"productName": f"{PRODUCTS[n % len(PRODUCTS)]} {text}", "price": str(Decimal(100 + rate)) + ".00",
                   "quantity": quantity + n, "taxRate": rate, "taxIncluded": "N"}
            if discount:
                gross = Decimal(100 + rate)
                row.update(price=str(gross * Decimal("0.9")), discountTypeId=2, discountRate=10,
                           discountSum=str(gross / 10))
            rows.append(row)
        return rows

    # -- Bitrix24: parties -------------------------------------------------------------------
    @rule(name=st.integers(0, len(NAMES) - 1), email=st.booleans())
    def b24_add_company(self, name, email):
        title = NAMES[name]
        mail = f"ap{len(self.companies)}@{title.split()[0].lower()}.test" if email else None
        self.w.step(f"Bitrix24: add company {title!r}{' <' + mail + '>' if mail else ''}")
        fields = {"TITLE": title, **({"EMAIL": [{"VALUE": mail, "VALUE_TYPE": "WORK"}]} if mail else {})}
        row = self._b24("companies", fields=fields)
        self.companies.append(row["ID"])
        self.w.history.changed.setdefault(f"party:CO:{row['ID']}", []).append(len(self.w.history.steps))
        self.book.named("b24company", row["ID"], title, mail)
        self.book.created_names[title] = self.book.created_names.get(title, 0) + 1

    @rule(person=st.integers(0, len(PEOPLE) - 1), company=st.one_of(st.none(), WHICH))
    def b24_add_contact(self, person, company):
        first, last = PEOPLE[person]
        company_id = self.companies[company % len(self.companies)] if company is not None and self.companies else None
        mail = f"{first.lower()}{len(self.people)}@people.test"
        self.w.step(f"Bitrix24: add contact {first} {last}" + (f" of company {company_id}" if company_id else ""))
        fields = {"NAME": first, "LAST_NAME": last, "EMAIL": [{"VALUE": mail, "VALUE_TYPE": "WORK"}],
                  **({"COMPANY_ID": company_id} if company_id else {})}
        row = self._b24("contacts", fields=fields)
        self.people.append(row["ID"])
        self.w.history.changed.setdefault(f"party:C:{row['ID']}", []).append(len(self.w.history.steps))
        self.book.named("b24contact", row["ID"], f"{first} {last}", mail)
        self.book.created_names[f"{first} {last}"] = self.book.created_names.get(f"{first} {last}", 0) + 1

    @precondition(lambda self: self.companies)
    @rule(which=WHICH, name=st.integers(0, len(NAMES) - 1))
    def b24_rename_company(self, which, name):
        company_id = self.companies[which % len(self.companies)]
        title = NAMES[name] + " Group"
        self.w.step(f"Bitrix24: rename company {company_id} to {title!r}", f"party:CO:{company_id}")
        self._b24(f"companies/{company_id}", fields={"TITLE": title})
        self.book.named("b24company", company_id, title)
        self.book.created_names[title] = self.book.created_names.get(title, 0) + 1

    # -- Bitrix24: invoices ---------------------------------------------------------------------
    @precondition(lambda self: self.companies or self.people)
    @rule(party=WHICH, to_person=st.booleans(), lines=st.integers(1, 3), discount=st.booleans(),
          currency=st.integers(0, len(CURRENCIES) - 1), rate=st.sampled_from((15, 15, 0, 9)), sync=st.booleans())
    def b24_add_invoice(self, party, to_person, lines, discount, currency, rate, sync):
        use_person = (to_person and self.people) or not self.companies
        pool = self.people if use_person else self.companies
        party_id = pool[party % len(pool)]
        text = f"#{len(self.invoices) + 1}"
        fields = {"title": f"Invoice {text}", "currencyId": CURRENCIES[currency],
                  ("contactId" if use_person else "companyId"): party_id,
                  "ufCrmSmartInvoiceXeroSync": "Y" if sync else "N"}
        step = self.w.step(f"Bitrix24: add invoice {text} for {'contact' if use_person else 'company'} {party_id}, "
                           f"{lines} line(s){' with discount' if discount else ''}, {CURRENCIES[currency]}, "
                           f"tax {rate} %, sync {'on' if sync else 'off'}")
        item = self._b24("invoices", fields=fields, rows=self._rows(lines, discount, rate, text, 1))["item"]
        self.invoices.append(str(item["id"]))
        self.w.history.changed.setdefault(f"invoice:{item['id']}", []).append(step)
        self.book.line_texts[str(item["id"])] = {f"{p} {text}" for p in PRODUCTS}

    @precondition(lambda self: self.invoices)
    @rule(which=WHICH, quantity=st.integers(1, 4))
    def b24_edit_invoice_lines(self, which, quantity):
        item_id = self.invoices[which % len(self.invoices)]
        text = "#" + str(self.invoices.index(item_id) + 1)
        self.w.step(f"Bitrix24: invoice {item_id} quantity -> {quantity}", f"invoice:{item_id}")
        self.book.refunded.pop(item_id, None)  # a changed invoice: no longer the cancellation alone
        self._b24(f"invoices/{item_id}", rows=self._rows(1, False, 15, text, quantity))

    @precondition(lambda self: self.invoices)
    @rule(which=WHICH, quantity=st.integers(1, 4))
    def b24_edit_in_the_write_back_second(self, which, quantity):
        """A user's edit saved in the very second bridge wrote the Xero id back (Bitrix24
        event times have whole seconds; the clock is frozen), after the write-back's own
        event was lost: the edit's event looks like our echo and is skipped unread, so only
        the reconcile's re-check of skipped echoes sends it (connectors/bitrix24/echoes.py)."""
        item_id = self.invoices[which % len(self.invoices)]
        text = "#" + str(self.invoices.index(item_id) + 1)
        self.w.step("Bitrix24: everything delivered and run, the write-backs' events lost, the reconcile runs")
        self.w.b24_release()
        self.w.drain()
        self._adopt_parties()
        self.w.b24_discard()  # what is held now is only what bridge's own writes caused
        from bridge.connectors.bitrix24.reconcile import reconcile_all
        with self.w.app.app_context():
            reconcile_all()  # a reconcile in that second too: its cursor has passed the invoice
        self.w.drain()
        self.w.step(f"Bitrix24: invoice {item_id} quantity -> {quantity}, in the second of the write-back",
                    f"invoice:{item_id}")
        self.book.refunded.pop(item_id, None)
        self._b24(f"invoices/{item_id}", rows=self._rows(1, False, 15, text, quantity))

    @precondition(lambda self: self.invoices)
    @rule(which=WHICH, on=st.booleans())
    def b24_sync_box(self, which, on):
        item_id = self.invoices[which % len(self.invoices)]
        self.w.step(f"Bitrix24: invoice {item_id} 'Sync with Xero' {'on' if on else 'off'}", f"invoice:{item_id}")
        self.book.refunded.pop(item_id, None)
        self._b24(f"invoices/{item_id}", fields={"ufCrmSmartInvoiceXeroSync": "Y" if on else "N"})

    @precondition(lambda self: self.invoices)
    @rule(which=WHICH)
    def b24_delete_invoice(self, which):
        item_id = self.invoices.pop(which % len(self.invoices))
        self.w.step(f"Bitrix24: delete invoice {item_id}", f"invoice:{item_id}")
        self._b24(f"invoices/{item_id}", "DELETE")
        self.book.deleted_invoices.add(item_id)

    @precondition(lambda self: self.invoices)
    @rule(which=WHICH)
    def b24_sync_now(self, which):
        item_id = self.invoices[which % len(self.invoices)]
        self.w.step(f"Bitrix24: Sync now on invoice {item_id}", f"invoice:{item_id}")
        self.w.ask("invoice_to_ledger", f"invoice:{item_id}", manual=True, user_id=1)

    # -- Bitrix24: old invoices (crm.invoice.*, in the portal's currency, USD) -------------------
    def _old_rows(self, lines: int, rate: int, text: str, quantity: int) -> list[dict]:
        return [{"ID": 0, "PRODUCT_NAME": f"{PRODUCTS[n % len(PRODUCTS)]} {text}", "PRICE": f"{100 + rate}.00",
                 "QUANTITY": quantity + n, "VAT_RATE": str(Decimal(rate) / 100), "VAT_INCLUDED": "N"}
                for n in range(lines)]

    @precondition(lambda self: self.companies or self.people)
    @rule(party=WHICH, to_person=st.booleans(), lines=st.integers(1, 3), rate=st.sampled_from((15, 0)),
          sync=st.booleans())
    def b24_add_old_invoice(self, party, to_person, lines, rate, sync):
        use_person = (to_person and self.people) or not self.companies
        pool = self.people if use_person else self.companies
        party_id = pool[party % len(pool)]
        text = f"old #{len(self.old_invoices) + 1}"
        step = self.w.step(f"Bitrix24: add old invoice {text} for {'contact' if use_person else 'company'} "
                           f"{party_id}, {lines} line(s), tax {rate} %, sync {'on' if sync else 'off'}")
        row = self._b24("legacy-invoices", fields={
            "ORDER_TOPIC": f"Invoice {text}", "PERSON_TYPE_ID": 1, "PAY_SYSTEM_ID": 1,
            ("UF_CONTACT_ID" if use_person else "UF_COMPANY_ID"): party_id, "UF_CRM_XERO_SYNC": "1" if sync else "0",
            "PRODUCT_ROWS": self._old_rows(lines, rate, text, 1)})
        platform_id = f"L{row['ID']}"
        self.old_invoices.append(platform_id)
        self.w.history.changed.setdefault(f"invoice:{platform_id}", []).append(step)
        self.book.line_texts[platform_id] = {f"{p} {text}" for p in PRODUCTS}

    @precondition(lambda self: self.old_invoices)
    @rule(which=WHICH, quantity=st.integers(1, 4))
    def b24_edit_old_invoice_lines(self, which, quantity):
        platform_id = self.old_invoices[which % len(self.old_invoices)]
        text = "old #" + str(self.old_invoices.index(platform_id) + 1)
        self.w.step(f"Bitrix24: old invoice {platform_id} quantity -> {quantity}", f"invoice:{platform_id}")
        self._b24(f"legacy-invoices/{platform_id[1:]}", fields={"PRODUCT_ROWS": self._old_rows(1, 15, text, quantity)})

    @precondition(lambda self: self.old_invoices)
    @rule(which=WHICH)
    def b24_delete_old_invoice(self, which):
        platform_id = self.old_invoices.pop(which % len(self.old_invoices))
        self.w.step(f"Bitrix24: delete old invoice {platform_id}", f"invoice:{platform_id}")
        self._b24(f"legacy-invoices/{platform_id[1:]}", "DELETE")
        self.book.deleted_invoices.add(platform_id)

    @precondition(lambda self: self.old_invoices)
    @rule(which=WHICH)
    def b24_old_sync_now(self, which):
        platform_id = self.old_invoices[which % len(self.old_invoices)]
        self.w.step(f"Bitrix24: Sync now on old invoice {platform_id}", f"invoice:{platform_id}")
        self.w.ask("invoice_to_ledger", f"invoice:{platform_id}", manual=True, user_id=1)

    # -- Bitrix24: deliveries ------------------------------------------------------------------
    @rule(count=COUNT, duplicate=st.booleans(), run=st.booleans())
    def b24_events_delivered(self, count, duplicate, run):
        self.w.step(f"Bitrix24 delivers {count or 'all'} held event(s){' twice' if duplicate else ''}"
                    f"{', worker runs' if run else ''}")
        self.w.b24_release(count, duplicate)
        if run:
            self.w.drain()
            self._adopt_parties()

    @rule()
    def b24_event_lost(self):
        self.w.step("Bitrix24 loses the next held event")
        self.w.b24_discard(1)

    # -- Xero: a person in Xero -------------------------------------------------------------------
    def _pick(self, which: int, *status: str) -> dict | None:
        found = self._xero_invoices(status)
        return found[which % len(found)] if found else None

    def _xero_act(self, verb: str, which: int, statuses: tuple[str, ...], path: str, **body) -> None:
        inv = self._pick(which, *statuses)
        if inv is None:
            self.w.step(f"Xero: {verb}: no invoice to {verb}")
            return
        self.w.step(f"Xero: {verb} {inv['InvoiceNumber']}", f"ledger_invoice:{inv['InvoiceID']}")
        self._xero(f"invoices/{inv['InvoiceID']}/{path}", **body)
        if path == "send":
            self.book.sent_by_user.add(inv["InvoiceID"])

    @rule(which=WHICH)
    def xero_approve(self, which):
        self._xero_act("approve", which, ("DRAFT", "SUBMITTED"), "approve")

    @rule(which=WHICH)
    def xero_mark_sent(self, which):
        self._xero_act("mark sent", which, ("AUTHORISED",), "send")

    @rule(which=WHICH, full=st.booleans())
    def xero_pay(self, which, full):
        inv = self._pick(which, "AUTHORISED")
        amount = None if inv is None or full else str((Decimal(str(inv["AmountDue"])) / 2).quantize(Decimal("0.01")))
        self._xero_act("pay in full" if full else "pay half of", which, ("AUTHORISED",), "pay",
                       **({"amount": amount} if amount else {}))

    @rule(which=WHICH)
    def xero_credit(self, which):
        """A person in Xero credits half of what is still due (a credit note, allocated)."""
        inv = self._pick(which, "AUTHORISED")
        half = None if inv is None else str((Decimal(str(inv["AmountDue"])) / 2).quantize(Decimal("0.01")))
        self._xero_act("credit half of", which, ("AUTHORISED",), "credit",
                       **({"amount": half, "description": "Goodwill"} if half else {}))

    @rule(which=WHICH, full=st.booleans(), at_once=st.booleans())
    def b24_refund_invoice(self, which, full, at_once):
        """A user cancels a paid or part-paid synced invoice in Bitrix24 (moves it to the
        failure stage): bridge owes one Xero credit note for it, applied to what is due.
        So that refunds are reached in a short history, what is missing happens first, each
        as its own step: a company and an invoice added, the held events delivered, and a
        person in Xero approving and paying (half or all of) it, its webhooks held. With
        ``at_once`` the user cancels while Xero's webhooks are still on their way (bridge
        follows Xero's status before it reads the cancellation); else once Bitrix24 shows
        the payment, a second after bridge's write-back."""
        if not self._xero_twins():
            if not self.invoices:
                if not (self.companies or self.people):
                    self.b24_add_company(name=which % len(NAMES), email=True)
                self.b24_add_invoice(party=which, to_person=False, lines=1, discount=False, currency=0, rate=15,
                                     sync=True)
            self.b24_events_delivered(count=None, duplicate=False, run=True)
        twins = self._xero_twins()
        paid = [i for i in self.invoices if i in twins and money(twins[i].get("AmountPaid")) > 0]
        unpaid = [i for i in self.invoices if i in twins and twins[i]["Status"] in ("DRAFT", "AUTHORISED")]
        if not paid and not unpaid:
            self.w.step("Bitrix24: refund a paid invoice: none in Xero")
            return
        item_id = (paid or unpaid)[which % len(paid or unpaid)]
        inv = twins[item_id]
        if not paid:
            if inv["Status"] == "DRAFT":
                self.w.step(f"Xero: approve {inv['InvoiceNumber']}", f"ledger_invoice:{inv['InvoiceID']}")
                self._xero(f"invoices/{inv['InvoiceID']}/approve")
            half = str((money(inv["AmountDue"]) / 2).quantize(Decimal("0.01")))
            self.w.step(f"Xero: pay {'in full' if full else 'half of'} {inv['InvoiceNumber']}",
                        f"ledger_invoice:{inv['InvoiceID']}")
            self._xero(f"invoices/{inv['InvoiceID']}/pay", **({} if full else {"amount": half}))
            inv = next(i for i in self._xero_invoices() if i["InvoiceID"] == inv["InvoiceID"])
        if not at_once:
            if self.w.held()[1]:
                self.xero_webhooks_delivered(count=None, duplicate=False, run=True)
            self.w.sandbox.clock.advance(1)
        step = self.w.step(f"Bitrix24: invoice {item_id} (paid {inv['AmountPaid']} in Xero) moved to the "
                           f"failure stage", f"invoice:{item_id}",
                           f"ledger_invoice:{inv['InvoiceID']}")  # its credit is noted under it
        self._b24(f"invoices/{item_id}", fields={"stageId": "DT31_1:D"})
        self.book.refunded[item_id] = step
        self.book.cancelled.add(item_id)
        STATS["refunds"] += 1

    def _xero_twins(self) -> dict[str, dict]:
        """Live Bitrix24 invoices' Xero twins that a person can still pay (or has paid)."""
        found = {_b24_invoice_of(inv, self.w.member_id): inv
                 for inv in self._xero_invoices(("DRAFT", "AUTHORISED", "PAID"))}
        return {item_id: inv for item_id, inv in found.items() if item_id in self.invoices}

    @rule(which=WHICH)
    def xero_void(self, which):
        self._xero_act("void", which, ("DRAFT", "AUTHORISED"), "void")

    @rule(which=WHICH, quantity=st.integers(1, 3))
    def xero_edit_draft(self, which, quantity):
        inv = self._pick(which, "DRAFT")
        if inv is None:
            self.w.step("Xero: edit a draft: none")
            return
        lines = [{"LineItemID": line["LineItemID"], "Quantity": quantity} for line in inv["LineItems"][:1]]
        self.w.step(f"Xero: edit draft {inv['InvoiceNumber']} quantity -> {quantity}",
                    f"ledger_invoice:{inv['InvoiceID']}")
        self._xero(f"invoices/{inv['InvoiceID']}/edit", LineItems=lines + inv["LineItems"][1:])

    @rule(name=st.integers(0, len(NAMES) - 1), role=st.sampled_from(("contact", "customer", "supplier")),
          with_person=st.booleans(), owner=st.booleans())
    def xero_add_contact(self, name, role, with_person, owner=False):
        """A contact added in Xero; a customer has a sales invoice, a supplier a bill (Xero
        sets IsCustomer/IsSupplier with the first one, NOTES section 2)."""
        title = NAMES[name]
        body = {"Name": title, "EmailAddress": f"xero{len(self.xero_contacts)}@{title.split()[0].lower()}.test"}
        if owner:  # the contact's primary person, as Xero's demo company has them
            body.update(FirstName="Owen", LastName="Owner")
        if with_person:
            body["ContactPersons"] = [{"FirstName": "Clerk", "LastName": title.split()[0],
                                       "EmailAddress": "clerk@x.test", "IncludeInEmails": False}]
        step = self.w.step(f"Xero: add {role} {title!r}"
                           f"{' with a person' if with_person else ''}")
        made = self._xero("contacts", **body)
        if "ContactID" not in made:  # a name Xero already has: refused, as in Xero
            return
        self.xero_contacts.append(made["ContactID"])
        self.w.history.changed.setdefault(f"ledger_party:{made['ContactID']}", []).append(step)
        self.book.named("xerocontact", made["ContactID"], title, body["EmailAddress"])
        for person in [title] + (["Clerk " + title.split()[0]] if with_person else []) + (
                ["Owen Owner"] if owner else []):  # a person in Xero may become a contact of its own
            self.book.created_names[person] = self.book.created_names.get(person, 0) + 1
        self.book.imported += 1
        if with_person:
            self.book.include_in_emails[made["ContactID"]] = [False]
        if role != "contact":
            today = self.w.sandbox.clock.now().date().isoformat()
            sale = role == "customer"
            self._xero("invoices", Type="ACCREC" if sale else "ACCPAY", Contact={"ContactID": made["ContactID"]},
                       Status="AUTHORISED", Date=today, DueDate=today, LineItems=[{
                           "Description": "Entered in Xero" if sale else "Paper", "Quantity": 1, "UnitAmount": 20,
                           "AccountCode": "200" if sale else "429", "TaxType": "OUTPUT2" if sale else "INPUT2"}])

    @rule(which=WHICH, name=st.integers(0, len(NAMES) - 1), email=st.booleans())
    def xero_edit_contact(self, which, name, email):
        """A person in Xero renames a contact or changes its e-mail (a contact bridge made
        counts too: it is theirs to edit)."""
        contacts = [c for c in self.w.xero()["contacts"] if c.get("ContactStatus") == "ACTIVE"]
        if not contacts:
            self.w.step("Xero: edit a contact: none")
            return
        contact = contacts[which % len(contacts)]
        body = ({"EmailAddress": f"new{len(self.w.history.steps)}@edited.test"} if email
                else {"Name": NAMES[name] + " NZ"})
        self.w.step(f"Xero: {'new e-mail for' if email else 'rename'} contact {contact['Name']!r}: {body}",
                    f"ledger_party:{contact['ContactID']}")
        if "error" in self._xero(f"contacts/{contact['ContactID']}/edit", **body):
            self.w.history.steps[-1].text += " (refused by Xero)"
            return
        self.book.named("xerocontact", contact["ContactID"], body.get("Name"), body.get("EmailAddress"))
        if body.get("Name"):
            self.book.created_names[body["Name"]] = self.book.created_names.get(body["Name"], 0) + 1

    @precondition(lambda self: self.xero_contacts)
    @rule(which=WHICH)
    def xero_invoice_a_contact(self, which):
        """A person in Xero invoices an existing contact: it becomes a customer, and Xero
        does not move its UpdatedDateUTC for that (NOTES section 2)."""
        contact_id = self.xero_contacts[which % len(self.xero_contacts)]
        today = self.w.sandbox.clock.now().date().isoformat()
        step = self.w.step(f"Xero: a sales invoice entered for contact #{self.xero_contacts.index(contact_id) + 1}")
        made = self._xero("invoices", Type="ACCREC", Contact={"ContactID": contact_id}, Status="AUTHORISED",
                          Date=today, DueDate=today, LineItems=[{"Description": "Entered in Xero", "Quantity": 1,
                                                                 "UnitAmount": 20, "AccountCode": "200",
                                                                 "TaxType": "OUTPUT2"}])
        if "InvoiceID" in made:
            self.w.history.changed.setdefault(f"ledger_invoice:{made['InvoiceID']}", []).append(step)

    @precondition(lambda self: self.people)
    @rule(which=WHICH)
    def b24_edit_contact_email(self, which):
        person = self.people[which % len(self.people)]
        mail = f"moved{len(self.w.history.steps)}@people.test"
        self.w.step(f"Bitrix24: contact {person} e-mail -> {mail}", f"party:C:{person}")
        self._b24(f"contacts/{person}", fields={"EMAIL": [{"VALUE": mail, "VALUE_TYPE": "WORK"}]})
        self.book.named("b24contact", person, None, mail)

    @precondition(lambda self: self.xero_contacts)
    @rule(which=WHICH)
    def xero_archive_contact(self, which):
        number = which % len(self.xero_contacts)
        contact_id = self.xero_contacts.pop(number)
        self.w.step(f"Xero: archive contact #{number + 1} of those still active", f"ledger_party:{contact_id}")
        self._xero(f"contacts/{contact_id}/edit", ContactStatus="ARCHIVED")

    # -- Xero: deliveries ---------------------------------------------------------------------------
    @rule(count=COUNT, duplicate=st.booleans(), run=st.booleans())
    def xero_webhooks_delivered(self, count, duplicate, run):
        self.w.step(f"Xero delivers {count or 'all'} pending webhook event(s){' twice' if duplicate else ''}"
                    f"{', worker runs' if run else ''}")
        self.w.xero_release(count, duplicate)
        if run:
            self.w.drain()
            self._adopt_parties()

    @rule()
    def xero_webhook_lost(self):
        self.w.step("Xero gives up on the next webhook event")
        self.w.xero_drop(1)

    # -- bridge: buttons, settings, worker, faults, time -------------------------------------------
    @rule()
    def worker_runs(self):
        self.w.step("the worker runs what is queued")
        self.w.drain()
        self._adopt_parties()

    def _adopt_parties(self) -> None:
        """Companies and contacts bridge made in Bitrix24 (an import) are there for users
        to pick from now on, as in the CRM."""
        portal = self.w.portal()
        self.companies += [c["ID"] for c in portal["companies"] if c["ID"] not in self.companies]
        self.people += [c["ID"] for c in portal["contacts"] if c["ID"] not in self.people]

    @rule()
    def periodic_passes(self):
        """What bridge's scheduler does every few minutes: the Bitrix24 reconcile (changes
        whose events were lost) and the ledger poll (webhooks lost)."""
        from bridge.connectors.bitrix24.reconcile import reconcile_all
        from bridge.sync.polling import poll_all

        self.w.step("the periodic passes run (Bitrix24 reconcile, Xero poll), then the worker")
        with self.w.app.app_context():
            reconcile_all()
            poll_all()
        self.w.drain()

    @rule()
    def import_from_xero(self):
        self.w.step("Bitrix24 settings: Import from Xero", "import:parties")
        self.w.ask("party_import", "import:parties", manual=True)

    @rule(status=st.sampled_from((503, 429)), minutes=st.integers(1, 5))
    def xero_storm(self, status, minutes):
        self.w.step(f"Xero answers {status} to every call for {minutes} min")
        self.w.control("xero/outage", json={"status": status, "seconds": minutes * 60,
                                            **({"retry_after": 60} if status == 429 else {})})

    @rule(seconds=st.sampled_from((30, 400, 3600, 86400)))
    def clock_moves(self, seconds):
        self.w.step(f"{seconds} s pass")
        self.w.sandbox.clock.advance(seconds)

    @rule(sent_when=st.sampled_from(("sent", "approved")), paid_stage=st.sampled_from((None, "DT31_1:UC_AWAIT")))
    def stage_settings(self, sent_when, paid_stage):
        """Bitrix24 settings: what moves an invoice to "sent", and which stage means paid."""
        self.w.step(f"Bitrix24 settings: 'sent' when Xero has it {sent_when}; paid stage {paid_stage or 'the success stage'}")
        self.w.settings("invoices", {"sent_when": sent_when, "stage_paid": paid_stage})
        self.book.stage_settings_step = len(self.w.history.steps)

    @rule(on=st.booleans())
    def import_suppliers_setting(self, on):
        self.w.step(f"Bitrix24 settings: Import from Xero includes suppliers {'on' if on else 'off'}")
        self.w.settings("party_import", {"include_suppliers": on})

    @rule(rate=st.sampled_from(("15", "9")), code=st.sampled_from(("OUTPUT2", "NONE")))
    def map_tax(self, rate, code):
        self.w.step(f"Bitrix24 settings: tax {rate} % -> {code}")
        mapping = {"tax_rates": {"15": "OUTPUT2", "0": "NONE", rate: code}, "default_sales_account": "200"}
        try:
            self.w.settings("mapping", mapping)
        except Exception as exc:  # noqa: BLE001 - a refused setting is the user seeing "no"
            self.w.history.steps[-1].text += f" (refused: {exc})"

    # -- DG1 and Bexio (histories with ``with_shop``) ------------------------------------------------
    def _orders(self, *status: str) -> list[dict]:
        return [o for o in self.w.dg1()["orders"] if not status or o["status"] in status]

    @precondition(lambda self: self.w.shop)
    @rule(paid=st.booleans(), quantity=st.integers(1, 3))
    def dg1_place_order(self, paid, quantity):
        body = {"site": "ch", "items": [{"sku": "MUG-01", "quantity": quantity}],
                "shipments": [{"method": "Post Priority", "price": "9.00", "tax_rate": "8.10"}],
                "payments": [{"method": "card", "status": "captured", "fee_amount": "1.50", "fee_tax_rate": "8.10"}]
                if paid else []}
        step = self.w.step(f"DG1: a customer orders {quantity} mug(s){', paid by card' if paid else ''}")
        order = self.w.control("dg1/tenants/demo/orders", json=body)
        self.w.history.changed.setdefault(f"order:ch:{order['id']}", []).append(step)

    def _dg1_act(self, verb: str, which: int, statuses: tuple[str, ...], path: str) -> None:
        found = self._orders(*statuses)
        if not found:
            self.w.step(f"DG1: {verb}: no order to {verb}")
            return
        order = found[which % len(found)]
        self.w.step(f"DG1: {verb} order {order['id']}", f"order:ch:{order['id']}")
        self.w.control(f"dg1/tenants/demo/orders/{order['id']}/{path}")

    @precondition(lambda self: self.w.shop)
    @rule(which=WHICH)
    def dg1_pay_order(self, which):
        self._dg1_act("pay", which, ("PLACED", "PROCESSING"), "pay")

    @precondition(lambda self: self.w.shop)
    @rule(which=WHICH)
    def dg1_ship_order(self, which):
        self._dg1_act("ship", which, ("PLACED", "PROCESSING", "PAID"), "ship")

    @precondition(lambda self: self.w.shop)
    @rule(which=WHICH)
    def dg1_cancel_order(self, which):
        self._dg1_act("cancel", which, ("PLACED", "PROCESSING"), "cancel")

    def _refundable(self) -> list[dict]:
        return [o for o in self._orders("PAID", "SHIPPED", "COMPLETED")
                if sum(self.book.refunds.get(o["id"], []), Decimal(0)) < money(o["totals"]["grand_total"])]

    @precondition(lambda self: self.w.shop)
    @rule(which=WHICH, full=st.booleans())
    def dg1_refund_order(self, which, full):
        """The shop refunds a paid order, all that is left or half of it (``order.refunded``):
        bridge shows a "credit it in Bexio" task and books no money itself. With no paid
        order yet, a customer first orders and pays by card (its own step, webhooks held)."""
        if not self._refundable():
            self.dg1_place_order(paid=True, quantity=1 + which % 3)
        found = self._refundable()
        if not found:
            self.w.step("DG1: refund: no paid order left to refund")
            return
        order = found[which % len(found)]
        left = money(order["totals"]["grand_total"]) - sum(self.book.refunds.get(order["id"], []), Decimal(0))
        amount = left if full or left < Decimal("0.02") else (left / 2).quantize(Decimal("0.01"))
        self.w.step(f"DG1: refund {amount} of order {order['id']}", f"order:ch:{order['id']}")
        self.w.control(f"dg1/tenants/demo/orders/{order['id']}/refund", json={"amount": str(amount)})
        self.book.refunds.setdefault(order["id"], []).append(amount)
        STATS["refunds"] += 1

    @precondition(lambda self: self.w.shop)
    @rule(which=WHICH)
    def bexio_credit_voucher(self, which):
        """A person does what the refund task asks: books the credit voucher in Bexio's web
        app for the refunds not credited yet (the API cannot, so only a person does)."""
        owed = []
        for invoice in self.w.bexio()["invoices"]:
            order_id = (invoice.get("api_reference") or "").rsplit(":", 1)[-1]
            due = sum(self.book.refunds.get(order_id, []), Decimal(0)) - money(invoice["total_credit_vouchers"])
            if due > 0 and invoice.get("kb_item_status_id") not in (19, 31):
                owed.append((invoice, order_id, due))
        if not owed:
            self.w.step("Bexio: book a credit voucher: no refund waiting for one")
            return
        invoice, order_id, due = owed[which % len(owed)]
        self.w.step(f"Bexio: a person books a credit voucher of {due} on invoice {invoice['id']}",
                    f"order:ch:{order_id}")
        self.w.control(f"bexio/companies/seeland/invoices/{invoice['id']}/credit_voucher", json={"amount": str(due)})
        self.book.vouchers[str(invoice["id"])] = self.book.vouchers.get(str(invoice["id"]), Decimal(0)) + due

    @precondition(lambda self: self.w.shop)
    @rule(which=WHICH)
    def bexio_mark_paid(self, which):
        found = [i for i in self.w.bexio()["invoices"] if i.get("kb_item_status_id") == 8]
        if not found:
            self.w.step("Bexio: mark paid: no open invoice")
            return
        invoice = found[which % len(found)]
        order = (invoice.get("api_reference") or "").rsplit(":", 2)
        self.w.step(f"Bexio: mark invoice {invoice['id']} paid", f"order:ch:{order[-1]}")
        self.w.control(f"bexio/companies/seeland/invoices/{invoice['id']}/mark_paid")
        self.book.marked_paid[str(invoice["id"])] = self.book.marked_paid.get(str(invoice["id"]), 0) + 1

    @precondition(lambda self: self.w.shop)
    @rule(run=st.booleans())
    def dg1_webhooks_delivered(self, run):
        self.w.step(f"DG1 delivers its held webhooks{', worker runs' if run else ''}")
        self.w.dg1_release()
        if run:
            self.w.drain()

    @precondition(lambda self: self.w.shop)
    @rule()
    def dg1_products_sync(self):
        """DG1 admin: "Sync products" (the shop's products become Bexio articles)."""
        from bridge.engine import request_work
        from bridge.sync.product_to_ledger import product_request

        self.w.step("DG1 admin: Sync products to Bexio, then the worker", "products")
        with self.w.app.app_context():
            request_work(product_request(self.w.shop_installation_id, manual=True))
            db.session.commit()
        self.w.drain()

    @precondition(lambda self: self.w.shop)
    @rule()
    def daily_status(self):
        from bridge.sync.status_from_ledger import request_daily_status

        self.w.step("the daily Bexio status pass runs, then the worker")
        with self.w.app.app_context():
            request_daily_status()
        self.w.drain()

    # -- invariants ----------------------------------------------------------------------------------
    def _fail(self, violations: list[Violation]) -> None:
        ignored = set(os.environ.get("BRIDGE_MODEL_IGNORE", "").split(","))
        violations = [v for v in violations if v.invariant.split()[0] not in ignored]
        if violations:
            history = "\n".join(f"  {s.number}. {s.text}" for s in self.w.history.steps)
            found = "\n".join(v.render(self.w.history) for v in violations)
            raise HistoryFailed(f"{found}\n\nthe history:\n{history}\n\nreplay: {self.replay_hint}")

    @invariant()
    def state_is_sound(self):
        if not self.w.history.steps:
            return
        portal, xero = self.w.portal(), self.w.xero()
        self._fail(check_state(self.w, self.book, len(self.w.history.steps), portal, xero))

    def finish(self) -> None:
        """End an explicit history (a regression replay) as hypothesis ends a random one."""
        self.state_is_sound()
        self.teardown()

    def teardown(self):
        if not getattr(self.world, "tenant", None) or not self.w.history.steps:
            return
        STATS["steps"] += len(self.w.history.steps)
        STATS["digest"] = zlib.crc32("\n".join(s.text for s in self.w.history.steps).encode(), STATS["digest"])
        self.w.step("(at rest: every delivery made, periodic passes run, the queue drained)")
        self.w.quiesce()
        portal, xero = self.w.portal(), self.w.xero()
        violations = check_state(self.w, self.book, len(self.w.history.steps), portal, xero)
        violations += check_at_rest(self.w, self.book, portal, xero)
        violations += writes_have_causes(self.w, self.book, self.w.requests_since(self.w.request_seq))
        self._fail(violations)
        mark = self.w.control("requests", method="GET")["next"]
        step = self.w.step("(re-reads: every Bitrix24 event again, the reconcile and the poll from the start)")
        self.w.reread()
        portal, xero = self.w.portal(), self.w.xero()  # the repeated events made no second credit note, payment...
        self._fail([Violation("b write without a change", step, f"a re-read wrote: {entry['method']} "
                                                                 f"{entry['path'].split('/', 2)[-1]} ({entry['cause']})")
                    for entry in self.w.requests_since(mark) if writes(entry)]
                   + check_state(self.w, self.book, step, portal, xero) + refunds_credited(self.w, self.book, portal, xero))


def replay_command(test: str, seed: int) -> str:
    """The command that runs ``seed`` again (the slow tests need ``-m slow``: pytest.ini
    leaves them out otherwise, even when named)."""
    marker = " -m slow" if test.startswith("test_random") else ""
    return REPLAY.format(seed=seed, test=test, python=".venv/bin/python", marker=marker)
