"""What the customer sees on the Xero invoice is the user's (issue 20 item 5): tracking per
line, the branding theme, the Reference from a template. Each is sent only while its setting
owns it; with the setting empty, Xero keeps what a person typed there."""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from bridge.domain import COMPANY_THEME, Invoice, Line, LineKind, Party, PartyKind
from bridge.extensions import db
from bridge.ports import InvoiceWrite
from bridge.settings import save_section
from bridge.sync.mapping import ledger_document

from .conftest import envelope

THEME, OTHER_THEME = "5a1c6f1e-0000-4000-8000-0000000000aa", "5a1c6f1e-0000-4000-8000-0000000000bb"


def _invoice(**fields) -> Invoice:
    party = Party(key="b24:m:CO:3", kind=PartyKind.COMPANY, name="Acme Ltd")
    lines = [Line("Helmet", Decimal(1), Decimal("10.00"), product_id="7", product_sections=("12", "4")),
             Line("Gloves", Decimal(2), Decimal("5.00"), product_id="8", product_sections=("9",)),
             Line("Thanks for your order", Decimal(0), Decimal(0), kind=LineKind.TEXT)]
    return Invoice(key="b24:m:SI:77", number="B24-77", issue_date=date(2026, 3, 1), currency="NZD", party=party,
                   lines=lines, reference="Spring fair", **fields)


def _sent(installation, ledger, mocked, api, invoice: Invoice, ledger_id: str | None = None) -> dict:
    save_section(installation, "mapping", {"default_sales_account": "200", "tax_none": "NONE"})
    db.session.commit()
    shaped, _document = ledger_document(installation, ledger, invoice, "c-1")
    method = mocked.post if ledger_id else mocked.put
    method(f"{api}/Invoices", json=envelope("Invoices", [
        {"InvoiceID": ledger_id or "new-1", "InvoiceNumber": "INV-1", "Status": "DRAFT",
         "StatusAttributeString": "OK"}]))
    assert ledger.save_invoices([InvoiceWrite(shaped, "c-1", ledger_id, "k1")])[0].ok
    return json.loads(mocked.calls[-1].request.body)["Invoices"][0]


def _document_settings(installation, **values) -> None:
    save_section(installation, "document", values)
    db.session.commit()


def test_lines_carry_the_tracking_option_of_their_product_section_or_a_parent(installation, ledger, mocked, api):
    _document_settings(installation, tracking_category="Region", tracking_source="section",
                       tracking_options={"4": "North", "9": "South"})
    body = _sent(installation, ledger, mocked, api, _invoice())
    helmet, gloves, text = body["LineItems"]
    assert helmet["Tracking"] == [{"Name": "Region", "Option": "North"}]  # section 12 is under 4
    assert gloves["Tracking"] == [{"Name": "Region", "Option": "South"}]
    assert "Tracking" not in text


def test_lines_carry_the_option_mapped_to_a_bitrix24_field_of_the_invoice(installation, ledger, mocked, api):
    _document_settings(installation, tracking_category="Region", tracking_source="field",
                       tracking_field="ufCrm7Region", tracking_options={"45": "North"})
    body = _sent(installation, ledger, mocked, api, _invoice(fields={"ufCrm7Region": "45"}))
    assert [line.get("Tracking") for line in body["LineItems"]] == [[{"Name": "Region", "Option": "North"}]] * 2 + [None]
    unmapped = _sent(installation, ledger, mocked, api, _invoice(fields={"ufCrm7Region": "46"}))
    assert all("Tracking" not in line for line in unmapped["LineItems"])


def test_with_the_settings_off_no_tracking_reference_or_theme_is_sent(installation, ledger, mocked, api):
    """What a person typed in Xero (a Reference, a theme) stays: the update leaves them out."""
    body = _sent(installation, ledger, mocked, api, _invoice(fields={COMPANY_THEME: "Special Projects"}),
                 ledger_id="inv-1")
    assert "Reference" not in body and "BrandingThemeID" not in body
    assert all("Tracking" not in line for line in body["LineItems"])


def test_the_reference_comes_from_the_template(installation, ledger, mocked, api):
    _document_settings(installation, reference_template="{number} {title}")
    assert _sent(installation, ledger, mocked, api, _invoice())["Reference"] == "B24-77 Spring fair"
    _document_settings(installation, reference_template="PO {title}")
    assert _sent(installation, ledger, mocked, api, _invoice(), ledger_id="inv-1")["Reference"] == "PO Spring fair"


def test_the_installation_theme_unless_the_company_chose_its_own(installation, ledger, mocked, api):
    _document_settings(installation, branding_theme=THEME,
                       known_themes={"Standard": THEME, "Special Projects": OTHER_THEME})
    assert _sent(installation, ledger, mocked, api, _invoice())["BrandingThemeID"] == THEME
    chosen = _invoice(fields={COMPANY_THEME: "special projects"})
    assert _sent(installation, ledger, mocked, api, chosen)["BrandingThemeID"] == OTHER_THEME
    unknown = _invoice(fields={COMPANY_THEME: "A theme Xero does not have"})
    assert _sent(installation, ledger, mocked, api, unknown)["BrandingThemeID"] == THEME


def test_the_choices_are_xeros_active_categories_and_options_and_its_themes_default_first(ledger, mocked, api):
    mocked.get(f"{api}/TrackingCategories", json=envelope("TrackingCategories", [
        {"TrackingCategoryID": "tc-1", "Name": "Region", "Status": "ACTIVE", "Options": [
            {"TrackingOptionID": "o-1", "Name": "North", "Status": "ACTIVE"},
            {"TrackingOptionID": "o-2", "Name": "Old town", "Status": "ARCHIVED"}]}]))
    mocked.get(f"{api}/BrandingThemes", json=envelope("BrandingThemes", [
        {"BrandingThemeID": OTHER_THEME, "Name": "Special Projects", "SortOrder": 1},
        {"BrandingThemeID": THEME, "Name": "Standard", "SortOrder": 0}]))
    assert ledger.tracking_categories() == {"Region": ["North"]}
    assert list(ledger.branding_themes().items()) == [("Standard", THEME), ("Special Projects", OTHER_THEME)]
