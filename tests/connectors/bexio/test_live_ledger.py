"""BexioLedger against the sandbox Bexio over real HTTP: contacts, invoices, payments,
e-mail, cancellation, taxes by date, articles and stock, budgets."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from bridge.domain import Address, Invoice, InvoiceStatus, Line, LineKind, Party, PartyKind, Payment, Product
from bridge.errors import BudgetExhausted, ConflictError, PermanentError
from bridge.ratelimit import limiter_for_app
from bridge.ports import InvoiceWrite, Ledger
from tests.connectors.bexio.live_support import connect, ledger, state

D = Decimal


@pytest.fixture
def bexio(live):
    connected = connect(live, login="seeland:101")
    with live.app.app_context():
        adapter = ledger(live, connected)
        # Ids differ per company (NOTES §3): resolve the revenue account, never hard-code it.
        adapter.options.account_id = int(next(a.code for a in adapter.sales_accounts() if a.name.startswith("3200")))
        yield adapter


def customer(key: str = "dg1:tenant-1:customer:7", email: str = "anna@example.ch") -> Party:
    return Party(key=key, kind=PartyKind.PERSON, name="Anna Muster", first_name="Anna", last_name="Muster",
                 email=email, address=Address(street="Seestrasse 12", city="Zürich", postcode="8000",
                                              country_code="CH"))


def tax_id(adapter, rate: str, on: date, code_prefix: str = "UN") -> str:
    """What the flow does with the tax mapping: the rate's tax valid on the service date."""
    return next(t.code for t in adapter.tax_codes(on=on) if t.rate == D(rate) and t.name.startswith(code_prefix))


def order(adapter, number: str, lines: list[Line], *, on: date = date(2024, 3, 1), gross: bool = True,
          party: Party | None = None) -> Invoice:
    return Invoice(key=f"dg1:tenant-1:site-a:{number}", number=number, issue_date=on, currency="CHF",
                   party=party or customer(), lines=lines, prices_include_tax=gross)


def save(adapter, invoice: Invoice, contact_id: str):
    [result] = adapter.save_invoices([InvoiceWrite(invoice=invoice, party_ledger_id=contact_id, ledger_id=None,
                                                   idempotency_key=f"k-{invoice.number}")])
    assert result.ok, result.error and (result.error.message, result.error.ledger_messages)
    return result


def contact_for(adapter, party: Party) -> str:
    match = adapter.match_party(party, None)
    return match.ledger_id or adapter.save_party(party, match, "k").ledger_id


def test_the_adapter_is_a_ledger(bexio):
    assert isinstance(bexio, Ledger) and bexio.kind == "bexio" and bexio.organisation_id == "seeland"


def test_a_customer_is_found_by_our_key_then_by_email_and_never_duplicated(live, bexio):
    anna = customer()
    first = bexio.match_party(anna, None)
    assert first.ledger_id is None
    created = bexio.save_party(anna, first, "k1")
    assert created.ok and created.number == anna.key
    again = bexio.match_party(anna, None)
    assert (again.ledger_id, again.matched_by) == (created.ledger_id, "external_key")
    # The same person arriving from another site (another key) is the same Bexio contact.
    other_site = customer(key="dg1:tenant-1:customer:99")
    by_mail = bexio.match_party(other_site, None)
    assert (by_mail.ledger_id, by_mail.matched_by) == (created.ledger_id, "email")
    assert bexio.save_party(other_site, by_mail, "k2").ledger_id == created.ledger_id
    contacts = state(live)["contacts"]
    assert len(contacts) == 1 and contacts[0]["contact_type_id"] == 2
    assert (contacts[0]["name_1"], contacts[0]["name_2"], contacts[0]["street_name"]) == ("Muster", "Anna", "Seestrasse")


