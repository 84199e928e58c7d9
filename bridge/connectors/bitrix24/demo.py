"""Demo mode: install the app into the sandbox portal on start, as an admin would.

The sandbox posts the install page exactly as a portal's iframe does; bridge then makes
its own REST calls (bindings, the user field) and the sandbox marks the app installed.
Real portals refuse http and localhost handlers
(https://apidocs.bitrix24.com/api-reference/widgets/index.html), so the demo first turns on
the sandbox's named relaxation for that.
"""
from __future__ import annotations

from typing import Iterator

import requests
from flask import current_app

DEMO_PORTAL = "acme.bitrix24.com"
DEMO_COMPANY = "Harbour Cafe Ltd"
DEMO_ORGANISATION = "Bridge Demo (NZ)"


def demo_seed() -> Iterator[str]:
    """``flask demo-seed``'s part: only in demo mode, where the sandbox portal runs beside bridge."""
    if current_app.config["BRIDGE_ENV"] == "demo":
        yield from seed()


def seed() -> Iterator[str]:
    control = f"{current_app.config['SANDBOX_URL']}/_sandbox/bitrix24"
    try:
        overview = requests.get(f"{control}/", timeout=10).json()
        portal = next((p for p in overview.get("portals", []) if p["domain"] == DEMO_PORTAL), None)
        if portal and portal.get("installed"):
            yield f"Bitrix24: the app is already installed on {DEMO_PORTAL}."
            return
        requests.post(f"{control}/settings", json={"allow_insecure_handlers": True}, timeout=10).raise_for_status()
        reply = requests.post(f"{control}/portals/{DEMO_PORTAL}/install", json={"mode": "page"}, timeout=60)
        reply.raise_for_status()
    except requests.RequestException as exc:
        yield f"Bitrix24: could not install the app into the sandbox ({type(exc).__name__})."
        return
    status = reply.json().get("page_status")
    if status == 200:
        _demo_settings(reply.json()["auth"]["member_id"])
        yield f"Bitrix24: app installed on {DEMO_PORTAL}; open {current_app.config['SANDBOX_URL']}/{DEMO_PORTAL}/crm/type/31/list/"
        yield from _sample_data(control)
    else:
        yield f"Bitrix24: the install page answered HTTP {status}; see the bridge log."


def _sample_data(control: str) -> Iterator[str]:
    """What the README tour works with: a company in the portal to invoice, and customers,
    paid invoices and bank transactions in the NZ organisation, so "Import from Xero" and
    the Xero transactions dashboard show something. The sandbox makes them without
    webhooks: nothing reaches bridge until the user connects Xero and asks."""
    sandbox = control.rsplit("/", 1)[0]
    try:
        requests.post(f"{control}/portals/{DEMO_PORTAL}/companies", timeout=10, json={"fields": {
            "TITLE": DEMO_COMPANY, "EMAIL": [{"VALUE": "accounts@harbour-cafe.example", "VALUE_TYPE": "WORK"}]}}
                      ).raise_for_status()
        orgs = requests.get(f"{sandbox}/xero/orgs", timeout=10).json()
        tenant = next(o["tenantId"] for o in orgs if o["name"] == DEMO_ORGANISATION)
        requests.post(f"{sandbox}/xero/orgs/{tenant}/seed", timeout=30, json={
            "contacts": 10, "customers": True, "bank_transactions": 12, "payments": 8}).raise_for_status()
    except (requests.RequestException, StopIteration, ValueError) as exc:
        yield f"Bitrix24: sample data not added ({type(exc).__name__})."
        return
    yield f"Sample data: the company {DEMO_COMPANY} in {DEMO_PORTAL}; customers and transactions in Xero's {DEMO_ORGANISATION}."


def _demo_settings(member_id: str) -> None:
    """Map the demo portal's 15 % rate and a sales account to the sandbox's NZ organisation
    (GST on income OUTPUT2, Sales 200), so the first invoice syncs as soon as Xero is
    connected. A real installation chooses these in Settings."""
    from ...extensions import db
    from ...settings import get_section, save_section
    from . import store

    installation = store.find(member_id)
    if installation is None or get_section(installation, "mapping").tax_rates:
        return
    save_section(installation, "mapping", {"tax_rates": {"15": "OUTPUT2", "0": "NONE"},
                                           "default_sales_account": "200"})
    db.session.commit()
