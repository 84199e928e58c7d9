"""go.xero.com: the few Xero screens a person uses in the demo tour.

An invoice's page (the address Xero's deep links use,
``/AccountsReceivable/View.aspx?InvoiceID=...``), where a Xero user approves it, marks it as
sent and adds a payment, and a list of each organisation's sales invoices. Every action goes
through the sandbox's own model as the API path does (``invoices.upsert``,
``payments.create``) and fires the same webhooks, but as a person in Xero (not made by the
app), so what bridge sees is what it would see after a click in Xero.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from html import escape
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlencode

from flask import Blueprint, Response, redirect, request

from . import invoices, payments
from .common import Ctx, Invalid
from .control import XERO_USER

if TYPE_CHECKING:
    from . import System

BASE = "/go.xero.com"
CSS = ("body{font:14px sans-serif;margin:0}header{background:#13b5ea;color:#fff;padding:8px 16px}main{padding:16px}"
       "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
       ".status{font-weight:bold}form.inline{display:inline-block;margin-right:8px}.error{color:#a00}")


def _page(title: str, body: str, status: int = 200) -> Response:
    html = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)} | Xero (sandbox)</title>"
            f"<style>{CSS}</style></head><body><header><b>Xero</b> (sandbox) · <a style='color:#fff' "
            f"href='{BASE}/'>Organisations</a></header><main><h1>{escape(title)}</h1>{body}</main></body></html>")
    return Response(html, status=status, mimetype="text/html")


def make_blueprint(system: "System") -> Blueprint:
    bp = Blueprint("xero_web", __name__)
    host = system.host

    def locate(invoice_id: str) -> tuple[Any, dict] | None:
        for org in system.orgs.values():
            inv = invoices.find(org, invoice_id)
            if inv is not None:
                return org, inv
        return None

    def as_xero_user(org, change: Callable[[Ctx], Any]) -> str | None:
        """Make the change as a person in Xero; its webhooks go out as after an API call.
        Returns Xero's validation message, if it refused."""
        with host.lock:
            ctx = Ctx(system=system, org=org, grant=XERO_USER, method="POST", args={}, body=None, now=host.clock.now())
            try:
                change(ctx)
            except Invalid as exc:
                return " ".join(exc.messages)
        ctx.publish()
        return None

    @bp.get(BASE + "/")
    def organisations():
        rows = "".join(f"<li><a href='{BASE}/AccountsReceivable/Search.aspx?tenant={o.tenant_id}'>{escape(o.name)}</a>"
                       f" ({escape(o.base_currency)})</li>" for o in system.orgs.values())
        return _page("Organisations", f"<ul>{rows}</ul>")

    @bp.get(BASE + "/AccountsReceivable/Search.aspx")
    def invoice_list():
        org = system.orgs.get((request.args.get("tenant") or "").lower())
        if org is None:
            return _page("Not found", "<p>No such organisation.</p>", 404)
        with host.lock:
            sales = sorted((i for i in org.invoices.values() if i["Type"] == "ACCREC"),
                           key=lambda i: str(i.get("InvoiceNumber") or ""), reverse=True)
            rows = "".join(
                f"<tr><td><a href='{BASE}/AccountsReceivable/View.aspx?InvoiceID={i['InvoiceID']}'>"
                f"{escape(str(i.get('InvoiceNumber') or i['InvoiceID']))}</a></td>"
                f"<td>{escape(str(org.contacts.get(i['_contact_id'], {}).get('Name', '')))}</td>"
                f"<td>{escape(i['Status'])}</td><td>{i['Total']} {escape(i['CurrencyCode'])}</td></tr>" for i in sales)
        return _page(f"Sales invoices: {org.name}",
                     f"<table><tr><th>Number</th><th>To</th><th>Status</th><th>Total</th></tr>{rows}</table>")

    @bp.get(BASE + "/AccountsReceivable/View.aspx")
    def invoice_view():
        found = locate(request.args.get("InvoiceID", ""))
        if found is None:
            return _page("Not found", "<p>This invoice does not exist in any organisation.</p>", 404)
        org, inv = found
        with host.lock:
            return _page(f"Invoice {inv.get('InvoiceNumber') or ''}", _invoice_body(org, inv, request.args.get("error")))

    @bp.post(BASE + "/AccountsReceivable/View.aspx")
    def invoice_action():
        invoice_id = request.args.get("InvoiceID", "")
        found = locate(invoice_id)
        if found is None:
            return _page("Not found", "<p>This invoice does not exist in any organisation.</p>", 404)
        org, inv = found
        action, error = request.form.get("action"), None
        if action == "approve":
            error = as_xero_user(org, lambda ctx: invoices.upsert(ctx, {"Status": "AUTHORISED"}, True, inv["InvoiceID"]))
        elif action == "sent":
            error = as_xero_user(org, lambda ctx: invoices.upsert(ctx, {"SentToContact": True}, True, inv["InvoiceID"]))
        elif action == "pay":
            try:
                amount = Decimal(request.form.get("amount") or inv["AmountDue"])
            except InvalidOperation:
                amount = None
            if amount is None or amount <= 0:
                error = "Enter the amount paid."
            else:
                error = as_xero_user(org, lambda ctx: payments.create(ctx, {
                    "Invoice": {"InvoiceID": inv["InvoiceID"]}, "Account": {"Code": request.form.get("account", "090")},
                    "Amount": amount, "Date": None, "Reference": request.form.get("reference", "")}))
        target = f"{BASE}/AccountsReceivable/View.aspx?InvoiceID={inv['InvoiceID']}"
        return redirect(target + ("&" + urlencode({"error": error}) if error else ""), 303)

    return bp


