"""DG1Platform against mocked HTTP: ids, status, references, stock across sites, refusals."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest
import responses

from bridge.connectors.dg1.client import DG1Client
from bridge.connectors.dg1.platform import DG1Platform
from bridge.domain import InvoiceStatus, Party, PartyKind, StockLevel
from bridge.errors import PermanentError
from bridge.ports import KEPT_CANCELLED, LedgerDocument, Platform

from .conftest import SITES, sample_order

BASE = "https://api.dg1.test/api/v1"


@pytest.fixture
def platform():
    responses.get(f"{BASE}/sites", json={"data": SITES, "next_cursor": None})
    return DG1Platform(DG1Client(BASE, "demo", "k", sleep=lambda s: None), "demo")


def test_it_is_a_platform():
    assert isinstance(DG1Platform(DG1Client(BASE, "demo", "k"), "demo"), Platform)


@responses.activate
def test_get_invoice_by_site_and_order_and_none_when_gone(platform):
    responses.get(f"{BASE}/sites/pro/orders/100013", json=sample_order())
    responses.get(f"{BASE}/sites/pro/orders/404", status=404, json={"type": "x/not-found", "status": 404})
    found = platform.get_invoices(["pro:100013", "pro:404"])
    assert found["pro:100013"].key == "dg1:demo:pro:100013" and found["pro:404"] is None


@responses.activate
def test_changed_invoices_polls_every_site_and_skips_carts(platform):
    responses.get(f"{BASE}/sites/ch/orders", json={"data": [
        sample_order(id="1", site_id="ch", status="PENDING"),
        sample_order(id="2", site_id="ch", updated_at="2025-05-02T08:00:00Z")], "next_cursor": None})
    responses.get(f"{BASE}/sites/pro/orders", json={"data": [sample_order()], "next_cursor": None})
    since = datetime(2025, 5, 1, tzinfo=timezone.utc)
    changed = list(platform.changed_invoices(since))
    assert changed == [("ch:2", datetime(2025, 5, 2, 8, tzinfo=timezone.utc)),
                       ("pro:100013", datetime(2025, 5, 1, 10, tzinfo=timezone.utc))]
    assert "updated_since=2025-05-01T00%3A00%3A00Z" in responses.calls[1].request.url


@responses.activate
def test_paid_completes_the_order_and_other_statuses_are_refused(platform):
    responses.patch(f"{BASE}/sites/pro/orders/100013", json=sample_order(status="COMPLETED"))
    platform.set_invoice_status("pro:100013", InvoiceStatus.PAID)
    assert len(responses.calls) == 1  # no read first
    assert json.loads(responses.calls[-1].request.body) == {"status": "COMPLETED"}
    with pytest.raises(PermanentError):
        platform.set_invoice_status("pro:100013", InvoiceStatus.VOIDED)


@responses.activate
@pytest.mark.parametrize("now, kept", [("CANCELLED", True), ("SHIPPED", False)])
def test_an_order_the_shop_cancelled_stays_cancelled_when_its_invoice_is_paid(platform, now, kept):
    responses.patch(f"{BASE}/sites/pro/orders/100013", status=409, content_type="application/problem+json", json={
        "type": "https://api.dg1.ch/problems/invalid-transition", "title": "Invalid status transition",
        "status": 409, "current_status": now, "allowed": []})
    responses.get(f"{BASE}/sites/pro/orders/100013", json=sample_order(status=now))
    if kept:  # the shop's cancellation stands: the caller sends it to the ledger
        assert platform.set_invoice_status("pro:100013", InvoiceStatus.PAID) == KEPT_CANCELLED
    else:  # any other refusal is shown as DG1's
        with pytest.raises(PermanentError, match="does not allow this status change"):
            platform.set_invoice_status("pro:100013", InvoiceStatus.PAID)


@responses.activate
def test_the_ledger_reference_goes_into_external_refs(platform):
    responses.patch(f"{BASE}/sites/pro/orders/100013", json=sample_order())
    platform.set_ledger_reference("pro:100013", LedgerDocument(
        ledger_id="42", number="RE-00042", status=InvoiceStatus.AUTHORISED,
        url="https://office.bexio.com/index.php/kb_invoice/show/id/42"))
    assert json.loads(responses.calls[-1].request.body) == {"external_refs": {
        "bexio_invoice_id": "42", "bexio_document_nr": "RE-00042",
        "bexio_invoice_url": "https://office.bexio.com/index.php/kb_invoice/show/id/42"}}
    assert responses.calls[-1].request.headers["Idempotency-Key"]


@pytest.mark.parametrize("url", ["javascript:alert(document.domain)", "https://office.bexio.com/" + "x" * 300])
def test_bridge_writes_no_invoice_url_into_dg1_that_could_not_be_opened_as_a_link(platform, url):
    refs = platform.ledger_refs(LedgerDocument(ledger_id="42", number="RE-00042", status=InvoiceStatus.AUTHORISED,
                                               url=url))
    assert refs["bexio_invoice_url"] is None and refs["bexio_invoice_id"] == "42"


@responses.activate
def test_stock_by_sku_goes_to_every_site_that_has_it_and_by_product_id_to_its_site_only(platform):
    def stock(site, known):
        def answer(request):
            results = []
            for item in json.loads(request.body):
                ident = item.get("sku") or item.get("product_id")
                status = known.get(ident, "unknown_sku" if "sku" in item else "unknown_product")
                results.append({**{k: v for k, v in item.items() if k != "quantity"}, "status": status})
            return 200, {}, json.dumps({"results": results})
        responses.add_callback(responses.PUT, f"{BASE}/sites/{site}/stock", callback=answer)

    stock("ch", {"TEA-100": "ok", "MUG-01": "ok", "WRAP": "not_stock_managed"})
    stock("pro", {"TEA-100": "ok", "100009": "ok"})
    results = platform.set_stock([
        StockLevel(quantity=Decimal("30"), sku="TEA-100"),
        StockLevel(quantity=Decimal("5"), sku="MUG-01"),
        StockLevel(quantity=Decimal("4"), product_key="dg1:demo:product:pro:100009"),
        StockLevel(quantity=Decimal("1"), sku="NOPE"),
        StockLevel(quantity=Decimal("2"), sku="WRAP"),
    ])
    bodies = {call.request.url.rsplit("/", 2)[-2]: json.loads(call.request.body) for call in responses.calls
              if call.request.method == "PUT"}
    assert {"product_id": "100009", "quantity": 4} in bodies["pro"]
    assert not [i for i in bodies["ch"] if "product_id" in i]
    tea, mug, apron, nope, wrap = results
    assert tea.ok and tea.ledger_id == "ch,pro"
    assert mug.ok and mug.ledger_id == "ch"
    assert apron.ok and apron.ledger_id == "pro"
    assert not nope.ok and "No DG1 site has SKU NOPE" in nope.error.message
    assert wrap.ok and wrap.warnings == ["SKU WRAP: stock is not managed on site ch, so it was left unchanged."]


def test_what_dg1_cannot_do_is_refused_in_words():
    platform = DG1Platform(DG1Client(BASE, "demo", "k"), "demo")
    party = Party(key="x", kind=PartyKind.PERSON, name="A")
    with pytest.raises(PermanentError) as caught:
        platform.save_party(party, None, ("bexio", "1"))
    assert "DG1 has no API to create or change customers" in caught.value.message
    with pytest.raises(PermanentError):
        platform.save_parties([(party, None, ("bexio", "1"))])
    # A ledger edit is not copied onto the order (DG1 edits only status and references), and
    # does not fail either: the paid status of the same run must still reach the order.
    with responses.RequestsMock():  # any call to DG1 would fail here
        assert platform.apply_invoice_changes("ch:1", None, {"lines"}) is None
    assert platform.find_parties("bexio", ["1"]) == {}
