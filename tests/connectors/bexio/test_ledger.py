"""BexioLedger's identity and safety rules against mocked Bexio answers."""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
import responses

from bridge.connectors.bexio.client import BexioClient, StaticToken
from bridge.connectors.bexio.ledger import BexioLedger, BexioOptions
from bridge.domain import Invoice, InvoiceStatus, Line, Party, PartyKind
from bridge.errors import ConflictError, PermanentError
from bridge.ports import InvoiceWrite, LedgerDocument, PartyMatch

API = "https://api.bexio.com"
D = Decimal


@pytest.fixture
def bexio():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{API}/3.0/users/me", json={"id": 1})
        mock.get(f"{API}/3.0/users", json=[{"id": 1, "email": "o@x.ch"}], headers={"X-Total-Count": "1"})
        mock.get(f"{API}/2.0/language", json=[{"id": 1, "iso_639_1": "de"}])
        mock.get(f"{API}/2.0/country", json=[{"id": 1, "iso3166_alpha2": "CH"}])
        mock.get(f"{API}/3.0/currencies", json=[{"id": 1, "name": "CHF", "round_factor": 0.05}],
                 headers={"X-Total-Count": "1"})
        client = BexioClient(api_url=API, tokens=StaticToken("t"))
        yield BexioLedger(client, organisation_id="acme",
                          options=BexioOptions(currency="CHF", reference_prefix="dg1:t1:")), mock


def invoice(key: str = "dg1:t1:s:12", lines: list[Line] | None = None, currency: str = "CHF") -> Invoice:
    party = Party(key="dg1:t1:c:1", kind=PartyKind.PERSON, name="Anna Muster", last_name="Muster",
                  first_name="Anna")
    return Invoice(key=key, number="12", issue_date=date(2024, 3, 1), currency=currency, party=party,
                   lines=lines if lines is not None else [Line("Helm", D("1"), D("50"), ledger_tax_code="3")])


def row(id_: int, **kw) -> dict:
    return {"id": id_, "document_nr": f"RE-{id_}", "kb_item_status_id": 8, "currency_id": 1, "total": "50.000000",
            "total_remaining_payments": "50.000000", "total_received_payments": "0.000000", "contact_id": 3, **kw}


def test_find_invoice_takes_only_the_exact_reference_not_a_like_match(bexio):
    ledger, mock = bexio
    mock.post(f"{API}/2.0/kb_invoice/search", json=[row(1, api_reference="dg1:t1:s:123"),
                                                     row(2, api_reference="dg1:t1:s:12")])
    assert ledger.find_invoice(invoice()).ledger_id == "2"
    search = next(c for c in mock.calls if c.request.url.startswith(f"{API}/2.0/kb_invoice/search"))
    sent = json.loads(search.request.body)
    assert sent == [{"field": "api_reference", "value": "dg1:t1:s:12", "criteria": "="}]


def test_two_live_invoices_with_our_reference_are_a_conflict_for_a_person(bexio):
    ledger, mock = bexio
    mock.post(f"{API}/2.0/kb_invoice/search", json=[row(1, api_reference="dg1:t1:s:12"),
                                                     row(2, api_reference="dg1:t1:s:12")])
    with pytest.raises(ConflictError) as caught:
        ledger.find_invoice(invoice())
    assert "RE-1, RE-2" in caught.value.message


def test_more_than_150_positions_are_added_after_the_create(bexio):
    ledger, mock = bexio
    mock.post(f"{API}/2.0/kb_invoice/search", json=[])
    mock.post(f"{API}/2.0/kb_invoice", json=row(9, kb_item_status_id=7), status=201)
    mock.post(f"{API}/2.0/kb_invoice/9/kb_position_custom", json={"id": 1}, status=201)
    mock.get(f"{API}/2.0/kb_invoice/9", json=row(9, kb_item_status_id=7))
    lines = [Line(f"Item {n}", D("1"), D("1"), ledger_tax_code="3") for n in range(152)]
    [result] = ledger.save_invoices([InvoiceWrite(invoice(lines=lines), "3", None, "k")])
    assert result.ok and result.ledger_id == "9"
    created = next(c for c in mock.calls if c.request.url == f"{API}/2.0/kb_invoice")
    assert len(json.loads(created.request.body)["positions"]) == 150
    added = [c for c in mock.calls if c.request.url.endswith("/kb_position_custom")]
    assert [json.loads(c.request.body)["text"] for c in added] == ["Item 150", "Item 151"]


