"""``/2.0/kb_invoice`` (NOTES §5): create with positions, read, header edit, search,
issue / revert / cancel / mark as sent / copy / pdf / delete, and position endpoints.

Status ids (``kb_item_status_id``, NOTES §5): 7 draft, 8 pending, 9 paid, 16 partial,
19 cancelled, 31 unpaid.
"""
from __future__ import annotations

import base64
import secrets
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from flask import Blueprint

from . import positions as pos
from . import search, stock
from .gate import company, requires
from .reference import CURRENCIES, LANGUAGES, PAYMENT_TYPES
from .state import Company
from .totals import compute
from .wire import ApiError, json_body, money, order, page, reply, stamp_v2, today

if TYPE_CHECKING:
    from . import System

DRAFT, PENDING, PAID, PARTIAL, CANCELLED, UNPAID = 7, 8, 9, 16, 19, 31
OPEN = {PENDING, PARTIAL, UNPAID}

HEADER_FIELDS = ["title", "contact_id", "contact_sub_id", "user_id", "pr_project_id", "language_id",
                 "bank_account_id", "currency_id", "payment_type_id", "header", "footer", "mwst_type",
                 "mwst_is_net", "show_position_taxes", "is_valid_from", "is_valid_to",
                 "contact_address_manual", "reference", "api_reference", "template_slug"]
READ_ONLY = {"id", "total_gross", "total_net", "total_taxes", "total_received_payments",
             "total_credit_vouchers", "total_remaining_payments", "total", "total_rounding_difference",
             "kb_item_status_id", "network_link", "esr_id", "qr_invoice_id", "updated_at", "taxs",
             "contact_address", "viewed_by_client_at"}
# NOTES §5 "Search": fields and order_by.
SEARCH_FIELDS = {"id", "kb_item_status_id", "document_nr", "title", "api_reference", "contact_id",
                 "contact_sub_id", "user_id", "currency_id", "total_gross", "total_net", "total",
                 "is_valid_from", "is_valid_to", "updated_at"}
ORDER_FIELDS = {"id", "total", "total_net", "total_gross", "updated_at"}
FORM_ERROR = "The form could not be saved due to the following errors:"


def invalid(message: str) -> ApiError:
    return ApiError(422, f"{FORM_ERROR} {message}")


def _ref(value: Any, rows: list[dict], name: str) -> int:
    if not any(r["id"] == value for r in rows):
        raise invalid(f"{name} does not reference a valid record.")
    return value


def _date(value: Any, name: str) -> str:
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise invalid(f"{name} must be a date YYYY-MM-DD.")


def _header(current: Company, body: dict, now: float, existing: dict | None) -> dict:
    merged = {**(existing or {}), **{k: body[k] for k in HEADER_FIELDS if k in body}}
    settings = current.settings
    if merged.get("contact_id") is None or merged["contact_id"] not in current.contacts:
        raise invalid("contact_id does not reference a contact.")
    if merged.get("contact_sub_id") is not None and merged["contact_sub_id"] not in current.contacts:
        raise invalid("contact_sub_id does not reference a contact.")
    if merged.get("user_id") is None or current.user(merged["user_id"]) is None:
        raise invalid("user_id does not reference a user.")
    merged.setdefault("language_id", settings["default_language_id"])
    merged.setdefault("currency_id", settings["default_currency_id"])
    merged.setdefault("payment_type_id", settings["default_payment_type_id"])
    merged.setdefault("bank_account_id", current.bank_accounts[0]["id"])
    _ref(merged["language_id"], LANGUAGES, "language_id")
    _ref(merged["currency_id"], CURRENCIES, "currency_id")
    _ref(merged["payment_type_id"], PAYMENT_TYPES, "payment_type_id")
    _ref(merged["bank_account_id"], current.bank_accounts, "bank_account_id")
    merged.setdefault("mwst_type", settings["default_mwst_type"])
    merged.setdefault("mwst_is_net", settings["default_mwst_is_net"])
    if merged["mwst_type"] not in (0, 1, 2):
        raise invalid("mwst_type must be 0, 1 or 2.")
    if not isinstance(merged["mwst_is_net"], bool):
        raise invalid("mwst_is_net must be a boolean.")
    merged["is_valid_from"] = _date(merged.get("is_valid_from") or today(now), "is_valid_from")
    default_to = date.fromisoformat(merged["is_valid_from"]) + timedelta(days=settings["default_time_period_in_days"])
    merged["is_valid_to"] = _date(merged.get("is_valid_to") or default_to.isoformat(), "is_valid_to")
    if merged.get("api_reference") is not None and len(str(merged["api_reference"])) > 255:
        raise invalid("api_reference is too long.")
    merged.setdefault("show_position_taxes", False)
    return merged


