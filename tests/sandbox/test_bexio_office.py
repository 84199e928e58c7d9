"""The office.bexio.com view a demo shows next to the shop."""
from __future__ import annotations

import requests

from .bexio_helpers import TIMEOUT, Api


def test_company_page_lists_invoices_with_status_contacts_and_articles(sandbox):
    api = Api(sandbox, "seeland")
    api.post("/2.0/article", {"intern_code": "VELO-7", "intern_name": "Stadtvelo", "article_type_id": 1})
    inv = api.invoice([api.custom("499.00")], api_reference="dg1:shop:1:1001").json()
    api.post(f"/2.0/kb_invoice/{inv['id']}/issue")
    page = requests.get(f"{sandbox.url}/office.bexio.com/seeland/", timeout=TIMEOUT)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert "dg1:shop:1:1001" in page.text and "Open (8)" in page.text
    assert "VELO-7" in page.text and "kundin@example.ch" in page.text
    detail = requests.get(f"{sandbox.url}/office.bexio.com/seeland/kb_invoice/{inv['id']}", timeout=TIMEOUT)
    assert "499.000000" in detail.text
    other = requests.get(f"{sandbox.url}/office.bexio.com/alpenblick/", timeout=TIMEOUT)
    assert "dg1:shop:1:1001" not in other.text
    index = requests.get(f"{sandbox.url}/office.bexio.com/", timeout=TIMEOUT)
    assert "Seeland Velo GmbH" in index.text


def test_a_bexio_user_records_the_open_amount_as_paid_on_the_invoice_page(sandbox):
    """The DG1 tour's "paid at the Bexio side" is a click, not a control call."""
    api = Api(sandbox, "seeland")
    inv = api.invoice([api.custom("120.00")]).json()
    detail = f"{sandbox.url}/office.bexio.com/seeland/kb_invoice/{inv['id']}"
    assert "Record payment" not in requests.get(detail, timeout=TIMEOUT).text  # a draft cannot be paid
    api.post(f"/2.0/kb_invoice/{inv['id']}/issue")
    assert "Record payment" in requests.get(detail, timeout=TIMEOUT).text
    page = requests.post(f"{detail}/pay", timeout=TIMEOUT)
    assert page.status_code == 200 and "Paid (9)" in page.text and "Record payment" not in page.text
