"""The official xero-python SDK drives the sandbox unmodified but for its base URL."""
from __future__ import annotations

import time
from datetime import date

import pytest

from tests.sandbox.xero_fixtures import xero, xero_spec  # noqa: F401

sdk = pytest.importorskip("xero_python")

from xero_python.accounting import (  # noqa: E402
    Account, AccountingApi, Contact, Contacts, Invoice, Invoices, LineItem, Payment)
from xero_python.api_client import ApiClient, Configuration  # noqa: E402
from xero_python.api_client.oauth2 import OAuth2Token  # noqa: E402
from xero_python.exceptions import AccountingBadRequestException  # noqa: E402


@pytest.fixture
def accounting(xero):
    fields = ("access_token", "refresh_token", "id_token", "token_type", "expires_in")
    token = {**{k: xero.token[k] for k in fields}, "scope": xero.token["scope"].split(),
             "expires_at": time.time() + 1700}
    client = ApiClient(Configuration(oauth2_token=OAuth2Token(client_id="bridge-demo",
                                                              client_secret="bridge-demo-secret")),
                       pool_threads=1)
    client.oauth2_token_getter(lambda: token)
    client.oauth2_token_saver(lambda new: token.update(new))
    return AccountingApi(client, base_url=f"{xero.api}")


def test_sdk_creates_reads_approves_and_pays(xero, accounting):
    tenant = xero.tenant_id
    created = accounting.create_contacts(tenant, Contacts(contacts=[Contact(name="SDK Customer",
                                                                             email_address="sdk@example.com")]))
    contact_id = created.contacts[0].contact_id
    invoice = Invoice(type="ACCREC", contact=Contact(contact_id=contact_id), due_date=date(2030, 1, 31),
                      line_items=[LineItem(description="Widget", quantity=3, unit_amount=19.99, account_code="200")])
    made = accounting.create_invoices(tenant, Invoices(invoices=[invoice]), summarize_errors=False,
                                      idempotency_key="sdk-invoice-1").invoices[0]
    assert made.status == "DRAFT" and made.invoice_number == "INV-0001"
    assert float(made.total) == pytest.approx(68.97)  # 59.97 + 9.00 GST (8.9955 rounded)
    read = accounting.get_invoice(tenant, made.invoice_id).invoices[0]
    assert read.contact.contact_id == contact_id and read.line_items[0].description == "Widget"
    assert accounting.get_contact(tenant, contact_id).contacts[0].name == "SDK Customer"
    approved = accounting.update_invoice(tenant, made.invoice_id,
                                         Invoices(invoices=[Invoice(status="AUTHORISED")])).invoices[0]
    assert approved.status == "AUTHORISED"
    payment = Payment(invoice=Invoice(invoice_id=made.invoice_id), account=Account(code="090"),
                      amount=approved.amount_due, date=date(2030, 1, 5))
    accounting.create_payment(tenant, payment)
    paid = accounting.get_invoice(tenant, made.invoice_id).invoices[0]
    assert paid.status == "PAID" and float(paid.amount_due) == 0
    assert isinstance(paid.updated_date_utc.year, int)  # /Date()/ parsed by the SDK


def test_sdk_sees_validation_errors(xero, accounting):
    tenant = xero.tenant_id
    accounting.create_contacts(tenant, Contacts(contacts=[Contact(name="Twice")]))
    with pytest.raises(AccountingBadRequestException) as err:
        accounting.create_contacts(tenant, Contacts(contacts=[Contact(name="Twice")]))
    assert "already assigned to another contact" in str(err.value.error_data)