def recompute(current: Company, inv: dict) -> None:
    currency = next(c for c in CURRENCIES if c["id"] == inv["currency_id"])
    inv["totals"] = compute(inv["positions"], inv["mwst_type"], inv["mwst_is_net"], currency["round_factor"])
    received = sum((p["value"] for p in inv["payments"]), Decimal(0))
    credited = sum((Decimal(str(v)) for v in inv.get("credit_vouchers", [])), Decimal(0))
    inv["totals"]["total_received_payments"] = received
    inv["totals"]["total_credit_vouchers"] = credited
    inv["totals"]["total_remaining_payments"] = max(inv["totals"]["total"] - received - credited, Decimal(0))


def settle_status(inv: dict) -> None:
    """After a payment is added or removed: paid when nothing remains, partial otherwise."""
    if inv["kb_item_status_id"] not in OPEN | {PAID}:
        return
    received = inv["totals"]["total_received_payments"]
    if received and inv["totals"]["total_remaining_payments"] <= 0:
        inv["kb_item_status_id"] = PAID
    elif received:
        inv["kb_item_status_id"] = PARTIAL
    else:
        inv["kb_item_status_id"] = PENDING


def contact_address(current: Company, inv: dict) -> str:
    if inv.get("contact_address_manual"):
        return inv["contact_address_manual"]
    c = current.contacts.get(inv["contact_id"]) or {}
    name = c.get("name_1") if c.get("contact_type_id") == 1 else " ".join(
        p for p in (c.get("name_2"), c.get("name_1")) if p)
    place = " ".join(p for p in (c.get("postcode"), c.get("city")) if p)
    return "\n".join(p for p in (name, c.get("address"), place) if p)


def public(system: "System", current: Company, inv: dict, with_positions: bool = True) -> dict:
    t = inv["totals"]
    out = {"id": inv["id"], "document_nr": inv["document_nr"], "title": inv.get("title"),
           "contact_id": inv["contact_id"], "contact_sub_id": inv.get("contact_sub_id"),
           "user_id": inv["user_id"], "project_id": inv.get("pr_project_id"), "logopaper_id": 1,
           "language_id": inv["language_id"], "bank_account_id": inv["bank_account_id"],
           "currency_id": inv["currency_id"], "payment_type_id": inv["payment_type_id"],
           "header": inv.get("header"), "footer": inv.get("footer"),
           "total_gross": money(t["total_gross"]), "total_net": money(t["total_net"]),
           "total_taxes": str(t["total_taxes"]), "total_received_payments": money(t["total_received_payments"]),
           "total_credit_vouchers": money(t.get("total_credit_vouchers", Decimal(0))),
           "total_remaining_payments": money(t["total_remaining_payments"]), "total": money(t["total"]),
           "total_rounding_difference": float(t["total_rounding_difference"]),
           "mwst_type": inv["mwst_type"], "mwst_is_net": inv["mwst_is_net"],
           "show_position_taxes": inv["show_position_taxes"], "is_valid_from": inv["is_valid_from"],
           "is_valid_to": inv["is_valid_to"], "contact_address": contact_address(current, inv),
           "contact_address_manual": inv.get("contact_address_manual"),
           "kb_item_status_id": inv["kb_item_status_id"], "reference": inv.get("reference"),
           "api_reference": inv.get("api_reference"), "viewed_by_client_at": None,
           "updated_at": stamp_v2(inv["updated_at"]), "esr_id": inv.get("esr_id"),
           "qr_invoice_id": inv.get("qr_invoice_id"), "template_slug": inv.get("template_slug"),
           "taxs": [{"percentage": str(x["percentage"].quantize(Decimal("0.01"))), "value": str(x["value"])}
                    for x in t["taxs"]],
           "network_link": system.network_link(inv) if inv["kb_item_status_id"] != DRAFT else ""}
    if with_positions:
        out["positions"] = pos.public_all(inv["positions"])
    return out


