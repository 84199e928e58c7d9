"""The Bexio mapper: pure translation, checked against the NOTES' worked examples."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from bridge.connectors.bexio import mapper
from bridge.domain import Address, Invoice, InvoiceStatus, Line, LineKind, Party, PartyKind, Product
from bridge.errors import PermanentError

D = Decimal


def party(**kw) -> Party:
    base = dict(key="dg1:t1:customer:7", kind=PartyKind.PERSON, name="Anna Muster", first_name="Anna",
                last_name="Muster", email="anna@example.ch",
                address=Address(street="Seestrasse 12a", city="Zürich", postcode="8000", country_code="CH"))
    base.update(kw)
    return Party(**base)


def order(lines: list[Line], **kw) -> Invoice:
    base = dict(key="dg1:t1:site-a:1042", number="1042", issue_date=date(2024, 3, 1), currency="CHF",
                party=party(), lines=lines, prices_include_tax=True)
    base.update(kw)
    return Invoice(**base)


REFS = mapper.InvoiceRefs(contact_id=5, user_id=101, language_id=1, currency_id=1, language="de",
                          default_account_id=113)


# -- the 0.05 CHF rounding (NOTES §8.1 worked example) -------------------------------------

def test_docs_example_fully_paid_order_books_bexios_rounded_total_not_the_shop_total():
    # NOTES §8.1: 5 x 3.56 net at 7.7 % on top: tax 1.3706; Bexio's total is 19.15
    # (rounded to 0.05, difference -0.02) while the shop charged 19.17.
    shop_total = (D("5") * D("3.56") * D("1.077")).quantize(D("0.01"))
    assert shop_total == D("19.17")
    assert mapper.payment_value(shop_total, remaining=D("19.15"), round_factor=D("0.05")) == D("19.15")


def test_rounding_up_is_settled_too_so_nothing_is_left_open():
    # 19.18 in the shop, 19.20 in Bexio: paying 19.18 would leave 0.02 and status 16.
    assert mapper.payment_value(D("19.18"), remaining=D("19.20"), round_factor=D("0.05")) == D("19.20")


def test_a_real_part_payment_is_booked_as_it_is():
    assert mapper.payment_value(D("10.00"), remaining=D("19.15"), round_factor=D("0.05")) == D("10.00")
    assert mapper.payment_value(D("19.10"), remaining=D("19.20"), round_factor=D("0.01")) == D("19.10")


# -- invoices -----------------------------------------------------------------------------

def test_an_order_becomes_an_invoice_with_every_kind_of_line_and_money_as_strings():
    lines = [
        Line("Velohelm", D("2"), D("89.90"), tax_rate=D("8.1"), ledger_tax_code="121", discount_rate=D("10")),
        Line("Trinkflasche", D("1"), D("12.50"), tax_rate=D("8.1"), ledger_tax_code="121",
             discount_amount=D("2.50")),
        Line("Versand", D("1"), D("7.00"), kind=LineKind.SHIPPING, tax_rate=D("8.1"), ledger_tax_code="121"),
        Line("Zahlungsgebühr", D("1"), D("1.50"), kind=LineKind.PAYMENT_FEE, tax_rate=D("8.1"),
             ledger_tax_code="121", ledger_account_code="116"),
        Line("Gutschein SOMMER", D("1"), D("5.00"), kind=LineKind.DISCOUNT, tax_rate=D("8.1"),
             ledger_tax_code="121"),
        Line("Treuerabatt", D("1"), D("3.333333"), kind=LineKind.DISCOUNT),
        Line("Danke für Ihren Einkauf", D("0"), D("0"), kind=LineKind.TEXT),
    ]
    body = mapper.invoice_to_kb(order(lines), REFS)
    json.dumps(body)  # nothing but JSON types: no Decimal, no float
    assert body["api_reference"] == "dg1:t1:site-a:1042"
    assert body["mwst_type"] == 0 and body["mwst_is_net"] is False  # gross shop prices
    assert body["title"] == "Bestellung 1042" and body["is_valid_from"] == "2024-03-01"
    assert (body["contact_id"], body["user_id"], body["language_id"], body["currency_id"]) == (5, 101, 1, 1)
    p = body["positions"]
    assert p[0] == {"type": "KbPositionCustom", "amount": "2", "unit_price": "89.90", "text": "Velohelm",
                    "tax_id": 121, "account_id": 113, "discount_in_percent": "10"}
    assert p[1]["unit_price"] == "12.50"
    assert p[2] == {"type": "KbPositionCustom", "amount": "1", "unit_price": "-2.50",
                    "text": "Rabatt: Trinkflasche", "tax_id": 121, "account_id": 113}
    assert p[3]["text"] == "Versand" and p[3]["tax_id"] == 121
    assert p[4]["account_id"] == 116  # a line's own account wins over the default
    assert p[5] == {"type": "KbPositionCustom", "amount": "1", "unit_price": "-5.00", "text": "Gutschein SOMMER",
                    "tax_id": 121, "account_id": 113}
    assert p[6] == {"type": "KbPositionDiscount", "text": "Treuerabatt", "is_percentual": False,
                    "value": "3.333333"}
    assert p[7]["type"] == "KbPositionText"


def test_net_prices_add_tax_on_top_and_at_most_six_decimals_are_sent():
    body = mapper.invoice_to_kb(order([Line("Beratung", D("1.5"), D("3.5600004"), tax_rate=D("8.1"),
                                            ledger_tax_code="7")], prices_include_tax=False), REFS)
    assert body["mwst_is_net"] is True
    assert body["positions"][0]["unit_price"] == "3.560000"


def test_products_that_are_bexio_articles_become_article_positions():
    refs = mapper.InvoiceRefs(contact_id=5, user_id=1, language_id=1, currency_id=1, article_ids={0: 44})
    body = mapper.invoice_to_kb(order([Line("Helm", D("1"), D("89.90"), ledger_tax_code="3", sku="H-1")]), refs)
    assert body["positions"][0]["type"] == "KbPositionArticle" and body["positions"][0]["article_id"] == 44


def test_shipping_and_fee_lines_read_in_the_invoices_language_and_hash_as_before():
    """The customer reads "Versand: Post Priority" on a German invoice; the content hash
    form reads it in English, so an invoice written before the labels were translated is no
    change (no rewrite, no conflict). A product named like a label is left alone."""
    lines = [Line("Versand", D("1"), D("5"), ledger_tax_code="3"),  # a product called "Versand"
             Line("Shipping: Post Priority", D("1"), D("9"), kind=LineKind.SHIPPING, ledger_tax_code="3"),
             Line("Payment fee: card", D("1"), D("1.5"), kind=LineKind.PAYMENT_FEE, ledger_tax_code="3"),
             Line("Shipping", D("1"), D("2"), kind=LineKind.SHIPPING, ledger_tax_code="3")]
    texts = {language: [p["text"] for p in mapper.invoice_to_kb(order(lines), replace(REFS, language=language))
                        ["positions"]] for language in ("de", "fr", "it", "en", "rm")}
    assert texts["de"] == ["Versand", "Versand: Post Priority", "Zahlungsgebühr: card", "Versand"]
    assert texts["fr"][1:] == ["Livraison: Post Priority", "Frais de paiement: card", "Livraison"]
    assert texts["it"][1:] == ["Spedizione: Post Priority", "Commissione di pagamento: card", "Spedizione"]
    assert texts["en"] == texts["rm"] == ["Versand", "Shipping: Post Priority", "Payment fee: card", "Shipping"]
    german = mapper.invoice_to_kb(order(lines), REFS)
    as_before = {**german, "positions": [{**position, "text": text} for position, text in
                                         zip(german["positions"], texts["en"])]}
    assert mapper.as_customer_reads(german) == mapper.as_customer_reads(as_before)
    renamed = {**german, "positions": [{**german["positions"][0], "text": "Abholung"}, *german["positions"][1:]]}
    assert mapper.as_customer_reads(renamed) != mapper.as_customer_reads(german)  # a real change still counts


def test_an_unmapped_tax_rate_names_the_rate_and_the_setting():
    with pytest.raises(PermanentError) as caught:
        mapper.invoice_to_kb(order([Line("Helm", D("1"), D("89.90"), tax_rate=D("8.1"))]), REFS)
    assert "8.10 %" in caught.value.message and "tax mapping" in caught.value.fix
    assert caught.value.code == "unmapped_tax_rate"


def test_a_tax_free_line_carries_no_tax():
    body = mapper.invoice_to_kb(order([Line("Gutschein", D("1"), D("50"), tax_rate=D("0"))]), REFS)
    assert "tax_id" not in body["positions"][0]


def test_status_ids_map_to_the_common_lifecycle():
    assert mapper.invoice_status(7) == InvoiceStatus.DRAFT
    assert mapper.invoice_status(8) == InvoiceStatus.AUTHORISED
    assert mapper.invoice_status(9) == InvoiceStatus.PAID
    assert mapper.invoice_status(16) == InvoiceStatus.PARTIALLY_PAID
    assert mapper.invoice_status(19) == InvoiceStatus.VOIDED
    assert mapper.invoice_status(31) == InvoiceStatus.AUTHORISED  # unpaid: still open, never paid


def test_a_bexio_invoice_reads_as_a_document_with_decimal_money_and_a_link():
    row = {"id": 12, "document_nr": "RE-00012", "kb_item_status_id": 16, "api_reference": "dg1:t1:a:1",
           "total": "19.150000", "total_remaining_payments": "9.150000", "total_received_payments": "10.000000",
           "currency_id": 1, "updated_at": "2024-03-01 13:17:32", "network_link": "https://x/share"}
    doc = mapper.kb_to_document(row, currency_codes={1: "CHF"}, web_url="https://office.bexio.com")
    assert (doc.total, doc.amount_due, doc.amount_paid) == (D("19.15"), D("9.15"), D("10"))
    assert doc.status == InvoiceStatus.PARTIALLY_PAID and doc.currency == "CHF"
    assert doc.url == "https://office.bexio.com/index.php/kb_invoice/show/id/12"
    assert doc.updated_at == datetime(2024, 3, 1, 12, 17, 32, tzinfo=timezone.utc)  # Zurich winter time


# -- contacts -------------------------------------------------------------------------------

def test_a_person_is_contact_type_2_with_last_name_first_and_split_street():
    body = mapper.party_to_contact(party(), user_id=101, country_id=1, language_id=1)
    assert body["contact_type_id"] == 2
    assert (body["name_1"], body["name_2"]) == ("Muster", "Anna")
    assert (body["street_name"], body["house_number"]) == ("Seestrasse", "12a")
    assert body["user_id"] == body["owner_id"] == 101
    assert body["mail"] == "anna@example.ch" and body["postcode"] == "8000"


def test_a_company_is_contact_type_1():
    body = mapper.party_to_contact(party(kind=PartyKind.COMPANY, name="Velo AG", address=Address()), user_id=1)
    assert body["contact_type_id"] == 1 and body["name_1"] == "Velo AG" and "name_2" not in body
    assert "street_name" not in body


@pytest.mark.parametrize("street,expected", [("Bahnhofstrasse 1", ("Bahnhofstrasse", "1")),
                                             ("Rue du Lac 3 b", ("Rue du Lac", "3b")),
                                             ("Postfach", ("Postfach", "")),
                                             ("Via San Gottardo 10-12", ("Via San Gottardo", "10-12"))])
def test_street_and_number_are_split(street, expected):
    assert mapper.split_street(street) == expected


def test_a_contact_reads_back_as_a_party():
    found = mapper.contact_to_party({"id": 3, "nr": "dg1:t1:customer:7", "contact_type_id": 2, "name_1": "Muster",
                                     "name_2": "Anna", "mail": "anna@example.ch", "street_name": "Seestrasse",
                                     "house_number": "12", "postcode": "8000", "city": "Zürich",
                                     "country_id": 1, "updated_at": "2024-01-02 10:00:00"},
                                    country_codes={1: "CH"})
    assert found.ledger_id == "3" and found.external_key == "dg1:t1:customer:7"
    assert found.party.name == "Anna Muster" and found.party.address.street == "Seestrasse 12"
    assert found.party.address.country_code == "CH"


# -- articles, taxes, e-mail ------------------------------------------------------------------

def test_article_code_is_the_sku_or_platform_site_and_product():
    with_sku = Product(key="dg1:t1:a:product:5", name="Helm", sku="H-1", price=D("89.90"), currency="CHF",
                       site_id="a", platform_id="5")
    without = Product(key="dg1:t1:a:product:5", name="Helm", sku=None, price=D("89.90"), currency="CHF",
                      site_id="a", platform_id="5")
    assert mapper.article_code(with_sku, "dg1") == "H-1"
    assert mapper.article_code(without, "dg1") == "dg1-a-5"


def test_an_article_body_never_writes_stock_and_sets_is_stock_only_on_create():
    product = Product(key="k", name="Helm", sku="H-1", price=D("89.9"), currency="CHF", stock_managed=True)
    created = mapper.product_to_article(product, intern_code="H-1", currency_id=1, tax_income_id=9, create=True)
    updated = mapper.product_to_article(product, intern_code="H-1", create=False)
    assert created["is_stock"] is True and "stock_nr" not in created
    assert created["sale_price"] == "89.9" and created["tax_income_id"] == 9
    assert "is_stock" not in updated


def test_a_tax_reads_with_its_period():
    code = mapper.tax_to_code({"id": 20, "code": "UN77", "value": D("7.7"), "start_year": 2018, "end_year": 2023,
                               "start_month": 1, "end_month": 12, "is_active": True,
                               "display_name": "UN77 - Revenue normal rate 7.70%"})
    assert code.code == "20" and code.rate == D("7.7")
    assert (code.valid_from, code.valid_to) == (date(2018, 1, 1), date(2023, 12, 31))


def test_the_email_text_needs_the_network_link_placeholder():
    subject, message = mapper.email_text("fr", "RE-1")
    assert subject == "Facture RE-1" and "[Network Link]" in message
    with pytest.raises(PermanentError) as caught:
        mapper.email_text("de", "RE-1", message="Ihre Rechnung {number}")
    assert "[Network Link]" in caught.value.fix


def test_wire_decimals_have_no_exponent():
    assert mapper.wire(D("100")) == "100"
    assert mapper.wire(D("1E+2")) == "100"
    assert mapper.wire(D("0.10")) == "0.10"
