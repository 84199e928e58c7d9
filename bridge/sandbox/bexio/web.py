"""office.bexio.com: a plain-HTML look at each company, so a demo can show "the Bexio
side" of every synced order: invoices with status and totals, contacts, articles with
stock. Also serves the customer's network link page and the classic invoice URL
``/index.php/kb_invoice/show/id/<id>`` [M: URL shape of the Bexio web app]."""
from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Iterable

from flask import Blueprint, Response, abort, redirect

from . import invoices as inv_mod
from . import payments
from .state import Company
from .wire import money

if TYPE_CHECKING:
    from . import System

STATUS_NAMES = {7: "Draft", 8: "Open", 9: "Paid", 16: "Partially paid", 19: "Cancelled", 31: "Unpaid"}
STYLE = ("<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}"
         "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.s9{color:green}.s19{color:#999}"
         ".s7{color:#a60}</style>")


def _page(title: str, body: str) -> Response:
    return Response(f"<!doctype html><meta charset='utf-8'><title>{escape(title)} - bexio sandbox</title>"
                    f"{STYLE}<h1>{escape(title)}</h1>{body}", mimetype="text/html")


def _table(head: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{th}</tr>{trs}</table>"


def _e(value: object) -> str:
    return "" if value is None else escape(str(value))


def _status(status: int) -> str:
    return f"<span class='s{status}'>{escape(STATUS_NAMES.get(status, str(status)))} ({status})</span>"


def blueprint(system: "System") -> Blueprint:
    bp = Blueprint("bexio_web", __name__, url_prefix="/office.bexio.com")
    lock = system.host.lock

    @bp.get("/")
    def companies():
        with lock:
            rows = [(f"<a href='{escape(c.company_id)}/'>{escape(c.name)}</a>", _e(c.company_id),
                     str(len(c.invoices)), str(len(c.contacts)), str(len(c.articles)))
                    for c in system.state.companies.values()]
        return _page("bexio companies", _table(["Company", "Id", "Invoices", "Contacts", "Articles"], rows))

    @bp.get("/<company_id>/")
    def company_page(company_id: str):
        with lock:
            current = _company(system, company_id)
            return _page(current.name, _invoices(current) + _contacts(current) + _articles(current))

    @bp.get("/<company_id>/kb_invoice/<int:invoice_id>")
    def invoice_page(company_id: str, invoice_id: int):
        with lock:
            current = _company(system, company_id)
            inv = current.invoices.get(invoice_id) or abort(404)
            pay = (f"<form method='post' action='{inv['id']}/pay'><button>Record payment of the open amount</button></form>"
                   if inv["kb_item_status_id"] in inv_mod.OPEN else "")
            return _page(f"Invoice {inv['document_nr']}", _invoice_detail(current, inv) + pay)

    @bp.post("/<company_id>/kb_invoice/<int:invoice_id>/pay")
    def record_payment(company_id: str, invoice_id: int):
        """A Bexio user records the open amount as paid (as the control endpoint
        ``mark_paid`` does), so the tour's "paid at the Bexio side" is a click."""
        with lock:
            current = _company(system, company_id)
            inv = current.invoices.get(invoice_id) or abort(404)
            if inv["kb_item_status_id"] in inv_mod.OPEN:
                payments.pay_in_full(system, current, inv)
        return redirect(f"/office.bexio.com/{company_id}/kb_invoice/{invoice_id}", 303)

    @bp.get("/index.php/kb_invoice/show/id/<int:invoice_id>")
    def classic_invoice(invoice_id: int):
        with lock:
            parts = [f"<h2>{escape(c.name)}</h2>" + _invoice_detail(c, c.invoices[invoice_id])
                     for c in system.state.companies.values() if invoice_id in c.invoices]
        if not parts:
            abort(404)
        return _page(f"Invoice {invoice_id}", "".join(parts))

    @bp.get("/share/invoice/<token>")
    def network_link(token: str):
        with lock:
            for c in system.state.companies.values():
                for inv in c.invoices.values():
                    if inv["network_token"] == token and inv["kb_item_status_id"] != inv_mod.DRAFT:
                        return _page(f"{c.name}: invoice {inv['document_nr']}", _invoice_detail(c, inv, False))
        abort(404)

    return bp


def _company(system: "System", company_id: str) -> Company:
    return system.state.companies.get(company_id) or abort(404)


def _invoices(current: Company) -> str:
    rows = [(f"<a href='kb_invoice/{i['id']}'>{_e(i['document_nr'])}</a>", _e(i.get("api_reference")),
             _e((current.contacts.get(i["contact_id"]) or {}).get("name_1")), _e(i["is_valid_from"]),
             money(i["totals"]["total"]) or "", money(i["totals"]["total_remaining_payments"]) or "",
             _status(i["kb_item_status_id"])) for i in current.invoices.values()]
    return "<h2>Invoices</h2>" + _table(["Nr", "API reference", "Contact", "Date", "Total", "Open", "Status"], rows)


def _contacts(current: Company) -> str:
    rows = [(_e(c["nr"]), _e(c["name_1"]), _e(c.get("name_2")), _e(c.get("mail")), _e(c.get("city")),
             "archived" if c["archived"] else "active") for c in current.contacts.values()]
    return "<h2>Contacts</h2>" + _table(["Nr", "Name", "Name 2", "E-mail", "City", "State"], rows)


def _articles(current: Company) -> str:
    rows = [(_e(a["intern_code"]), _e(a["intern_name"]), money(a.get("sale_price")) or "",
             "yes" if a.get("is_stock") else "no", _e(a["stock_nr"]), _e(a["stock_available_nr"]))
            for a in current.articles.values()]
    return "<h2>Articles</h2>" + _table(["Code", "Name", "Sale price", "Stock kept", "Stock", "Available"], rows)


def _invoice_detail(current: Company, inv: dict, internal: bool = True) -> str:
    t = inv["totals"]
    head = (f"<p>Status {_status(inv['kb_item_status_id'])} · date {_e(inv['is_valid_from'])} · due "
            f"{_e(inv['is_valid_to'])}" + (f" · api_reference {_e(inv.get('api_reference'))}" if internal else "")
            + f"</p><pre>{_e(inv_mod.contact_address(current, inv))}</pre>")
    rows = [(_e(p.get("pos")), _e(p["type"]), _e(p.get("text")), _e(money(p.get("amount"))),
             _e(money(p.get("unit_price"))), _e(p.get("tax_rate")), _e(money(p.get("position_total"))))
            for p in inv["positions"]]
    totals = _table(["Net", "Taxes", "Rounding", "Total", "Received", "Open"], [(
        money(t["total_net"]) or "", str(t["total_taxes"]), str(t["total_rounding_difference"]),
        money(t["total"]) or "", money(t["total_received_payments"]) or "",
        money(t["total_remaining_payments"]) or "")])
    pays = _table(["Date", "Value"], [(_e(p["date"]), money(p["value"]) or "") for p in inv["payments"]])
    mails = [m for m in current.sent_emails if m["kb_invoice_id"] == inv["id"]]
    sent = _table(["Sent", "To", "Subject"], [(_e(m["sent_at"]), _e(m["to"]), _e(m["subject"])) for m in mails])
    return (head + _table(["Pos", "Type", "Text", "Qty", "Price", "Tax %", "Total"], rows) + totals
            + ("<h3>Payments</h3>" + pays + "<h3>E-mails</h3>" + sent if internal else ""))
