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
        yield from _portal_data(control)
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


# The portal's clients: companies with their people (some with several), and one person
# buying for themself. E-mails, because an invoice's contact needs one to be e-mailed.
PORTAL_COMPANIES = (
    (DEMO_COMPANY, "accounts@harbour-cafe.example", (("Aroha", "Ngata"), ("Tane", "Ngata"))),
    ("Kauri Builders Ltd", "office@kauri-builders.example", (("Mere", "Walker"),)),
    ("Tasman Freight GmbH", "billing@tasman-freight.example", (("Jonas", "Keller"), ("Lea", "Brunner"))),
    ("Thames Print Ltd", "ap@thames-print.example", (("Olivia", "Hughes"),)),
)
PORTAL_PERSON = ("Sam", "Rivera", "sam.rivera@mail.example")
# Invoices in several stages and currencies (stage code, currency, client index, rows:
# catalogue product id, quantity, tax %, discount %). Made before the app is installed, so no
# event reaches bridge: they show what a portal already has when the app arrives.
PORTAL_INVOICES = (
    ("Coffee machine service", "S", "NZD", 0, ((103, 3, 15, 0),)),
    ("Site office setup", "P", "NZD", 1, ((101, 4, 15, 0), (102, 2, 15, 10))),
    ("Logistics workshop", "N", "EUR", 2, ((104, 1, 19, 0),)),
    ("Print shop docks", "UC_AWAIT", "GBP", 3, ((102, 3, 20, 5),)),
    ("Declined quote", "D", "USD", None, ((103, 2, None, 0),)),
)
PRICES = {101: "49.90", 102: "129.00", 103: "95.00", 104: "1200.00"}


def _portal_data(control: str) -> Iterator[str]:
    """Companies, contacts and invoices in the portal, through the sandbox portal's own
    control API (its catalogue already has products in sections)."""
    portal = f"{control}/portals/{DEMO_PORTAL}"
    try:
        companies = []
        for title, email, people in PORTAL_COMPANIES:
            company = requests.post(f"{portal}/companies", timeout=10, json={"fields": {
                "TITLE": title, "EMAIL": [{"VALUE": email, "VALUE_TYPE": "WORK"}]}}).json()
            companies.append(company["ID"])
            for first, last in people:
                requests.post(f"{portal}/contacts", timeout=10, json={"fields": {
                    "NAME": first, "LAST_NAME": last, "COMPANY_ID": company["ID"], "EMAIL": [
                        {"VALUE": f"{first.lower()}@{email.split('@')[1]}", "VALUE_TYPE": "WORK"}]}}).raise_for_status()
        first, last, email = PORTAL_PERSON
        person = requests.post(f"{portal}/contacts", timeout=10, json={"fields": {
            "NAME": first, "LAST_NAME": last, "EMAIL": [{"VALUE": email, "VALUE_TYPE": "HOME"}]}}).json()
        for title, stage, currency, client, rows in PORTAL_INVOICES:
            party = {"companyId": companies[client]} if client is not None else {"contactId": person["ID"]}
            requests.post(f"{portal}/invoices", timeout=10, json={
                "fields": {"title": title, "stageId": f"DT31_1:{stage}", "currencyId": currency, **party},
                "rows": [{"productId": product, "quantity": quantity, "price": PRICES[product], "taxRate": tax,
                          "taxIncluded": "N", "discountTypeId": 2, "discountRate": discount}
                         for product, quantity, tax, discount in rows]}).raise_for_status()
    except (requests.RequestException, KeyError, ValueError) as exc:
        yield f"Bitrix24: sample portal data not added ({type(exc).__name__})."
        return
    yield (f"Bitrix24: {len(PORTAL_COMPANIES)} companies with their contacts and {len(PORTAL_INVOICES)} invoices "
           f"in {DEMO_PORTAL}.")


# Suppliers: a bill each makes a Xero contact a supplier (IsSupplier), as in Xero.
XERO_SUPPLIERS = (("Fonterra Foodservice", "412.50"), ("Power Co NZ", "186.20"), ("Office Supplies Ltd", "74.90"))


def _sample_data(control: str) -> Iterator[str]:
    """The Xero side the tour works with: customers (with contact persons), suppliers, paid
    invoices and bank transactions in both organisations, so "Import from Xero" and the Xero
    transactions dashboard show something. Xero sends no webhooks for organisations not yet
    connected to the app: nothing reaches bridge until the user connects Xero and asks."""
    sandbox = control.rsplit("/", 1)[0]
    try:
        for organisation in requests.get(f"{sandbox}/xero/orgs", timeout=10).json():
            tenant, main = organisation["tenantId"], organisation["name"] == DEMO_ORGANISATION
            requests.post(f"{sandbox}/xero/orgs/{tenant}/seed", timeout=30, json={
                "contacts": 10 if main else 4, "customers": True, "bank_transactions": 12 if main else 4,
                "payments": 8 if main else 3}).raise_for_status()
            for name, amount in XERO_SUPPLIERS if main else XERO_SUPPLIERS[:1]:
                requests.post(f"{sandbox}/xero/orgs/{tenant}/invoices", timeout=10, json={
                    "Type": "ACCPAY", "Status": "AUTHORISED", "Contact": {"Name": name}, "DueDate": "2030-01-31",
                    "LineItems": [{"Description": "Monthly account", "Quantity": 1, "UnitAmount": amount,
                                   "AccountCode": "429"}]}).raise_for_status()
    except (requests.RequestException, KeyError, ValueError) as exc:
        yield f"Xero: sample data not added ({type(exc).__name__})."
        return
    yield (f"Xero: customers, suppliers, paid invoices and bank transactions in {DEMO_ORGANISATION} "
           f"and the UK organisation.")


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