def test_an_order_becomes_an_issued_paid_and_emailed_invoice_found_again_before_any_create(live, bexio):
    un81 = tax_id(bexio, "8.1", date(2024, 3, 1))
    contact_id = contact_for(bexio, customer())
    invoice = order(bexio, "1042", [
        Line("Velohelm", D("2"), D("89.90"), tax_rate=D("8.1"), ledger_tax_code=un81),
        Line("Versand", D("1"), D("7.00"), kind=LineKind.SHIPPING, tax_rate=D("8.1"), ledger_tax_code=un81),
        Line("Zahlungsgebühr", D("1"), D("1.50"), kind=LineKind.PAYMENT_FEE, tax_rate=D("8.1"), ledger_tax_code=un81),
        Line("Gutschein", D("1"), D("10.00"), kind=LineKind.DISCOUNT, tax_rate=D("8.1"), ledger_tax_code=un81),
    ])
    assert bexio.find_invoice(invoice) is None
    created = save(bexio, invoice, contact_id)
    assert created.status == InvoiceStatus.DRAFT and created.url.endswith(f"/kb_invoice/show/id/{created.ledger_id}")

    # A retry (a crash after the create, say) finds it by api_reference instead of creating.
    retried = save(bexio, invoice, contact_id)
    assert retried.ledger_id == created.ledger_id and "already has" in retried.warnings[0]
    [bexio_invoice] = state(live)["invoices"]
    assert bexio_invoice["api_reference"] == "dg1:tenant-1:site-a:1042"
    assert [p["text"] for p in bexio_invoice["positions"]] == ["Velohelm", "Versand", "Zahlungsgebühr", "Gutschein"]
    assert bexio_invoice["total"] == "178.300000"  # 179.80 + 7 + 1.50 - 10, gross

    document = bexio.find_invoice(invoice)
    assert bexio.issue_invoice(document).status == InvoiceStatus.AUTHORISED
    paid = bexio.record_payment(document, Payment(D("178.30"), date(2024, 3, 2), "CHF"), "p1")
    assert paid.status == InvoiceStatus.PAID
    # A repeated payment attempt books nothing more.
    assert bexio.record_payment(document, Payment(D("178.30"), date(2024, 3, 2), "CHF"), "p1").status == \
        InvoiceStatus.PAID
    document.invoice = invoice
    sent = bexio.send_invoice(document)
    assert sent.ok
    [mail] = state(live)["sent_emails"]
    assert mail["to"] == "anna@example.ch" and mail["network_link"] in mail["message"]
    assert "[Network Link]" not in mail["message"] and mail["subject"].startswith("Rechnung ")
    [final] = state(live)["invoices"]
    assert len(final["payments"]) == 1 and final["kb_item_status_id"] == 9


def test_the_docs_rounding_example_leaves_a_fully_paid_order_paid_not_partial(live, bexio):
    # NOTES §8.1: 5 x 3.56 net at 7.7 % on top; the shop charges 19.17, Bexio totals 19.15.
    un77 = tax_id(bexio, "7.7", date(2023, 6, 1))
    contact_id = contact_for(bexio, customer())
    invoice = order(bexio, "77", [Line("Schrauben", D("5"), D("3.56"), tax_rate=D("7.7"), ledger_tax_code=un77)],
                    on=date(2023, 6, 1), gross=False)
    created = save(bexio, invoice, contact_id)
    document = bexio.get_invoices([created.ledger_id])[0]
    assert document.total == D("19.15")
    bexio.issue_invoice(document)
    result = bexio.record_payment(document, Payment(D("19.17"), date(2023, 6, 2), "CHF"), "p")
    assert result.status == InvoiceStatus.PAID and "19.15" in result.warnings[0]
    # Likewise when Bexio rounds up (a shop total of 19.18 against 19.20): never left partial.
    other = save(bexio, order(bexio, "78", [Line("Schrauben", D("1"), D("19.18"), tax_rate=D("7.7"),
                                                  ledger_tax_code=un77)], on=date(2023, 6, 1)), contact_id)
    doc = bexio.get_invoices([other.ledger_id])[0]
    assert doc.total == D("19.20")
    bexio.issue_invoice(doc)
    assert bexio.record_payment(doc, Payment(D("19.18"), date(2023, 6, 2), "CHF"), "p").status == InvoiceStatus.PAID


def test_cancel_works_on_unpaid_invoices_and_asks_for_manual_action_after_payment(live, bexio):
    un81 = tax_id(bexio, "8.1", date(2024, 3, 1))
    contact_id = contact_for(bexio, customer())
    line = [Line("Helm", D("1"), D("50"), tax_rate=D("8.1"), ledger_tax_code=un81)]
    unpaid = bexio.get_invoices([save(bexio, order(bexio, "1", line), contact_id).ledger_id])[0]
    bexio.issue_invoice(unpaid)
    assert bexio.cancel_invoice(unpaid, void_allowed=True).status == InvoiceStatus.VOIDED
    assert bexio.cancel_invoice(unpaid, void_allowed=True).status == InvoiceStatus.VOIDED  # again: no-op

    paid = bexio.get_invoices([save(bexio, order(bexio, "2", line), contact_id).ledger_id])[0]
    bexio.issue_invoice(paid)
    bexio.record_payment(paid, Payment(D("50"), date(2024, 3, 2), "CHF"), "p")
    with pytest.raises(ConflictError) as caught:
        bexio.cancel_invoice(paid, void_allowed=True)
    assert "needs manual action: Bexio's API cannot make credit notes" in caught.value.message
    assert "credit note" in caught.value.fix

    draft = bexio.get_invoices([save(bexio, order(bexio, "3", line), contact_id).ledger_id])[0]
    assert bexio.cancel_invoice(draft, void_allowed=True).status == InvoiceStatus.DELETED
    statuses = {i["api_reference"]: i["kb_item_status_id"] for i in state(live)["invoices"]}
    assert statuses == {"dg1:tenant-1:site-a:1": 19, "dg1:tenant-1:site-a:2": 9}


