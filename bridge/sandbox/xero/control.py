"""Control endpoints under /_sandbox/xero/: orgs, headless tokens, acting as a Xero user,
seeding, state for assertions, webhook switches. They exist only in the sandbox."""
from __future__ import annotations

import random
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from flask import Blueprint, abort, jsonify, request

from . import banking, contacts, creditnotes, invoices, payments, tokens
from .common import Ctx, Invalid
from .store import Grant, new_org
from .webhooks import Delivery
from .wire import dumps, render

if TYPE_CHECKING:
    from . import System

# Changes made "in Xero" by a person are not created by the app (createdByMyApp=false).
XERO_USER = Grant(user_id=tokens.DEMO_USER_ID, client_id="xero-web", auth_event_id="", scopes=[])


def _json(payload: Any, status: int = 200):
    return dumps(render(payload)), status, {"Content-Type": "application/json"}


def make_blueprint(system: "System") -> Blueprint:
    bp = Blueprint("xero_control", __name__)
    host = system.host

    def org_or_404(tenant_id: str):
        org = system.orgs.get(tenant_id.lower())
        if org is None:
            abort(404, description="unknown tenant")
        return org

    def user_ctx(org) -> Ctx:
        return Ctx(system=system, org=org, grant=XERO_USER, method="POST", args={}, body=None, now=host.clock.now())

    def act(org, fn) -> Any:
        """Run ``fn(ctx)`` as a Xero user; its events go out like any other change."""
        with host.lock:
            ctx = user_ctx(org)
            try:
                result = fn(ctx)
            except Invalid as exc:
                return _json({"error": "validation", "messages": exc.messages}, 400)
        ctx.publish()
        return _json(result)

    def org_summary(org) -> dict:
        return {"tenantId": org.tenant_id, "name": org.name, "region": org.region,
                "baseCurrency": org.base_currency, "shortCode": org.short_code,
                "webhookUrl": org.webhook_url or host.app_url + "/hooks/xero",
                "dayLimit": org.day_limit or system.settings.day_limit}

    @bp.get("/")
    def index():
        s = system.settings
        return jsonify(orgs=[org_summary(o) for o in system.orgs.values()], client_id=s.client_id,
                       redirect_uris=system.redirect_uris(), limits=system.limits(),
                       settings={k: getattr(s, k) for k in s.RUNTIME})

    @bp.post("/settings")
    def settings():
        body = request.get_json(silent=True) or {}
        s = system.settings
        for key in s.RUNTIME:
            if key in body:
                setattr(s, key, type(getattr(s, key))(body[key]))
        return jsonify({k: getattr(s, k) for k in s.RUNTIME})

    @bp.post("/redirect-uris")
    def add_redirect_uri():
        uri = (request.get_json(silent=True) or {}).get("uri")
        if not uri:
            abort(400, description="uri is required")
        system.extra_redirect_uris.append(uri)
        return jsonify(redirect_uris=system.redirect_uris())

    @bp.get("/orgs")
    def list_orgs():
        return jsonify([org_summary(o) for o in system.orgs.values()])

    @bp.post("/orgs")
    def create_org():
        body = request.get_json(silent=True) or {}
        try:
            org = new_org(body.get("name") or "Sandbox Org", body.get("region", "NZ"), body.get("base_currency"),
                          host.clock.now())
        except ValueError as exc:
            abort(400, description=str(exc))
        org.webhook_url = body.get("webhook_url")
        org.day_limit = body.get("day_limit")
        with host.lock:
            system.orgs[org.tenant_id] = org
        return jsonify(org_summary(org)), 201

    @bp.post("/orgs/<tenant_id>/high-volume")
    def set_high_volume(tenant_id: str):
        """``{"threshold": N}``: from N+1 records of a kind on, unoptimised ``where`` filters
        are refused as on a large organisation (null: Xero's own size)."""
        org = org_or_404(tenant_id)
        value = (request.get_json(silent=True) or {}).get("threshold")
        org.high_volume_threshold = None if value is None else int(value)
        return jsonify(threshold=org.high_volume_threshold)

    @bp.post("/orgs/<tenant_id>/webhook")
    def set_webhook(tenant_id: str):
        org = org_or_404(tenant_id)
        org.webhook_url = (request.get_json(silent=True) or {}).get("url")
        return jsonify(org_summary(org))

    @bp.post("/tokens")
    def mint():
        """A token pair for a list of orgs without the browser dance (scripts, tests)."""
        body = request.get_json(silent=True) or {}
        scopes = body.get("scopes") or tokens.DEFAULT_SCOPES
        scopes, error = tokens.check_scopes(" ".join(scopes) if isinstance(scopes, list) else scopes)
        if error:
            return jsonify(error=error), 400
        tenant_ids = [t.lower() for t in body.get("tenant_ids") or list(system.orgs)]
        if any(t not in system.orgs for t in tenant_ids):
            abort(404, description="unknown tenant")
        grant = Grant(user_id=tokens.DEMO_USER_ID, client_id=system.settings.client_id,
                      auth_event_id=str(uuid.uuid4()), scopes=scopes)
        with host.lock:
            conns = [system.identity.connect(grant, t, host.clock.now()) for t in tenant_ids]
            issued = tokens.issue(system.identity, grant, host.clock.time())
        return jsonify({**issued.body, "tenant_ids": tenant_ids, "auth_event_id": grant.auth_event_id,
                        "connections": [{"id": c.id, "tenantId": c.tenant_id} for c in conns]})

    # --- acting as a Xero user -------------------------------------------------------
    def invoice_or_404(org, invoice_id: str) -> dict:
        inv = invoices.find(org, invoice_id)
        if inv is None:
            abort(404, description="unknown invoice")
        return inv

    @bp.post("/orgs/<tenant_id>/invoices/<invoice_id>/approve")
    def approve(tenant_id: str, invoice_id: str):
        org = org_or_404(tenant_id)
        inv = invoice_or_404(org, invoice_id)
        return act(org, lambda ctx: invoices.upsert(ctx, {"Status": "AUTHORISED"}, True, inv["InvoiceID"]))

    @bp.post("/orgs/<tenant_id>/invoices/<invoice_id>/void")
    def void(tenant_id: str, invoice_id: str):
        org = org_or_404(tenant_id)
        inv = invoice_or_404(org, invoice_id)
        status = "VOIDED" if inv["Status"] == "AUTHORISED" else "DELETED"
        return act(org, lambda ctx: invoices.upsert(ctx, {"Status": status}, True, inv["InvoiceID"]))

    @bp.post("/orgs/<tenant_id>/invoices/<invoice_id>/send")
    def send(tenant_id: str, invoice_id: str):
        org = org_or_404(tenant_id)
        inv = invoice_or_404(org, invoice_id)
        if inv["Status"] not in ("AUTHORISED", "PAID"):
            return _json({"error": "only approved invoices can be sent"}, 400)
        return act(org, lambda ctx: invoices.upsert(ctx, {"SentToContact": True}, True, inv["InvoiceID"]))

    @bp.post("/orgs/<tenant_id>/invoices/<invoice_id>/pay")
    def pay(tenant_id: str, invoice_id: str):
        org = org_or_404(tenant_id)
        inv = invoice_or_404(org, invoice_id)
        body = request.get_json(silent=True) or {}
        raw = {"Invoice": {"InvoiceID": inv["InvoiceID"]}, "Account": {"Code": body.get("account_code", "090")},
               "Amount": Decimal(str(body["amount"])) if "amount" in body else inv["AmountDue"],
               "Date": body.get("date"), "Reference": body.get("reference", "")}
        return act(org, lambda ctx: payments.create(ctx, raw))

    @bp.post("/orgs/<tenant_id>/invoices/<invoice_id>/credit")
    def credit(tenant_id: str, invoice_id: str):
        """A Xero user credits the invoice: an approved credit note of ``amount`` (tax
        included, default: what is due) for its contact, allocated to it."""
        org = org_or_404(tenant_id)
        inv = invoice_or_404(org, invoice_id)
        body = request.get_json(silent=True) or {}
        amount = Decimal(str(body["amount"])) if "amount" in body else inv["AmountDue"]

        def make(ctx):
            note = creditnotes.upsert(ctx, {
                "Type": "ACCRECCREDIT", "Status": "AUTHORISED", "Contact": {"ContactID": inv["_contact_id"]},
                "CurrencyCode": inv["CurrencyCode"], "LineAmountTypes": "Inclusive",
                "LineItems": [{"Description": body.get("description", "Credit"), "Quantity": 1, "UnitAmount": amount,
                               "AccountCode": body.get("account_code", "200")}]}, False)
            creditnotes.allocate(ctx, org.credit_notes[note["CreditNoteID"]],
                                 {"Invoice": {"InvoiceID": inv["InvoiceID"]}, "Amount": amount})
            return creditnotes.render(org, org.credit_notes[note["CreditNoteID"]])
        return act(org, make)

    @bp.post("/orgs/<tenant_id>/invoices/<invoice_id>/edit")
    def edit_invoice(tenant_id: str, invoice_id: str):
        org = org_or_404(tenant_id)
        inv = invoice_or_404(org, invoice_id)
        body = request.get_json(silent=True) or {}
        return act(org, lambda ctx: invoices.upsert(ctx, body, True, inv["InvoiceID"]))

    @bp.post("/orgs/<tenant_id>/contacts")
    def create_contact(tenant_id: str):
        """A contact a person adds in Xero (not made by the app)."""
        org = org_or_404(tenant_id)
        return act(org, lambda ctx: contacts.apply(ctx, request.get_json(silent=True) or {}, None))

    @bp.post("/orgs/<tenant_id>/invoices")
    def create_invoice(tenant_id: str):
        """An invoice (ACCREC) or bill (ACCPAY) a person enters in Xero: its contact becomes
        a customer or a supplier (NOTES section 2)."""
        org = org_or_404(tenant_id)
        return act(org, lambda ctx: invoices.upsert(ctx, request.get_json(silent=True) or {}, False))

    @bp.post("/orgs/<tenant_id>/tax-rates/<tax_type>")
    def edit_tax_rate(tenant_id: str, tax_type: str):
        """A person changes a tax rate's percentage in Xero (Settings > Tax rates), e.g. after
        a change in the law: ``{"rate": "20"}``. Invoices written afterwards are taxed at it;
        a mapping saved before still names the tax type."""
        org = org_or_404(tenant_id)
        with host.lock:
            rate = org.tax_rate(tax_type)
            if rate is None:
                abort(404, description="unknown tax type")
            value = Decimal(str((request.get_json(silent=True) or {})["rate"]))
            rate["EffectiveRate"] = rate["DisplayTaxRate"] = value
            for component in rate.get("TaxComponents") or []:
                component["Rate"] = value
            return _json(rate)

    @bp.post("/orgs/<tenant_id>/contacts/<contact_id>/edit")
    def edit_contact(tenant_id: str, contact_id: str):
        org = org_or_404(tenant_id)
        contact = contacts.find(org, contact_id)
        if contact is None:
            abort(404, description="unknown contact")
        body = request.get_json(silent=True) or {}
        return act(org, lambda ctx: contacts.apply(ctx, body, contact))

    @bp.post("/orgs/<tenant_id>/seed")
    def seed(tenant_id: str):
        """N bank transactions and N paid invoices, spread over the last 90 days, with 5
        contacts as their counterparties; N more contacts, every other one a company with a
        contact person (no webhooks). ``"customers": true`` makes those N customers, as a sales
        invoice each would (IsCustomer set, UpdatedDateUTC left alone; NOTES section 2)."""
        org = org_or_404(tenant_id)
        body = request.get_json(silent=True) or {}
        rng = random.Random(body.get("seed", 1))
        n_bank, n_pay = int(body.get("bank_transactions", 0)), int(body.get("payments", 0))
        with host.lock:
            ctx = user_ctx(org)
            for i in range(int(body.get("contacts", 0))):
                if i % 2:
                    made = contacts.apply(ctx, {"Name": f"Person {i:05d}", "FirstName": "Person",
                                                "LastName": f"{i:05d}", "EmailAddress": f"person{i}@people.test"}, None)
                else:
                    made = contacts.apply(ctx, {"Name": f"Company {i:05d} Ltd", "FirstName": "Owner",
                                                "LastName": f"{i:05d}", "EmailAddress": f"ap{i}@company.test",
                                                "ContactPersons": [{"FirstName": "Clerk", "LastName": f"{i:05d}",
                                                                    "EmailAddress": f"clerk{i}@company.test"}]}, None)
                if body.get("customers"):
                    org.contacts[made["ContactID"]]["IsCustomer"] = True
            customers = [contacts.apply(ctx, {"Name": f"Seed Customer {uuid.uuid4().hex[:8]}"}, None)
                         for _ in range(5)]  # the transactions' counterparties
            sales = org.default_sales_tax
            for i in range(n_bank):
                when = ctx.today - timedelta(days=rng.randint(0, 90))
                banking.create(ctx, {
                    "Type": rng.choice(("RECEIVE", "SPEND")), "Contact": {"ContactID": rng.choice(customers)["ContactID"]},
                    "BankAccount": {"Code": "090"}, "Date": when.isoformat(), "Reference": f"Seed {i + 1}",
                    "LineItems": [{"Description": "Seeded transaction", "Quantity": 1,
                                   "UnitAmount": Decimal(rng.randint(500, 500000)) / 100, "AccountCode": "429",
                                   "TaxType": "NONE"}]})
            for _ in range(n_pay):
                when = ctx.today - timedelta(days=rng.randint(0, 90))
                inv = invoices.upsert(ctx, {
                    "Type": "ACCREC", "Status": "AUTHORISED", "Contact": {"ContactID": rng.choice(customers)["ContactID"]},
                    "Date": when.isoformat(), "DueDate": (when + timedelta(days=14)).isoformat(),
                    "LineItems": [{"Description": "Seeded sale", "Quantity": 1, "TaxType": sales,
                                   "UnitAmount": Decimal(rng.randint(1000, 200000)) / 100, "AccountCode": "200"}]}, False)
                payments.create(ctx, {"Invoice": {"InvoiceID": inv["InvoiceID"]}, "Account": {"Code": "090"},
                                      "Amount": inv["AmountDue"], "Date": when.isoformat()})
            ctx.events.clear()
        return jsonify(bank_transactions=len(org.bank_transactions), payments=len(org.payments),
                       contacts=len(org.contacts))

    @bp.get("/orgs/<tenant_id>/state")
    def state(tenant_id: str):
        org = org_or_404(tenant_id)
        with host.lock:
            payload = {
                **org_summary(org),
                "contacts": [contacts.render(c) for c in org.contacts.values()],
                "invoices": [invoices.render(org, i) for i in org.invoices.values()],
                "payments": [payments.render(org, p) for p in org.payments.values()],
                "creditNotes": [creditnotes.render(org, c) for c in org.credit_notes.values()],
                "bankTransactions": [banking.render(org, b) for b in org.bank_transactions.values()],
                "items": list(org.items.values()),
            }
        return _json(payload)

    # --- webhooks and limits -----------------------------------------------------------
    @bp.post("/webhooks/flush")
    def flush():
        return jsonify(deliveries=system.webhooks.flush())

    @bp.get("/webhooks/pending")
    def pending():
        """Events waiting to go out (with ``webhooks_enabled`` off they wait for a test)."""
        with system.webhooks._cond:
            return jsonify(pending=[event for _, event in system.webhooks.pending])

    @bp.post("/webhooks/release")
    def release():
        """``{"count": N, "duplicate": bool}``: deliver the first N pending events (all by
        default) now, in one POST per URL; ``duplicate`` delivers that POST twice (Xero
        delivers at least once). The rest stay pending: delayed, in their order."""
        body = request.get_json(silent=True) or {}
        hooks = system.webhooks
        with hooks._cond:
            count = len(hooks.pending) if body.get("count") is None else int(body["count"])
            held, hooks.pending = hooks.pending[count:], hooks.pending[:count]
        try:
            made = hooks.flush()
        finally:
            with hooks._cond:
                hooks.pending = held + hooks.pending
        if body.get("duplicate"):
            for first in list(made):  # the same body again, byte for byte
                again = Delivery(id=str(uuid.uuid4()), url=first["url"], body=first["body"],
                                 signature=first["signature"], events=first["events"])
                with hooks._cond:
                    hooks.log.append(again)
                hooks._attempt(again)
                made.append(again.as_dict())
        return jsonify(deliveries=made, pending=len(hooks.pending))

    @bp.post("/webhooks/drop")
    def drop():
        """``{"count": N}``: lose the first N pending events (all by default), as a delivery
        Xero gave up on after its retries."""
        body = request.get_json(silent=True) or {}
        hooks = system.webhooks
        with hooks._cond:
            count = len(hooks.pending) if body.get("count") is None else int(body["count"])
            dropped, hooks.pending = hooks.pending[:count], hooks.pending[count:]
        return jsonify(dropped=len(dropped), pending=len(hooks.pending))

    @bp.get("/webhooks/deliveries")
    def deliveries():
        return jsonify(deliveries=[d.as_dict() for d in system.webhooks.log],
                       pending=len(system.webhooks.pending))

    @bp.post("/webhooks/intent")
    def intent():
        body = request.get_json(silent=True) or {}
        url = body.get("url") or host.app_url + "/hooks/xero"
        return jsonify(system.webhooks.intent_to_receive(url))

    @bp.post("/hold")
    def hold():
        system.hold(bool((request.get_json(silent=True) or {}).get("on", True)))
        return jsonify(held=not system._release.is_set())

    @bp.post("/outage")
    def outage():
        body = request.get_json(silent=True) or {}
        if body.get("clear"):
            system.outages = []
            return jsonify(outages=[])
        status = int(body.get("status", 503))
        if status not in (429, 500, 502, 503, 504):
            return jsonify(error="status must be 429, 500, 502, 503 or 504"), 400
        retry_after = body.get("retry_after")
        system.add_outage(status, float(body.get("seconds", 60)), int(retry_after) if retry_after is not None else None)
        return jsonify(outages=system.outages)

    @bp.get("/outage")
    def outages():
        return jsonify(outages=system.outages, now=system.host.clock.time())

    @bp.get("/limits")
    def limits():
        return jsonify(system.limiter.snapshot())

    return bp
