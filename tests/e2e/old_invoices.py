"""Helpers of the old-invoice and webhook-mode end-to-end tests: the sandboxes' state as a
user would look at it, and one old invoice as a portal user makes it."""
from __future__ import annotations

from sqlalchemy import select

from bridge.extensions import db
from bridge.models import SyncRecord
from tests.e2e.conftest import ACME


def deliver(live) -> None:
    live.control("bitrix24/events/wait", json={"timeout": 10})
    live.run_jobs()


def xero_flush(live) -> None:
    live.control("xero/webhooks/flush")
    live.run_jobs()


def xero_invoices(live) -> list[dict]:
    state = live.control(f"xero/orgs/{live.tenant}/state", method="GET")
    return [i for i in state["invoices"] if i["Type"] == "ACCREC"]


def state(live) -> dict:
    return live.control(f"bitrix24/portals/{ACME}/state", method="GET")


def old_invoice(live, invoice_id) -> dict:
    return next(i for i in state(live)["legacy_invoices"] if int(i["ID"]) == int(invoice_id))


def new_old_invoice(live, quantity=2, **fields) -> dict:
    company = live.control(f"bitrix24/portals/{ACME}/companies", json={"fields": {
        "TITLE": "Globex Ltd", "EMAIL": [{"VALUE": "ap@globex.test", "VALUE_TYPE": "WORK"}]}})
    return live.control(f"bitrix24/portals/{ACME}/legacy-invoices", json={"fields": {
        "ORDER_TOPIC": "Workshop November", "PERSON_TYPE_ID": 1, "PAY_SYSTEM_ID": 1, "UF_COMPANY_ID": company["ID"],
        "DATE_PAY_BEFORE": "2026-12-15", **fields,
        "PRODUCT_ROWS": [{"ID": 0, "PRODUCT_NAME": "Workshop day", "QUANTITY": quantity, "PRICE": "1000.00",
                          "VAT_RATE": "0.15", "VAT_INCLUDED": "N"}]}})


def failures(live) -> list[tuple[str, str]]:
    with live.app.app_context():
        rows = db.session.scalars(select(SyncRecord).where(SyncRecord.state.in_(("failed", "conflict")))).all()
        return [(r.flow, r.error_message) for r in rows]


def new_smart_invoice(live, company: str, title: str, price: str, tax_rate: int) -> dict:
    """A smart invoice of one line for a new company, as a portal user makes it."""
    made = live.control(f"bitrix24/portals/{ACME}/companies", json={"fields": {"TITLE": company}})
    return live.control(f"bitrix24/portals/{ACME}/invoices", json={
        "fields": {"title": title, "companyId": made["ID"], "currencyId": "NZD"},
        "rows": [{"productName": "Thing", "price": price, "quantity": 1, "taxRate": tax_rate, "taxIncluded": "N"}]})