def get(current: Company, invoice_id: int) -> dict:
    inv = current.invoices.get(invoice_id)
    if inv is None:
        raise ApiError(404, "Page not found")
    return inv


def create(system: "System", current: Company, body: Any) -> dict:
    if not isinstance(body, dict):
        raise ApiError(400, "Invalid parameters: a JSON object is required")
    now = system.host.clock.time()
    header = _header(current, body, now, None)
    auto = current.settings["use_automatic_enumeration"]
    if auto and body.get("document_nr") not in (None, ""):
        # NOTES §5: document_nr cannot be sent with automatic numbering, is required without.
        raise invalid("document_nr cannot be set when automatic numbering is enabled.")
    if not auto and body.get("document_nr") in (None, ""):
        raise invalid("document_nr is required.")
    raw_positions = body.get("positions") or []
    if not isinstance(raw_positions, list):
        raise invalid("positions must be an array.")
    if len(raw_positions) > pos.MAX_ON_CREATE:
        raise invalid(f"at most {pos.MAX_ON_CREATE} positions can be created at once.")
    parsed = [pos.parse(current, raw) for raw in raw_positions]
    invoice_id = current.next_id("kb_invoice")
    document_nr = body.get("document_nr") or f"RE-{current.next_id('kb_invoice_nr'):05d}"
    inv = {**header, "id": invoice_id, "document_nr": document_nr, "kb_item_status_id": DRAFT,
           "positions": parsed, "payments": [], "updated_at": now, "network_token": secrets.token_urlsafe(12),
           "stock_booked": False, "esr_id": None, "qr_invoice_id": None}
    pos.number(parsed, lambda: current.next_id("kb_position"))
    recompute(current, inv)
    current.invoices[invoice_id] = inv
    return inv


def touch(system: "System", inv: dict) -> None:
    inv["updated_at"] = system.host.clock.time()


