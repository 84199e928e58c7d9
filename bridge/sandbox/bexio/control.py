"""``/_sandbox/bexio/...``: what tests and demos do that a Bexio user or the developer
portal would do by hand (create a company, mint a token, book a payment, count stock),
read state for assertions, and inject 429/503 answers. Sandbox-only."""
from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from flask import Blueprint, jsonify, request

from . import articles, contacts, invoices, payments, sessions, stock
from .state import Company
from .wire import ApiError, error, json_body, money, parse_decimal

if TYPE_CHECKING:
    from . import System


def blueprint(system: "System") -> Blueprint:
    bp = Blueprint("bexio_control", __name__)
    lock = system.host.lock

    @bp.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error(exc.status, exc.message)

    def _company(company_id: str) -> Company:
        found = system.state.companies.get(company_id)
        if found is None:
            raise ApiError(404, f"no company {company_id}")
        return found

    @bp.get("/")
    def overview():
        with lock:
            return jsonify(settings=system.settings(), client_id=system.app.client_id,
                           redirect_uris=system.app.redirect_uris, limits=system.limits(),
                           companies=[c.public() for c in system.state.companies.values()])

    @bp.post("/settings")
    def settings():
        body = request.get_json(silent=True) or {}
        with lock:
            for name in ("auto_approve", "any_loopback_redirect"):
                if name in body:
                    setattr(system.demo, name, bool(body[name]))
            if "rate_limit" in body:
                system.rate_limit = int(body["rate_limit"])
            if "redirect_uris" in body:
                system.app.redirect_uris = list(body["redirect_uris"])[:10]  # NOTES §1: up to 10
            return jsonify(system.settings())

    @bp.get("/companies")
    def list_companies():
        with lock:
            return jsonify([c.public() for c in system.state.companies.values()])

    @bp.post("/companies")
    def create_company():
        body = request.get_json(silent=True) or {}
        if not body.get("name"):
            raise ApiError(400, "name is required")
        with lock:
            try:
                created = system.state.add_company(body["name"], body.get("company_id"),
                                                   body.get("owner_email"), bool(body.get("trial")))
            except ValueError as exc:
                raise ApiError(409, str(exc))
            if "use_automatic_enumeration" in body:
                created.settings["use_automatic_enumeration"] = bool(body["use_automatic_enumeration"])
            return jsonify(created.public()), 201

    @bp.post("/token")
    def mint_token():
        """Headless consent: the token response the code flow would give."""
        body = request.get_json(silent=True) or {}
        scopes = str(body.get("scope") or sessions.APP_SCOPES).split()
        unknown = sorted(set(scopes) - sessions.SUPPORTED_SCOPES)
        if unknown:
            raise ApiError(400, f"unknown scopes: {' '.join(unknown)}")
        with lock:
            current = _company(str(body.get("company_id") or next(iter(system.state.companies))))
            user = current.user(body.get("user_id") or current.users[0]["id"])
            if user is None:
                raise ApiError(404, "no such user in that company")
            now = system.host.clock.time()
            session = sessions.start_session(system.state, now, current, user, system.app.client_id, scopes)
            issuer = request.host_url.rstrip("/") + "/auth.bexio.com/realms/bexio"
            return jsonify(sessions.issue(system.state, now, issuer, session))

    @bp.get("/companies/<company_id>/state")
    def state(company_id: str):
        with lock:
            current = _company(company_id)
            invoice_rows = []
            for inv in current.invoices.values():
                row = invoices.public(system, current, inv)
                row["payments"] = [payments.public(p) for p in inv["payments"]]
                invoice_rows.append(row)
            return jsonify(company=current.public(),
                           contacts=[{**contacts.public(c), "archived": c["archived"]}
                                     for c in current.contacts.values()],
                           invoices=invoice_rows,
                           articles=[articles.public(a) for a in current.articles.values()],
                           sent_emails=list(current.sent_emails),
                           taxes=[{"id": t["id"], "code": t["code"], "is_active": t["is_active"]}
                                  for t in current.taxes])

    @bp.post("/companies/<company_id>/invoices/<int:invoice_id>/mark_paid")
    def mark_paid(company_id: str, invoice_id: int):
        with lock:
            current = _company(company_id)
            inv = invoices.get(current, invoice_id)
            payment = payments.pay_in_full(system, current, inv)
            return jsonify(payment=payments.public(payment), kb_item_status_id=inv["kb_item_status_id"],
                           total=money(inv["totals"]["total"]))

    @bp.post("/companies/<company_id>/invoices/<int:invoice_id>/credit_voucher")
    def credit_voucher(company_id: str, invoice_id: int):
        """A person books a credit voucher (Gutschrift) against the invoice in Bexio's web app:
        the API cannot make one (NOTES FAQ), it only reads ``total_credit_vouchers`` back.
        ``{"amount": "12.50"}``."""
        amount = Decimal(str((request.get_json(silent=True) or {}).get("amount", "0")))
        with lock:
            current = _company(company_id)
            inv = invoices.get(current, invoice_id)
            inv.setdefault("credit_vouchers", []).append(str(amount))
            invoices.recompute(current, inv)
            inv["updated_at"] = system.host.clock.time()
            return jsonify(total_credit_vouchers=money(inv["totals"]["total_credit_vouchers"]))

    @bp.post("/companies/<company_id>/articles/<int:article_id>/stock")
    def set_stock(company_id: str, article_id: int):
        body = json_body() or {}
        with lock:
            current = _company(company_id)
            article = current.articles.get(article_id)
            if article is None:
                raise ApiError(404, "Page not found")
            stock.set_stock(article, parse_decimal(body.get("stock_nr", "0"), "stock_nr"))
            if "stock_reserved_nr" in body:
                article["stock_reserved_nr"] = parse_decimal(body["stock_reserved_nr"], "stock_reserved_nr")
                stock.refresh(article)
            article["is_stock"] = True
            return jsonify(articles.public(article))

    @bp.post("/companies/<company_id>/faults")
    def faults(company_id: str):
        body = request.get_json(silent=True) or {}
        status, count = int(body.get("status", 503)), int(body.get("count", 1))
        if status not in (429, 500, 503):
            raise ApiError(400, "status must be 429, 500 or 503")
        with lock:
            current = _company(company_id)
            current.faults.append([status, count])
            return jsonify(faults=current.faults)

    @bp.post("/companies/<company_id>/taxes/<int:tax_id>")
    def set_tax(company_id: str, tax_id: int):
        body = request.get_json(silent=True) or {}
        with lock:
            tax = _company(company_id).tax(tax_id)
            if tax is None:
                raise ApiError(404, "Page not found")
            tax["is_active"] = bool(body.get("is_active", tax["is_active"]))
            return jsonify(id=tax["id"], code=tax["code"], is_active=tax["is_active"])

    return bp
