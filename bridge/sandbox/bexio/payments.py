"""Payments on invoices and sending invoices by e-mail (NOTES §5 "Payments", "Send").

A payment needs an issued invoice [M]; the status follows the remaining amount (paid 9
when nothing is left, partial 16 otherwise). Sending needs recipient_email, subject and
a message containing the literal ``[Network Link]``; the sandbox records the e-mail
instead of delivering it.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from flask import Blueprint

from . import invoices
from .gate import company, requires, user_id
from .invoices import DRAFT, OPEN, PAID, get, invalid, recompute, settle_status, touch
from .state import Company
from .wire import ApiError, json_body, money, parse_decimal, reply, stamp_v2, today

if TYPE_CHECKING:
    from . import System

PLACEHOLDER = "[Network Link]"
PAYMENT_SERVICES = {None, 1, 2, 3}  # 1 PayPal, 2 Stripe, 3 SIX Payments (NOTES §5)


def public(payment: dict) -> dict:
    return {"id": payment["id"], "date": payment["date"], "value": money(payment["value"]),
            "bank_account_id": payment["bank_account_id"], "title": "Received Payment",
            "payment_service_id": payment["payment_service_id"], "is_client_account_redemption": False,
            "is_cash_discount": False, "kb_invoice_id": payment["kb_invoice_id"],
            "kb_credit_voucher_id": None, "kb_bill_id": None, "kb_credit_voucher_text": ""}


def add_payment(system: "System", current: Company, inv: dict, body: Any) -> dict:
    if not isinstance(body, dict) or body.get("value") in (None, ""):
        raise invalid("value is required.")
    if inv["kb_item_status_id"] not in OPEN:
        # [M] NOTES §5: payments on drafts are expected to fail; paid or cancelled too.
        raise invalid("payments can only be added to issued, open invoices.")
    value = parse_decimal(body["value"], "value")
    if value <= 0:
        raise invalid("value must be positive.")
    bank_account_id = body.get("bank_account_id")
    if bank_account_id is not None and not any(b["id"] == bank_account_id for b in current.bank_accounts):
        raise invalid("bank_account_id does not reference a bank account.")
    if body.get("payment_service_id") not in PAYMENT_SERVICES:
        raise invalid("payment_service_id is invalid.")
    try:
        paid_on = date.fromisoformat(str(body.get("date") or today(system.host.clock.time()))).isoformat()
    except ValueError:
        raise invalid("date must be a date YYYY-MM-DD.")
    payment = {"id": current.next_id("payment"), "date": paid_on, "value": value,
               "bank_account_id": bank_account_id, "payment_service_id": body.get("payment_service_id"),
               "kb_invoice_id": inv["id"]}
    inv["payments"].append(payment)
    recompute(current, inv)
    settle_status(inv)
    touch(system, inv)
    return payment


def register(bp: Blueprint, system: "System") -> None:
    lock = system.host.lock

    @bp.get("/2.0/kb_invoice/<int:invoice_id>/payment")
    @requires("kb_invoice_show")
    def list_payments(invoice_id: int):
        with lock:
            return reply([public(p) for p in get(company(), invoice_id)["payments"]])

    @bp.post("/2.0/kb_invoice/<int:invoice_id>/payment")
    @requires("kb_invoice_edit")
    def create_payment(invoice_id: int):
        body = json_body()
        with lock:
            current = company()
            return reply(public(add_payment(system, current, get(current, invoice_id), body)), 201)

    @bp.get("/2.0/kb_invoice/<int:invoice_id>/payment/<int:payment_id>")
    @requires("kb_invoice_show")
    def show_payment(invoice_id: int, payment_id: int):
        with lock:
            inv = get(company(), invoice_id)
            found = next((p for p in inv["payments"] if p["id"] == payment_id), None)
            if found is None:
                raise ApiError(404, "Page not found")
            return reply(public(found))

    @bp.delete("/2.0/kb_invoice/<int:invoice_id>/payment/<int:payment_id>")
    @requires("kb_invoice_edit")
    def delete_payment(invoice_id: int, payment_id: int):
        with lock:
            current = company()
            inv = get(current, invoice_id)
            found = next((p for p in inv["payments"] if p["id"] == payment_id), None)
            if found is None:
                raise ApiError(404, "Page not found")
            inv["payments"].remove(found)
            recompute(current, inv)
            settle_status(inv)
            touch(system, inv)
            return reply({"success": True})

    @bp.post("/2.0/kb_invoice/<int:invoice_id>/send")
    @requires("kb_invoice_edit")
    def send(invoice_id: int):
        body = json_body()
        with lock:
            current = company()
            inv = get(current, invoice_id)
            return reply(send_invoice(system, current, inv, body))


def send_invoice(system: "System", current: Company, inv: dict, body: Any) -> dict:
    # NOTES §5 "Send": no body -> 422 "missing data"; no placeholder -> 422
    # missing_network_placeholder (Noevu/bexio-cli observation).
    if not isinstance(body, dict) or not all(body.get(k) for k in ("recipient_email", "subject", "message")):
        raise ApiError(422, "missing data")
    if PLACEHOLDER not in str(body["message"]):
        raise ApiError(422, "missing_network_placeholder")
    if inv["kb_item_status_id"] == invoices.CANCELLED:
        raise ApiError(422, "A cancelled invoice cannot be sent.")
    sender = current.user(user_id()) or {}
    if current.trial and body["recipient_email"] != sender.get("email"):
        # NOTES §5: during a trial only the token owner's address can receive mail.
        raise ApiError(422, "During the trial period e-mails can only be sent to your own address.")
    mark_as_open = body.get("mark_as_open", True) is not False
    if inv["kb_item_status_id"] == DRAFT and mark_as_open:
        invoices.issue_invoice(system, current, inv)
    link = system.network_link(inv)
    current.sent_emails.append({
        "kb_invoice_id": inv["id"], "document_nr": inv["document_nr"], "to": body["recipient_email"],
        "subject": body["subject"], "message": str(body["message"]).replace(PLACEHOLDER, link),
        "attach_pdf": bool(body.get("attach_pdf", False)), "network_link": link,
        "sent_at": stamp_v2(system.host.clock.time()), "sent_by_user_id": user_id()})
    touch(system, inv)
    return {"success": True}


def pay_in_full(system: "System", current: Company, inv: dict) -> dict:
    """What a Bexio user does to mark an invoice paid: one payment of the remaining total."""
    remaining: Decimal = inv["totals"]["total_remaining_payments"]
    if inv["kb_item_status_id"] == PAID or remaining <= 0:
        raise invalid("the invoice is already paid.")
    return add_payment(system, current, inv, {"value": str(remaining),
                                               "bank_account_id": current.bank_accounts[0]["id"]})
