"""The pure mapper: smart and legacy invoices, parties, stages, the sync flag."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bridge.connectors.bitrix24 import mapper
from bridge.domain import InvoiceStatus, PartyKind
from bridge.errors import PermanentError

STAGES = mapper.stages_from_status_list([
    {"STATUS_ID": "DT31_5:N", "NAME": "New", "SORT": "10", "SEMANTICS": None, "CATEGORY_ID": "5"},
    {"STATUS_ID": "DT31_5:S", "NAME": "Sent", "SORT": "20", "SEMANTICS": None, "CATEGORY_ID": "5"},
    {"STATUS_ID": "DT31_5:P", "NAME": "Paid", "SORT": "40", "SEMANTICS": "S", "CATEGORY_ID": "5"},
    {"STATUS_ID": "DT31_5:D", "NAME": "Declined", "SORT": "50", "SEMANTICS": "F", "CATEGORY_ID": "5"},
])
CONTACT = {"ID": "7", "NAME": "Ada", "LAST_NAME": "Lovelace",
           "EMAIL": [{"ID": "1", "VALUE": "ada@x.test", "VALUE_TYPE": "WORK"}],
           "PHONE": [{"ID": "2", "VALUE": "+1 555", "VALUE_TYPE": "MOBILE"}]}


def row(**kw):
    base = {"productName": "Workshop", "quantity": 2, "price": Decimal("120"), "priceExclusive": Decimal("100"),
            "priceNetto": Decimal("100"), "priceBrutto": Decimal("120"), "taxRate": Decimal("20"),
            "taxIncluded": "Y", "discountTypeId": 2, "discountRate": Decimal("0"), "productId": 101,
            "measureName": "pcs"}
    return {**base, **kw}


def item(**kw):
    return {"id": 24, "accountNumber": "INV-24", "title": "Consulting", "stageId": "DT31_5:S",
            "begindate": "2024-08-13T00:00:00+03:00", "closedate": "2024-09-12T00:00:00+03:00",
            "currencyId": "EUR", "updatedTime": "2024-08-13T11:01:57+03:00", **kw}


def invoice(rows, **kw):
    return mapper.invoice_from_item(item(**kw), rows, mapper.party_from_contact(CONTACT, "m1"), member_id="m1",
                                    base_url="https://x.bitrix24.com", stages=STAGES)


def test_smart_invoice_with_tax_included_rows():
    inv = invoice([row(), row(productName="Hour", quantity=1, price=Decimal("99"), priceExclusive=Decimal("90"),
                               priceNetto=Decimal("100"), priceBrutto=Decimal("110"), taxRate=Decimal("10"),
                               discountRate=Decimal("10"))])
    assert inv.key == "b24:m1:SI:24" and inv.number == "INV-24" and inv.reference == "Consulting"
    assert (inv.issue_date, inv.due_date) == (date(2024, 8, 13), date(2024, 9, 12))
    assert inv.prices_include_tax is True and inv.status is InvoiceStatus.AUTHORISED
    first, second = inv.lines
    assert (first.unit_price, first.tax_rate, first.discount_rate, first.product_id) == (
        Decimal("120"), Decimal("20"), None, "101")
    assert (second.unit_price, second.discount_rate) == (Decimal("110"), Decimal("10"))
    assert inv.platform_url == "https://x.bitrix24.com/crm/type/31/details/24/"


def test_mixed_rows_go_net_and_absolute_discounts_become_amounts():
    inv = invoice([row(), row(taxIncluded="N", discountTypeId=1, price=Decimal("108"), priceExclusive=Decimal("90"),
                              discountSum=Decimal("10"))])
    assert inv.prices_include_tax is False
    assert inv.lines[0].unit_price == Decimal("100")
    assert (inv.lines[1].unit_price, inv.lines[1].discount_amount, inv.lines[1].discount_rate) == (
        Decimal("100"), Decimal("20"), None)


def test_rows_without_tax_have_no_rate():
    assert invoice([row(taxRate=None, taxIncluded="N")]).lines[0].tax_rate is None


@pytest.mark.parametrize("value, enabled", [(None, True), ("", True), ("Y", True), ("N", False), ("0", False),
                                            (1, True), (0, False)])
def test_sync_flag_empty_counts_as_on(value, enabled):
    assert mapper.sync_enabled(value) is enabled
    assert invoice([row()], ufCrmSmartInvoiceXeroSync=value).sync_enabled is enabled


def test_an_invoice_without_client_is_a_permanent_error_saying_what_to_do():
    with pytest.raises(PermanentError) as caught:
        mapper.invoice_from_item(item(), [], None, member_id="m1", base_url="", stages=STAGES)
    assert "client" in caught.value.message and caught.value.fix


def test_stage_semantics_and_mapping_both_ways():
    status = mapper.status_for_stage
    assert status("DT31_5:N", STAGES) is InvoiceStatus.DRAFT
    assert status("DT31_5:P", STAGES) is InvoiceStatus.PAID
    assert status("DT31_5:D", STAGES) is InvoiceStatus.VOIDED
    assert status("DT31_5:S", STAGES, {"S": "submitted"}) is InvoiceStatus.SUBMITTED
    assert mapper.stage_for_status(InvoiceStatus.PAID, STAGES, "5") == "DT31_5:P"
    assert mapper.stage_for_status(InvoiceStatus.VOIDED, STAGES, "5") == "DT31_5:D"
    assert mapper.stage_for_status(InvoiceStatus.PAID, STAGES, "1") is None  # another pipeline
    assert mapper.stage_for_status(InvoiceStatus.AUTHORISED, STAGES, "5", {"DT31_5:S": "authorised"}) == "DT31_5:S"
    # unmapped, "sent" is the first in-progress stage after the first, and reads back as sent
    assert mapper.stage_for_status(InvoiceStatus.AUTHORISED, STAGES, "5") == "DT31_5:S"
    assert status("DT31_5:S", STAGES) is InvoiceStatus.AUTHORISED


def test_legacy_invoice_vat_rate_is_a_coefficient():
    legacy = {"ID": "9", "ACCOUNT_NUMBER": "2024/9", "ORDER_TOPIC": "Old", "STATUS_ID": "P", "CURRENCY": "USD",
              "DATE_BILL": "2024-01-02", "DATE_PAY_BEFORE": "2024-02-01", "UF_CRM_XERO_SYNC": "0",
              "PRODUCT_ROWS": [{"PRODUCT_NAME": "Box", "PRICE": "90", "DISCOUNT_PRICE": "10", "QUANTITY": "3",
                                "VAT_RATE": "0.2", "VAT_INCLUDED": "N", "MEASURE_NAME": "pcs"}]}
    stages = mapper.stages_from_status_list([{"STATUS_ID": "N", "SORT": 10}, {"STATUS_ID": "P", "SORT": 20,
                                                                               "SEMANTICS": "S"}])
    inv = mapper.invoice_from_legacy(legacy, mapper.party_from_contact(CONTACT, "m1"), member_id="m1",
                                     base_url="https://x.bitrix24.com", stages=stages)
    line = inv.lines[0]
    assert (line.tax_rate, line.unit_price, line.discount_amount) == (Decimal("20"), Decimal("100"), Decimal("30"))
    assert inv.key == "b24:m1:L:9" and inv.platform_id == "L9"
    assert inv.status is InvoiceStatus.PAID and inv.sync_enabled is False and inv.issue_date == date(2024, 1, 2)


def test_company_party_puts_the_invoice_contact_first():
    other = {"ID": "8", "NAME": "Bob", "LAST_NAME": "B"}
    party = mapper.party_from_company({"ID": "3", "TITLE": "Acme", "CURRENCY_ID": "EUR"}, [other, CONTACT], "m1",
                                      first_contact_id=7)
    assert party.kind is PartyKind.COMPANY and party.key == "b24:m1:CO:3" and party.platform_id == "CO:3"
    assert [p.first_name for p in party.contact_persons] == ["Ada", "Bob"]
    assert party.email == "ada@x.test"  # the company has none: its first person's
    person = mapper.party_from_contact(CONTACT, "m1")
    assert (person.name, person.mobile, person.phone) == ("Ada Lovelace", "+1 555", "")


def test_party_fields_carry_origin_and_add_only_missing_multi_values():
    party = mapper.party_from_contact(CONTACT, "m1")
    fields = mapper.party_fields(party, ("xero", "abc"))
    assert fields["ORIGINATOR_ID"] == "XERO" and fields["ORIGIN_ID"] == "abc"
    assert fields["EMAIL"] == [{"VALUE": "ada@x.test", "VALUE_TYPE": "WORK"}]
    update = mapper.party_fields(party, ("xero", "abc"), existing=CONTACT)
    assert "EMAIL" not in update and "PHONE" not in update


def test_a_changed_email_replaces_the_one_bridge_syncs_and_keeps_the_others():
    existing = [{"ID": "1", "VALUE": "ap@globex.test", "VALUE_TYPE": "WORK"},
                {"ID": "2", "VALUE": "boss@globex.test", "VALUE_TYPE": "HOME"}]
    wanted = [{"VALUE": "billing@globex.test", "VALUE_TYPE": "WORK"}]
    assert mapper.multi_changes(existing, wanted, same_type=False) == [
        {"ID": "1", "VALUE": "billing@globex.test", "VALUE_TYPE": "WORK"}]
    assert mapper.multi_changes(existing, [{"VALUE": "Boss@globex.test", "VALUE_TYPE": "WORK"}],
                                same_type=False) == []  # already there: nothing to write
    phones = [{"ID": "5", "VALUE": "+64 9 111", "VALUE_TYPE": "MOBILE"}]
    assert mapper.multi_changes(phones, [{"VALUE": "+64 9 222", "VALUE_TYPE": "WORK"}], same_type=True) == [
        {"VALUE": "+64 9 222", "VALUE_TYPE": "WORK"}]  # a work phone never overwrites the mobile
