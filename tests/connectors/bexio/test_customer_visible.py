"""Nothing internal on the customer's Bexio invoice (DESIGN principle 9, issue 16 (h)).

Bexio prints title, header, footer, reference and the positions' texts on the document;
``api_reference`` is readable and writable by the API only (specs/bexio/NOTES.md section 5)
and carries bridge's key, as the ledger's lookup before every create needs it."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from bridge.connectors.bexio import mapper
from bridge.domain import Invoice, Line, Party, PartyKind

REFS = mapper.InvoiceRefs(contact_id=5, user_id=101, language_id=1, currency_id=1, language="de",
                          default_account_id=113)
PRINTED = ("title", "header", "footer", "reference")


def _printed(body: dict) -> list[str]:
    return [str(body.get(k) or "") for k in PRINTED] + [str(p.get("text") or "") for p in body["positions"]]


def test_the_key_goes_only_into_api_reference_never_into_a_printed_field():
    for key, number, reference in (("dg1:t1:site-a:1042", "1042", "1042"),
                                   ("b24:a1b2c3d4e5:SI:77", "B24-77", "Order for the spring fair")):
        party = Party(key=key.rsplit(":", 1)[0] + ":CO:3", kind=PartyKind.COMPANY, name="Muster AG")
        invoice = Invoice(key=key, number=number, issue_date=date(2026, 3, 1), currency="CHF", party=party,
                          reference=reference, lines=[Line("Velohelm", Decimal(1), Decimal("89.90"),
                                                           ledger_tax_code="7")])
        body = mapper.invoice_to_kb(invoice, REFS)
        assert body["api_reference"] == key
        internal = (key, key.split(":")[1], "dg1:", "b24:")
        assert [text for text in _printed(body) if any(part in text for part in internal)] == []
        assert body["title"].endswith(number) and body["reference"] == reference
        assert "header" not in body and "footer" not in body  # left to the user's Bexio template


def _shaped(installation, **templates) -> dict:
    """The kb_invoice body of an order, with the document settings ``templates``."""
    from bridge.extensions import db
    from bridge.settings import save_section
    from bridge.sync.shaping import shape

    save_section(installation, "document", templates)
    db.session.commit()
    party = Party(key="dg1:t1:site-a:CO:3", kind=PartyKind.COMPANY, name="Muster AG")
    invoice = Invoice(key="dg1:t1:site-a:1042", number="1042", issue_date=date(2026, 3, 1), currency="CHF",
                      party=party, reference="1042", lines=[Line("Velohelm", Decimal(1), Decimal("89.90"),
                                                                 ledger_tax_code="7")])
    return mapper.invoice_to_kb(shape(installation, invoice), REFS)


def test_title_header_and_footer_come_from_the_users_templates(installation):
    body = _shaped(installation, title_template="Rechnung {number}", header_template="Guten Tag {customer}",
                   footer_template="Zahlbar bis {due_date}. Danke!")
    assert body["title"] == "Rechnung 1042"
    assert body["header"] == "Guten Tag Muster AG"
    assert body["footer"] == "Zahlbar bis . Danke!"  # no due date on this order


def test_without_templates_header_and_footer_stay_bexios(installation):
    """Left out of the body (create and the header edit alike), so a text typed in Bexio stays."""
    body = _shaped(installation)
    assert "header" not in body and "footer" not in body
    assert body["title"] == "Bestellung 1042"