def _invoice_body(org, inv: dict, error: str | None) -> str:
    contact = org.contacts.get(inv["_contact_id"], {})
    lines = "".join(f"<tr><td>{escape(str(line.get('Description') or ''))}</td><td>{line.get('Quantity')}</td>"
                    f"<td>{line.get('UnitAmount')}</td><td>{escape(str(line.get('TaxType') or ''))}</td>"
                    f"<td>{line.get('LineAmount')}</td></tr>" for line in inv.get("LineItems", []))
    status = inv["Status"]
    sent = " (sent)" if inv.get("SentToContact") else ""
    url = f"{BASE}/AccountsReceivable/View.aspx?InvoiceID={inv['InvoiceID']}"
    actions = []
    if status in ("DRAFT", "SUBMITTED"):
        actions.append(("approve", "Approve"))
    if status == "AUTHORISED" and not inv.get("SentToContact"):
        actions.append(("sent", "Mark as sent"))
    buttons = "".join(f"<form class='inline' method='post' action='{url}'><input type='hidden' name='action' "
                      f"value='{name}'><button>{label}</button></form>" for name, label in actions)
    pay = ""
    if status == "AUTHORISED" and inv["AmountDue"] > 0:
        pay = (f"<h2>Make a payment</h2><form method='post' action='{url}'><input type='hidden' name='action' value='pay'>"
               f"<label>Amount paid <input name='amount' value='{inv['AmountDue']}' size='10'></label> "
               f"<label>Paid to <select name='account'><option value='090'>Business Bank Account (090)</option>"
               f"</select></label> <button>Add payment</button></form>")
    problem = f"<p class='error' role='alert'>{escape(error)}</p>" if error else ""
    reference = escape(str(inv.get("Reference") or ""))
    go_to = (f"<p>Go to: <a href='{escape(inv['Url'])}' target='_blank' rel='noopener'>{escape(inv['Url'])}</a></p>"
             if inv.get("Url") else "")
    return (f"{problem}<p>Organisation: {escape(org.name)}</p><p>To: {escape(str(contact.get('Name', '')))}</p>"
            f"<p>Status: <span class='status' id='status'>{escape(status)}{sent}</span></p>"
            f"<p>Reference: {reference}</p>{go_to}"
            f"<table><tr><th>Description</th><th>Qty</th><th>Unit price</th><th>Tax</th><th>Amount</th></tr>{lines}</table>"
            f"<p>Total {inv['Total']} {escape(inv['CurrencyCode'])} · Amount due {inv['AmountDue']}</p>{buttons}{pay}")
