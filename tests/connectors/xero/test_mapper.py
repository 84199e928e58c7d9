from datetime import date, datetime, timezone
from decimal import Decimal

from bridge.connectors.xero import mapper
from bridge.connectors.xero.client import encode_json
from bridge.domain import Address, Invoice, InvoiceStatus, Line, LineKind, Party, PartyKind, Person


def party(**kwargs) -> Party:
    values = {"key": "b24:member1:CO:12", "kind": PartyKind.COMPANY, "name": "Acme  Ltd ", "email": "ap@acme.test"}
    values.update(kwargs)
    return Party(**values)


def invoice(**kwargs) -> Invoice:
    values = dict(key="b24:member1:INV:7", number="B24-7", issue_date=date(2026, 3, 1), currency="nzd",
                  party=party(), due_date=date(2026, 3, 31),
                  lines=[Line("Widget", Decimal("3"), Decimal("19.99"), tax_rate=Decimal("15"),
                              ledger_tax_code="OUTPUT2", ledger_account_code="200"),
                         Line("Note only", Decimal("0"), Decimal("0"), kind=LineKind.TEXT)])
    values.update(kwargs)
    return Invoice(**values)


def test_date_parsing_handles_offsets_escapes_and_iso():
    midnight = datetime(2018, 10, 20, tzinfo=timezone.utc)
    # The milliseconds are UTC whatever the offset suffix says (NOTES 9).
    assert mapper.parse_datetime("/Date(1539993600000+0000)/") == midnight
    assert mapper.parse_datetime("/Date(1539993600000+1300)/") == midnight
    assert mapper.parse_datetime("/Date(1539993600000-0800)/") == midnight
    assert mapper.parse_datetime("/Date(1539993600000)/") == midnight
    assert mapper.parse_datetime("\\/Date(1539993600000+0000)\\/") == midnight
    assert mapper.parse_datetime("/Date(-86400000)/") == datetime(1969, 12, 31, tzinfo=timezone.utc)
    assert mapper.parse_datetime("2018-10-20T00:00:00") == midnight  # no zone means UTC
    assert mapper.parse_datetime("2018-10-20T13:00:00+13:00") == midnight
    assert mapper.parse_datetime("2018-10-20T00:00:00Z") == midnight
    # A date-only field is the UTC day, never shifted into a local zone.
    assert mapper.parse_date("/Date(1540036800000+1300)/") == date(2018, 10, 20)
    assert mapper.parse_datetime("not a date") is None and mapper.parse_date(None) is None


def test_contact_number_is_our_key_and_at_most_50_characters():
    assert mapper.contact_number("b24:m1:CO:12") == "b24:m1:CO:12"
    assert mapper.contact_number("b24:m1:CO:12") != mapper.contact_number("b24:m1:C:12")
    long_key = "b24:" + "f" * 32 + ":CO:1234567890"
    number = mapper.contact_number(long_key)
    assert len(number) == 50 and number == mapper.contact_number(long_key)
    assert number != mapper.contact_number(long_key[:-1] + "1")


def test_contact_json_normalises_the_name_and_caps_contact_persons_at_five():
    people = [Person(first_name=f"P{i}", last_name="Doe", email=f"p{i}@acme.test") for i in range(6)]
    body, warnings = mapper.party_to_contact(party(contact_persons=people), "Acme  Ltd ")
    assert body["Name"] == "Acme Ltd"
    assert body["ContactNumber"] == "b24:member1:CO:12"
    assert len(body["ContactPersons"]) == 5
    assert warnings and "P5 Doe" in warnings[0]


def test_contact_persons_added_in_xero_are_kept_because_xero_replaces_the_list():
    existing = [{"FirstName": "Kim", "LastName": "Local", "EmailAddress": "kim@acme.test", "IncludeInEmails": True},
                {"FirstName": "Ann", "LastName": "Doe", "EmailAddress": "ANN@acme.test", "IncludeInEmails": False}]
    persons, dropped = mapper.contact_persons([Person("Ann", "Doe", "ann@acme.test"),
                                               Person("Bo", "New", "bo@acme.test")], existing)
    # Xero's people first and as Xero has them (who gets the invoice e-mails is theirs);
    # ours that Xero lacks after them, without IncludeInEmails (Xero's default applies).
    assert persons == existing + [{"FirstName": "Bo", "LastName": "New", "EmailAddress": "bo@acme.test"}]
    assert not dropped