def register(bp: Blueprint, system: "System") -> None:
    lock = system.host.lock

    @bp.get("/2.0/kb_invoice")
    @requires("kb_invoice_show")
    def list_invoices():
        with lock:
            current = company()
            rows = [public(system, current, inv, False) for inv in current.invoices.values()]
            return reply(page(order(rows, ORDER_FIELDS)))

    @bp.post("/2.0/kb_invoice")
    @requires("kb_invoice_edit")
    def create_invoice():
        body = json_body()
        with lock:
            current = company()
            return reply(public(system, current, create(system, current, body)), 201)

    @bp.post("/2.0/kb_invoice/search")
    @requires("kb_invoice_show")
    def search_invoices():
        conditions = search.parse(json_body(), SEARCH_FIELDS)
        with lock:
            current = company()
            rows = [public(system, current, inv, False) for inv in current.invoices.values()]
            hits = [r for r in rows if search.matches(r, conditions)]
            return reply(page(order(hits, ORDER_FIELDS)))

    @bp.get("/2.0/kb_invoice/<int:invoice_id>")
    @requires("kb_invoice_show")
    def show_invoice(invoice_id: int):
        with lock:
            current = company()
            return reply(public(system, current, get(current, invoice_id)))

    @bp.post("/2.0/kb_invoice/<int:invoice_id>")
    @requires("kb_invoice_edit")
    def edit_invoice(invoice_id: int):
        body = json_body()
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid parameters: a JSON object is required")
        with lock:
            current = company()
            inv = get(current, invoice_id)
            # NOTES §5 "Actions": a header edit carries no positions and rejects read-only fields.
            rejected = sorted((set(body) & READ_ONLY) | ({"positions"} & set(body)))
            if rejected:
                raise invalid(f"{', '.join(rejected)} cannot be edited.")
            if inv["kb_item_status_id"] != DRAFT:
                raise invalid("only draft invoices can be edited.")
            inv.update(_header(current, body, system.host.clock.time(), inv))
            recompute(current, inv)
            touch(system, inv)
            return reply(public(system, current, inv))

    @bp.put("/2.0/kb_invoice/<int:invoice_id>")
    @requires("kb_invoice_edit")
    def put_invoice(invoice_id: int):
        # NOTES §5: PUT on 2.0 invoices fails with a detail-less 422 (edits use POST).
        raise ApiError(422, FORM_ERROR[:-1] + ":.")

    @bp.delete("/2.0/kb_invoice/<int:invoice_id>")
    @requires("kb_invoice_edit")
    def delete_invoice(invoice_id: int):
        with lock:
            current = company()
            inv = get(current, invoice_id)
            if inv["kb_item_status_id"] not in {DRAFT, CANCELLED}:
                raise invalid("only draft or cancelled invoices can be deleted.")
            del current.invoices[invoice_id]
            return reply({"success": True})

    @bp.post("/2.0/kb_invoice/<int:invoice_id>/issue")
    @requires("kb_invoice_edit")
    def issue(invoice_id: int):
        with lock:
            current = company()
            inv = get(current, invoice_id)
            if inv["kb_item_status_id"] != DRAFT:  # NOTES §5: the invoice must be draft
                raise ApiError(422, "The invoice can only be issued from draft.")
            issue_invoice(system, current, inv)
            return reply({"success": True})

    @bp.post("/2.0/kb_invoice/<int:invoice_id>/revert_issue")
    @requires("kb_invoice_edit")
    def revert_issue(invoice_id: int):
        with lock:
            current = company()
            inv = get(current, invoice_id)
            if inv["kb_item_status_id"] not in OPEN or inv["payments"]:
                raise ApiError(422, "Only an issued invoice without payments can be reverted to draft.")
            stock.release(current, inv)
            inv["kb_item_status_id"] = DRAFT
            touch(system, inv)
            return reply({"success": True})

    @bp.post("/2.0/kb_invoice/<int:invoice_id>/cancel")
    @requires("kb_invoice_edit")
    def cancel(invoice_id: int):
        with lock:
            current = company()
            inv = get(current, invoice_id)
            # NOTES §5: only issued invoices can be cancelled; there is no un-cancel.
            # A paid invoice needs manual handling (NOTES §8.9).
            if inv["kb_item_status_id"] not in {PENDING, UNPAID}:
                raise ApiError(422, "Only issued, unpaid invoices can be cancelled.")
            stock.release(current, inv)
            inv["kb_item_status_id"] = CANCELLED
            touch(system, inv)
            return reply({"success": True})

    @bp.post("/2.0/kb_invoice/<int:invoice_id>/mark_as_sent")
    @requires("kb_invoice_edit")
    def mark_as_sent(invoice_id: int):
        with lock:
            current = company()
            inv = get(current, invoice_id)
            if inv["kb_item_status_id"] == DRAFT:
                issue_invoice(system, current, inv)
            elif inv["kb_item_status_id"] not in OPEN:
                raise ApiError(422, "The invoice cannot be marked as sent.")
            return reply({"success": True})

    @bp.post("/2.0/kb_invoice/<int:invoice_id>/copy")
    @requires("kb_invoice_edit")
    def copy(invoice_id: int):
        with lock:
            current = company()
            source = get(current, invoice_id)
            body = {k: source.get(k) for k in HEADER_FIELDS if k != "api_reference"}
            clone = create(system, current, {**body, "positions": []})
            clone["positions"] = [{k: v for k, v in p.items() if k != "id"} for p in source["positions"]]
            pos.number(clone["positions"], lambda: current.next_id("kb_position"))
            recompute(current, clone)
            return reply(public(system, current, clone), 201)

    @bp.get("/2.0/kb_invoice/<int:invoice_id>/pdf")
    @requires("kb_invoice_show")
    def pdf(invoice_id: int):
        with lock:
            inv = get(company(), invoice_id)
            content = (f"%PDF-1.4\n% bexio sandbox invoice {inv['document_nr']} total "
                       f"{money(inv['totals']['total'])}\n%%EOF\n").encode()
        return reply({"name": f"{inv['document_nr']}.pdf", "size": len(content), "mime": "application/pdf",
                      "content": base64.b64encode(content).decode()})

    _register_positions(bp, system)