def test_taxes_follow_the_service_date_so_7_7_and_8_1_both_work(live, bexio):
    rates_2023 = {t.rate for t in bexio.tax_codes(on=date(2023, 12, 31))}
    rates_2024 = {t.rate for t in bexio.tax_codes(on=date(2024, 1, 1))}
    assert D("7.7") in rates_2023 and D("8.1") not in rates_2023
    assert D("8.1") in rates_2024 and D("7.7") not in rates_2024
    contact_id = contact_for(bexio, customer())
    old = order(bexio, "2023", [Line("Helm", D("1"), D("50"), tax_rate=D("7.7"),
                                     ledger_tax_code=tax_id(bexio, "7.7", date(2023, 12, 1)))], on=date(2023, 12, 1))
    new = order(bexio, "2024", [Line("Helm", D("1"), D("50"), tax_rate=D("8.1"),
                                     ledger_tax_code=tax_id(bexio, "8.1", date(2024, 2, 1)))], on=date(2024, 2, 1))
    save(bexio, old, contact_id)
    save(bexio, new, contact_id)
    taxes = {i["api_reference"]: i["taxs"][0]["percentage"] for i in state(live)["invoices"]}
    assert taxes == {"dg1:tenant-1:site-a:2023": "7.70", "dg1:tenant-1:site-a:2024": "8.10"}


def test_an_inactive_tax_is_refused_with_bexios_message(live, bexio):
    un81 = tax_id(bexio, "8.1", date(2024, 3, 1))
    live.control(f"bexio/companies/seeland/taxes/{un81}", json={"is_active": False})
    [result] = bexio.save_invoices([InvoiceWrite(
        invoice=order(bexio, "9", [Line("Helm", D("1"), D("50"), tax_rate=D("8.1"), ledger_tax_code=un81)]),
        party_ledger_id=contact_for(bexio, customer()), ledger_id=None, idempotency_key="k")])
    assert not result.ok and isinstance(result.error, PermanentError)
    assert "only active sales taxes" in result.error.ledger_messages[0]


def test_changed_invoices_reports_only_this_installations_invoices(live, bexio):
    contact_id = contact_for(bexio, customer())
    line = [Line("Helm", D("1"), D("50"), tax_rate=D("8.1"), ledger_tax_code=tax_id(bexio, "8.1", date(2024, 3, 1)))]
    mine = save(bexio, order(bexio, "5", line), contact_id)
    foreign = order(bexio, "6", line)
    foreign.key = "dg1:tenant-2:site-a:6"  # another shop booking into the same company
    save(bexio, foreign, contact_id)
    since = datetime.now(timezone.utc) - timedelta(days=1)
    assert [d.ledger_id for d in bexio.changed_invoices(since)] == [mine.ledger_id]
    assert list(bexio.changed_invoices(datetime.now(timezone.utc) + timedelta(days=2))) == []