def _xero_contact(**extra) -> dict:
    return {"ContactID": "c-1", "Name": "Acme Ltd", "ContactNumber": "CUST-7", "EmailAddress": "ap@acme.test",
            "Phones": [{"PhoneType": "DEFAULT", "PhoneNumber": "555 0101"}, {"PhoneType": "FAX", "PhoneNumber": "9"}],
            "Addresses": [{"AddressType": "POBOX", "AddressLine1": "PO Box 1"},
                          {"AddressType": "STREET", "AddressLine1": "1 Main St", "City": "Auckland",
                           "Region": "Auckland"}],
            "ContactPersons": [{"FirstName": "Kim", "LastName": "Local", "EmailAddress": "kim@acme.test",
                                "IncludeInEmails": True}],
            "ContactGroups": [{"Name": "VIP"}], "IsCustomer": True, **extra}


def _as_xero_has_it(**changes) -> Party:
    return party(**{"name": "Acme Ltd", "email": "AP@acme.test ", "phone": "555-0101",
                    "address": Address(street="1 Main St", city="auckland"),
                    "contact_persons": [Person("Owner", "Acme", "owner@acme.test")], **changes})


def test_an_update_that_xero_already_says_sends_nothing():
    """Issue 16: what Xero already has (case, spacing, phone punctuation aside) is no reason
    to write; people of ours Xero lacks are not added unless the people changed."""
    assert mapper.contact_update(_as_xero_has_it(), "Acme Ltd", _xero_contact()) == (None, [])
    assert mapper.contact_update(_as_xero_has_it(), "Acme Ltd", _xero_contact(),
                                 {"name", "contact", "address"}) == (None, [])


def test_a_rename_sends_the_name_only_never_fields_we_do_not_own():
    body, _ = mapper.contact_update(_as_xero_has_it(name="Acme Group"), "Acme Group", _xero_contact(), {"name"})
    assert body == {"ContactID": "c-1", "Name": "Acme Group"}
    # With every group in doubt, still only what differs: no ContactNumber over theirs, no
    # IncludeInEmails, no groups, no ContactPersons.
    body, _ = mapper.contact_update(_as_xero_has_it(name="Acme Group"), "Acme Group", _xero_contact())
    assert body == {"ContactID": "c-1", "Name": "Acme Group"}


def test_a_changed_phone_keeps_xeros_other_phones_and_people_go_only_when_they_changed():
    body, _ = mapper.contact_update(_as_xero_has_it(phone="555 0199"), "Acme Ltd", _xero_contact(), {"contact"})
    assert body == {"ContactID": "c-1", "Phones": [{"PhoneType": "FAX", "PhoneNumber": "9"},
                                                   {"PhoneType": "DEFAULT", "PhoneNumber": "555 0199"}]}
    body, _ = mapper.contact_update(_as_xero_has_it(), "Acme Ltd", _xero_contact(), {"people"})
    assert body["ContactPersons"] == [_xero_contact()["ContactPersons"][0],
                                      {"FirstName": "Owner", "LastName": "Acme", "EmailAddress": "owner@acme.test"}]


def test_invoice_json_carries_tax_type_account_code_and_amount_types():
    body = mapper.invoice_to_xero(invoice(), "contact-1")
    assert body["Type"] == "ACCREC" and body["Contact"] == {"ContactID": "contact-1"}
    assert body["LineAmountTypes"] == "Exclusive"
    assert body["Date"] == "2026-03-01" and body["DueDate"] == "2026-03-31" and body["CurrencyCode"] == "NZD"
    assert body["Status"] == "DRAFT" and body["InvoiceNumber"] == "B24-7"
    widget, note = body["LineItems"]
    assert widget == {"Description": "Widget", "Quantity": Decimal("3"), "UnitAmount": Decimal("19.99"),
                      "AccountCode": "200", "TaxType": "OUTPUT2"}
    assert note == {"Description": "Note only"}
    assert mapper.invoice_to_xero(invoice(prices_include_tax=True), "c")["LineAmountTypes"] == "Inclusive"
    untaxed = invoice(lines=[Line("Gift", Decimal(1), Decimal(5), tax_rate=Decimal(0))])
    assert mapper.invoice_to_xero(untaxed, "c")["LineAmountTypes"] == "NoTax"


def test_invoice_update_pairs_line_item_ids_and_sends_no_status():
    body = mapper.invoice_to_xero(invoice(status=InvoiceStatus.AUTHORISED), "c", invoice_id="inv-1",
                                  existing_line_ids=["line-a"])
    assert "Status" not in body and body["InvoiceID"] == "inv-1"
    assert body["LineItems"][0]["LineItemID"] == "line-a" and "LineItemID" not in body["LineItems"][1]


def test_money_goes_out_as_json_numbers_digit_for_digit():
    text = encode_json({"Amount": Decimal("19.99"), "Qty": Decimal("1E+1"), "Neg": Decimal("-0.10"), "s": "x"})
    assert text == '{"Amount":19.99,"Qty":10,"Neg":-0.10,"s":"x"}'