def issue_invoice(system: "System", current: Company, inv: dict) -> None:
    inv["kb_item_status_id"] = PENDING
    stock.book(current, inv)
    touch(system, inv)


def _register_positions(bp: Blueprint, system: "System") -> None:
    """``/2.0/kb_invoice/{id}/kb_position_*`` (NOTES §5 "Position endpoints"); drafts only."""
    lock = system.host.lock

    def _kind(path: str) -> str:
        if path not in pos.BY_PATH:
            raise ApiError(404, "Page not found")
        return pos.BY_PATH[path]

    def _draft(current: Company, invoice_id: int) -> dict:
        inv = get(current, invoice_id)
        if inv["kb_item_status_id"] != DRAFT:
            raise invalid("positions can only be changed on draft invoices.")
        return inv

    def _find(inv: dict, kind: str, position_id: int) -> dict:
        found = next((p for p in inv["positions"] if p["id"] == position_id and p["type"] == kind), None)
        if found is None:
            raise ApiError(404, "Page not found")
        return found

    @bp.get("/2.0/kb_invoice/<int:invoice_id>/<kind_path>")
    @requires("kb_invoice_show")
    def list_positions(invoice_id: int, kind_path: str):
        kind = _kind(kind_path)
        with lock:
            inv = get(company(), invoice_id)
            return reply([p for p in pos.public_all(inv["positions"]) if p["type"] == kind])

    @bp.post("/2.0/kb_invoice/<int:invoice_id>/<kind_path>")
    @requires("kb_invoice_edit")
    def add_position(invoice_id: int, kind_path: str):
        kind = _kind(kind_path)
        body = json_body()
        with lock:
            current = company()
            inv = _draft(current, invoice_id)
            new = pos.parse(current, body, kind)
            inv["positions"].append(new)
            pos.number(inv["positions"], lambda: current.next_id("kb_position"))
            recompute(current, inv)
            touch(system, inv)
            return reply(next(p for p in pos.public_all(inv["positions"]) if p["id"] == new["id"]), 201)

    @bp.get("/2.0/kb_invoice/<int:invoice_id>/<kind_path>/<int:position_id>")
    @requires("kb_invoice_show")
    def show_position(invoice_id: int, kind_path: str, position_id: int):
        kind = _kind(kind_path)
        with lock:
            inv = get(company(), invoice_id)
            _find(inv, kind, position_id)
            return reply(next(p for p in pos.public_all(inv["positions"]) if p["id"] == position_id))

    @bp.post("/2.0/kb_invoice/<int:invoice_id>/<kind_path>/<int:position_id>")
    @requires("kb_invoice_edit")
    def edit_position(invoice_id: int, kind_path: str, position_id: int):
        kind = _kind(kind_path)
        body = json_body()
        with lock:
            current = company()
            inv = _draft(current, invoice_id)
            old = _find(inv, kind, position_id)
            new = pos.parse(current, body, kind)
            new["id"] = old["id"]
            inv["positions"][inv["positions"].index(old)] = new
            pos.number(inv["positions"], lambda: current.next_id("kb_position"))
            recompute(current, inv)
            touch(system, inv)
            return reply(next(p for p in pos.public_all(inv["positions"]) if p["id"] == position_id))

    @bp.delete("/2.0/kb_invoice/<int:invoice_id>/<kind_path>/<int:position_id>")
    @requires("kb_invoice_edit")
    def delete_position(invoice_id: int, kind_path: str, position_id: int):
        kind = _kind(kind_path)
        with lock:
            current = company()
            inv = _draft(current, invoice_id)
            inv["positions"].remove(_find(inv, kind, position_id))
            pos.number(inv["positions"], lambda: current.next_id("kb_position"))
            recompute(current, inv)
            touch(system, inv)
            return reply({"success": True})