def test_an_order_in_another_currency_than_the_setting_is_refused_naming_both(bexio):
    ledger, mock = bexio
    mock.post(f"{API}/2.0/kb_invoice/search", json=[])
    [result] = ledger.save_invoices([InvoiceWrite(invoice(currency="EUR"), "3", None, "k")])
    assert not result.ok and result.error.code == "currency_mismatch"
    assert "EUR" in result.error.message and "CHF" in result.error.message
    assert not any(c.request.url == f"{API}/2.0/kb_invoice" for c in mock.calls)


def test_a_contact_number_bexio_refuses_falls_back_to_bexios_own_numbering(bexio):
    ledger, mock = bexio
    mock.post(f"{API}/2.0/contact", status=422, json={
        "error_code": 422, "message": "The form could not be saved due to the following errors: nr is taken."})
    mock.post(f"{API}/2.0/contact", status=201, json={"id": 5, "nr": "1005"})
    party = invoice().party
    result = ledger.save_party(party, PartyMatch(None, party.name), "k")
    assert result.ok and result.ledger_id == "5" and result.warnings
    bodies = [json.loads(c.request.body) for c in mock.calls if c.request.url == f"{API}/2.0/contact"]
    assert bodies[0]["nr"] == "dg1:t1:c:1" and "nr" not in bodies[1]


def test_a_partly_paid_invoice_is_not_cancelled(bexio):
    ledger, mock = bexio
    mock.get(f"{API}/2.0/kb_invoice/4", json=row(4, kb_item_status_id=16))
    doc = LedgerDocument(ledger_id="4", number="RE-4", status=InvoiceStatus.PARTIALLY_PAID)
    with pytest.raises(ConflictError) as caught:
        ledger.cancel_invoice(doc, void_allowed=True)
    assert caught.value.code == "needs_manual_action"
    assert not any(c.request.url.endswith("/cancel") for c in mock.calls)


def test_an_invoice_is_not_emailed_without_an_address(bexio):
    ledger, mock = bexio
    mock.get(f"{API}/2.0/kb_invoice/4", json=row(4))
    mock.get(f"{API}/2.0/contact/3", json={"id": 3, "mail": None})
    with pytest.raises(PermanentError) as caught:
        ledger.send_invoice(LedgerDocument(ledger_id="4", number="RE-4", status=InvoiceStatus.AUTHORISED))
    assert caught.value.code == "no_recipient" and "e-mail address" in caught.value.fix


def test_a_payment_on_a_draft_is_refused_with_what_to_do(bexio):
    from bridge.domain import Payment

    ledger, mock = bexio
    mock.get(f"{API}/2.0/kb_invoice/4", json=row(4, kb_item_status_id=7))
    with pytest.raises(PermanentError) as caught:
        ledger.record_payment(LedgerDocument(ledger_id="4", number="RE-4", status=InvoiceStatus.DRAFT),
                              Payment(D("50"), date(2024, 3, 1), "CHF"), "k")
    assert caught.value.code == "not_issued"


def test_contacts_are_listed_oldest_change_first_so_an_import_can_go_on_from_its_mark(bexio):
    """The import's hand-over resumes from the last contact it wrote (``ListingMark``): both
    the full listing and the changed-since search must come oldest change first."""
    from datetime import datetime, timezone

    ledger, mock = bexio
    mock.get(f"{API}/2.0/contact", json=[{"id": 1, "name_1": "A", "contact_type_id": 1,
                                          "updated_at": "2026-01-02 10:00:00"}])
    mock.post(f"{API}/2.0/contact/search", json=[])
    assert [p.ledger_id for p in ledger.changed_parties(None)] == ["1"]
    assert list(ledger.changed_parties(datetime(2026, 1, 2, tzinfo=timezone.utc))) == []
    listed = [c.request for c in mock.calls if "/2.0/contact" in c.request.url]
    assert [r.params.get("order_by") for r in listed] == ["updated_at,id", "updated_at,id"]