def test_expected_totals_round_tax_per_line_like_xero():
    lines = [Line(f"L{i}", Decimal(1), Decimal("0.10"), tax_rate=Decimal("15")) for i in range(3)]
    totals = mapper.expected_totals(invoice(lines=lines))
    # 0.015 rounds to 0.02 on each line: 0.06 in all, where taxing the total would give 0.05.
    assert totals == {"SubTotal": Decimal("0.30"), "TotalTax": Decimal("0.06"), "Total": Decimal("0.36")}
    inclusive = mapper.expected_totals(invoice(prices_include_tax=True,
                                               lines=[Line("A", Decimal(1), Decimal("11.50"), tax_rate=Decimal(15))]))
    assert inclusive == {"SubTotal": Decimal("10.00"), "TotalTax": Decimal("1.50"), "Total": Decimal("11.50")}


def test_document_from_xero_reads_statuses_money_and_lines():
    xero = {"InvoiceID": "inv-1", "InvoiceNumber": "INV-0001", "Status": "AUTHORISED", "Type": "ACCREC",
            "Total": Decimal("68.96"), "AmountDue": Decimal("18.96"), "AmountPaid": Decimal("50.00"),
            "CurrencyCode": "NZD", "UpdatedDateUTC": "/Date(1700000000000+0000)/", "Date": "/Date(1772323200000+0000)/",
            "LineAmountTypes": "Exclusive", "Contact": {"ContactID": "c-1", "Name": "Acme"},
            "LineItems": [{"LineItemID": "l-1", "Description": "Widget", "Quantity": 3, "UnitAmount": Decimal("19.99"),
                           "TaxType": "OUTPUT2", "AccountCode": "200"}]}
    doc = mapper.document_from_xero(xero, "https://go.xero.com")
    assert doc.status == InvoiceStatus.PARTIALLY_PAID and doc.amount_due == Decimal("18.96")
    assert doc.url == "https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID=inv-1"
    assert doc.invoice.lines[0].quantity == Decimal("3") and doc.invoice.issue_date == date(2026, 3, 1)
    assert mapper.line_item_ids(xero) == ["l-1"]
    assert mapper.status_from_xero({"Status": "PAID"}) == InvoiceStatus.PAID


def test_reference_data_keeps_active_revenue_choices_only():
    rates = [{"TaxType": "OUTPUT2", "Name": "GST on Income", "Status": "ACTIVE", "EffectiveRate": Decimal("15"),
              "CanApplyToRevenue": True},
             {"TaxType": "INPUT2", "Name": "GST on Expenses", "Status": "ACTIVE", "EffectiveRate": Decimal("15"),
              "CanApplyToRevenue": False},
             {"TaxType": "OLD", "Name": "Old", "Status": "DELETED", "CanApplyToRevenue": True}]
    assert [t.code for t in mapper.revenue_tax_codes(rates)] == ["OUTPUT2"]
    accounts = [{"Code": "200", "Name": "Sales", "Type": "REVENUE", "Status": "ACTIVE"},
                {"Code": "205", "Name": "Old sales", "Type": "SALES", "Status": "ARCHIVED"},
                {"Code": "090", "Name": "Bank", "Type": "BANK", "Status": "ACTIVE"},
                {"Code": "400", "Name": "Advertising", "Type": "EXPENSE", "Status": "ACTIVE"}]
    assert [a.code for a in mapper.sales_accounts(accounts)] == ["200"]
    assert [a.code for a in mapper.payment_accounts(accounts)] == ["090"]


def test_no_reference_of_ours_the_url_links_back_and_only_our_url_is_ours():
    """Xero prints Reference on the customer's invoice: bridge sends none, on create or update
    (a PO number the user typed stays); Url ("Go to ..." inside Xero) is the platform invoice."""
    url = "https://acme.bitrix24.com/crm/type/31/details/7/"
    ours = invoice(key="b24:m:SI:7", platform_url=url, reference="Spring fair")
    for body in (mapper.invoice_to_xero(ours, "c"), mapper.invoice_to_xero(ours, "c", invoice_id="inv-1")):
        assert "Reference" not in body and body["Url"] == url
        assert "b24:" not in encode_json(body)
    made = [{"InvoiceID": "other", "Url": "https://acme.bitrix24.com/crm/type/31/details/8/", "Total": 1},
            {"InvoiceID": "typed", "Total": 1},
            {"InvoiceID": "void", "Url": url, "Status": "VOIDED", "Total": 1},
            {"InvoiceID": "mine", "Url": url, "Status": "DRAFT", "Total": 1}]
    assert mapper.pick_ours(ours, made)["InvoiceID"] == "mine"
    assert mapper.pick_ours(ours, made[:2]) is None
    assert mapper.pick_ours(invoice(key="b24:m:SI:7"), made) is None  # no Url of its own: nothing is taken