def test_products_become_articles_by_sku_and_stock_comes_back(live, bexio):
    helm_a = Product(key="dg1:tenant-1:a:product:5", name="Velohelm", sku="H-1", price=D("89.90"), currency="CHF",
                     tax_rate=D("8.1"), stock_managed=True, site_id="a", platform_id="5")
    helm_b = Product(key="dg1:tenant-1:b:product:8", name="Velohelm", sku="H-1", price=D("89.90"), currency="CHF",
                     stock_managed=True, site_id="b", platform_id="8")
    bottle_a = Product(key="dg1:tenant-1:a:product:6", name="Flasche", sku=None, price=D("12.50"), currency="CHF",
                       stock_managed=True, site_id="a", platform_id="6")
    bottle_b = Product(key="dg1:tenant-1:b:product:6", name="Flasche", sku=None, price=D("12.50"), currency="CHF",
                       stock_managed=True, site_id="b", platform_id="6")
    results = bexio.save_products([(helm_a, None), (helm_b, None), (bottle_a, None), (bottle_b, None)], "k")
    assert all(r.ok for r in results)
    assert results[0].ledger_id == results[1].ledger_id  # one SKU on two sites: one article
    assert results[2].ledger_id != results[3].ledger_id  # no SKU: one article per site
    codes = sorted(a["intern_code"] for a in state(live)["articles"])
    assert codes == ["H-1", "dg1-a-6", "dg1-b-6"]
    # Next day: the name changed; the article is updated, not duplicated.
    helm_a.name = "Velohelm Pro"
    [again] = bexio.save_products([(helm_a, None)], "k2")
    assert again.ledger_id == results[0].ledger_id
    assert {a["intern_name"] for a in state(live)["articles"]} == {"Velohelm Pro", "Flasche"}

    live.control(f"bexio/companies/seeland/articles/{results[0].ledger_id}/stock",
                 json={"stock_nr": "20", "stock_reserved_nr": "3"})
    # An order of 2 helmets is an article position: issuing it books the stock out in Bexio.
    contact_id = contact_for(bexio, customer())
    sale = save(bexio, order(bexio, "10", [Line("Velohelm", D("2"), D("89.90"), tax_rate=D("8.1"), sku="H-1",
                                                 ledger_tax_code=tax_id(bexio, "8.1", date(2024, 3, 1)))]),
                contact_id)
    bexio.issue_invoice(bexio.get_invoices([sale.ledger_id])[0])
    levels = bexio.stock_levels([results[0].ledger_id, results[2].ledger_id])
    assert levels[results[0].ledger_id].quantity == D("15")  # 20 - 2 sold - 3 reserved
    assert levels[results[0].ledger_id].sku == "H-1"
    assert levels[results[2].ledger_id].quantity == D("0")


def test_bexio_429_pauses_the_company_and_says_when_to_resume(live, bexio):
    live.control("bexio/companies/seeland/faults", json={"status": 429, "count": 1})
    with pytest.raises(BudgetExhausted) as caught:
        bexio.tax_codes(on=date(2024, 1, 1))
    assert 0 < caught.value.retry_after <= 60
    assert limiter_for_app(live.app).paused_until("bexio:seeland") is not None


def test_a_batch_stops_at_a_spent_budget_and_reports_the_rest(live, bexio):
    contact_id = contact_for(bexio, customer())
    line = [Line("Helm", D("1"), D("50"), tax_rate=D("8.1"), ledger_tax_code=tax_id(bexio, "8.1", date(2024, 3, 1)))]
    writes = [InvoiceWrite(invoice=order(bexio, str(n), line), party_ledger_id=contact_id, ledger_id=None,
                           idempotency_key=str(n)) for n in (21, 22, 23)]
    live.control("bexio/companies/seeland/faults", json={"status": 429, "count": 1})
    results = bexio.save_invoices(writes)
    assert [type(r.error) for r in results] == [BudgetExhausted] * 3
    assert results[1].error is results[0].error  # not attempted: the company is paused
    assert state(live)["invoices"] == []


def test_a_draft_is_updated_in_place_and_an_issued_invoice_is_left_to_a_person(live, bexio):
    un81 = tax_id(bexio, "8.1", date(2024, 3, 1))
    contact_id = contact_for(bexio, customer())
    invoice = order(bexio, "30", [Line("Helm", D("1"), D("50"), tax_rate=D("8.1"), ledger_tax_code=un81)])
    created = save(bexio, invoice, contact_id)
    invoice.lines = [Line("Helm", D("2"), D("50"), tax_rate=D("8.1"), ledger_tax_code=un81),
                     Line("Versand", D("1"), D("7"), kind=LineKind.SHIPPING, tax_rate=D("8.1"), ledger_tax_code=un81)]
    [updated] = bexio.save_invoices([InvoiceWrite(invoice, contact_id, created.ledger_id, "k2")])
    assert updated.ok and updated.ledger_id == created.ledger_id
    [row] = state(live)["invoices"]
    assert [(p["text"], p["amount"]) for p in row["positions"]] == [("Helm", "2.000000"), ("Versand", "1.000000")]
    assert row["total"] == "107.000000"

    bexio.issue_invoice(bexio.get_invoices([created.ledger_id])[0])
    [refused] = bexio.save_invoices([InvoiceWrite(invoice, contact_id, created.ledger_id, "k3")])
    assert isinstance(refused.error, ConflictError) and "already issued" in refused.error.message
