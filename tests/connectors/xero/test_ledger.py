"""XeroLedger's business rules against mocked HTTP: contact identity and invoice statuses."""
import json
from datetime import date
from decimal import Decimal

import pytest
import responses

from bridge.domain import Invoice, InvoiceStatus, Line, Party, PartyKind, Payment
from bridge.errors import ConflictError, PermanentError
from bridge.ports import InvoiceWrite, LedgerDocument, PartyMatch

from .conftest import envelope

KEY = "b24:member1:CO:12"


def party(**kwargs) -> Party:
    values = {"key": KEY, "kind": PartyKind.COMPANY, "name": "Acme Ltd", "email": "ap@acme.test"}
    values.update(kwargs)
    return Party(**values)


def contacts_api(mocked, api, *, by_path=None, by_email=(), by_name=None):
    """GET /Contacts/{x} answers from ``by_path``; where=EmailAddress/Name answers from the lists."""
    def path(request):
        wanted = request.path_url.split("/Contacts/")[1].split("?")[0]
        from urllib.parse import unquote
        found = (by_path or {}).get(unquote(wanted))
        if found is None:
            return 404, {}, "The resource you're looking for cannot be found"
        return 200, {}, json.dumps(envelope("Contacts", [found]))

    def where(request):
        clause = request.params.get("where", "")
        if clause.startswith("EmailAddress=="):
            items = list(by_email)
        else:
            name = json.loads(clause.split("==", 1)[1])
            items = list((by_name or {}).get(name, []))
        return 200, {}, json.dumps(envelope("Contacts", items))

    import re
    mocked.add_callback(responses.GET, re.compile(re.escape(f"{api}/Contacts/") + ".+"), callback=path)
    mocked.add_callback(responses.GET, f"{api}/Contacts", callback=where)


def test_linked_contact_wins(ledger, mocked, api):
    contacts_api(mocked, api, by_path={"c-linked": {"ContactID": "c-linked", "Name": "Acme"}})
    assert ledger.match_party(party(), "c-linked") == PartyMatch("c-linked", "Acme Ltd", "link")


def test_contact_number_finds_what_an_interrupted_sync_created(ledger, mocked, api):
    contacts_api(mocked, api, by_path={KEY: {"ContactID": "c-ours", "Name": "Acme Ltd", "ContactNumber": KEY}})
    match = ledger.match_party(party(), "c-deleted-meanwhile")
    assert (match.ledger_id, match.matched_by) == ("c-ours", "external_key")


def test_email_match_never_takes_a_contact_keyed_to_another_record(ledger, mocked, api):
    # The Bitrix24 contact 12 shares the company's e-mail: company 12 must not take it.
    other = {"ContactID": "c-person", "Name": "Ann Doe", "EmailAddress": "AP@acme.test",
             "ContactNumber": "b24:member1:C:12"}
    manual = {"ContactID": "c-manual", "Name": "Acme Limited", "EmailAddress": "ap@acme.test"}
    contacts_api(mocked, api, by_email=[other, manual])
    match = ledger.match_party(party(), None)
    assert (match.ledger_id, match.matched_by) == ("c-manual", "email")


def test_same_name_with_no_email_is_the_same_customer(ledger, mocked, api):
    contacts_api(mocked, api, by_name={"Acme Ltd": [{"ContactID": "c-name", "Name": "Acme Ltd",
                                                     "ContactStatus": "ACTIVE"}]})
    match = ledger.match_party(party(), None)
    assert (match.ledger_id, match.matched_by, match.warning) == ("c-name", "name", None)


def test_same_name_with_a_different_email_gets_a_distinct_name_and_a_warning(ledger, mocked, api):
    someone_else = {"ContactID": "c-other", "Name": "Acme Ltd", "EmailAddress": "boss@other.test",
                    "ContactStatus": "ACTIVE"}
    contacts_api(mocked, api, by_name={"Acme Ltd": [someone_else]})
    match = ledger.match_party(party(), None)
    assert match.ledger_id is None  # never someone else's contact
    assert match.name == "Acme Ltd (ap@acme.test)"
    assert "Acme Ltd" in match.warning and "Acme Ltd (ap@acme.test)" in match.warning

    created = {"ContactID": "c-new", "Name": match.name, "ContactNumber": KEY, "StatusAttributeString": "OK"}
    mocked.put(f"{api}/Contacts", json=envelope("Contacts", [created]))
    result = ledger.save_party(party(), match, "party-key-1")
    assert result.ok and result.ledger_id == "c-new" and result.warnings[0] == match.warning
    sent = json.loads(mocked.calls[-1].request.body)["Contacts"][0]
    assert sent["Name"] == "Acme Ltd (ap@acme.test)" and sent["ContactNumber"] == KEY
    assert mocked.calls[-1].request.headers["Idempotency-Key"] == "party-key-1"


def test_a_create_and_the_update_of_what_it_made_never_share_an_idempotency_key(ledger, mocked, api):
    """A worker that dies after Xero created the contact leaves its retry the same flow key;
    the retry finds the contact and updates it. Xero refuses a key used before with another
    request, so the update must go under a key of its own (single and batched alike)."""
    made = {"ContactID": "c-new", "Name": "Acme Ltd", "ContactNumber": KEY, "StatusAttributeString": "OK"}
    mocked.put(f"{api}/Contacts", json=envelope("Contacts", [made]))
    mocked.post(f"{api}/Contacts", json=envelope("Contacts", [made]))
    assert ledger.save_party(party(), PartyMatch(None, "Acme Ltd"), "party-key-1").ok
    assert ledger.save_party(party(), PartyMatch("c-new", "Acme Ltd", "external_key"), "party-key-1").ok
    assert ledger.save_parties([(party(), PartyMatch("c-new", "Acme Ltd", "external_key"), "party-key-1")])[0].ok
    put, post, batched_post = (call.request for call in mocked.calls[-3:])
    assert (put.method, post.method, batched_post.method) == ("PUT", "POST", "POST")
    assert put.headers["Idempotency-Key"] == "party-key-1"
    assert post.headers["Idempotency-Key"] != "party-key-1"
    assert batched_post.headers["Idempotency-Key"] == post.headers["Idempotency-Key"]  # the same request again


def test_a_name_taken_by_another_of_our_records_is_also_disambiguated(ledger, mocked, api):
    ours_other = {"ContactID": "c-p", "Name": "Acme Ltd", "ContactNumber": "b24:member1:C:12", "ContactStatus": "ACTIVE"}
    contacts_api(mocked, api, by_name={"Acme Ltd": [ours_other]})
    match = ledger.match_party(party(email=""), None)
    assert match.ledger_id is None and match.name == "Acme Ltd (2)" and match.warning
    assert KEY not in match.name  # the name is printed on the customer's invoice


def test_save_invoices_puts_creates_and_posts_updates_each_with_its_own_result(ledger, mocked, api):
    def inv(number: str) -> Invoice:
        return Invoice(key=f"b24:m:INV:{number}", number=number, issue_date=date(2026, 3, 1), currency="NZD",
                       party=party(), lines=[Line("Widget", Decimal(1), Decimal("10.00"), ledger_account_code="200")])

    mocked.put(f"{api}/Invoices", json=envelope("Invoices", [
        {"InvoiceID": "new-1", "InvoiceNumber": "A1", "Status": "DRAFT", "StatusAttributeString": "OK"},
        {"InvoiceID": "00000000-0000-0000-0000-000000000000", "InvoiceNumber": "A2",
         "StatusAttributeString": "ERROR", "ValidationErrors": [{"Message": "Invoice # must be unique."}]}]))
    mocked.post(f"{api}/Invoices", json=envelope("Invoices", [
        {"InvoiceID": "old-1", "InvoiceNumber": "A3", "Status": "DRAFT", "StatusAttributeString": "WARNING",
         "Warnings": [{"Message": "Only the first 4 decimals are kept"}]}]))
    writes = [InvoiceWrite(inv("A1"), "c-1", None, "k1"), InvoiceWrite(inv("A3"), "c-1", "old-1", "k3", ["l-1"]),
              InvoiceWrite(inv("A2"), "c-1", None, "k2")]
    created, updated, duplicate = ledger.save_invoices(writes)
    assert created.ok and created.ledger_id == "new-1" and created.status == InvoiceStatus.DRAFT
    assert updated.ok and updated.warnings == ["Only the first 4 decimals are kept"]
    assert not duplicate.ok and duplicate.error.code == "already_exists"
    assert duplicate.error.ledger_messages == ["Invoice # must be unique."]
    put, post = mocked.calls[0].request, mocked.calls[1].request
    assert [e["InvoiceNumber"] for e in json.loads(put.body)["Invoices"]] == ["A1", "A2"]
    assert json.loads(post.body)["Invoices"][0]["LineItems"][0]["LineItemID"] == "l-1"
    assert put.headers["Idempotency-Key"] != post.headers["Idempotency-Key"]
    assert duplicate.sent["body"]["LineItems"][0]["UnitAmount"] == "10.00"


def _current(mocked, api, **fields):
    invoice = {"InvoiceID": "inv-1", "InvoiceNumber": "INV-1", "Type": "ACCREC", "AmountPaid": 0,
               "UpdatedDateUTC": "/Date(1700000000000+0000)/", "LineItems": [], **fields}
    mocked.get(f"{api}/Invoices", json=envelope("Invoices", [invoice]))


DOC = LedgerDocument(ledger_id="inv-1", number="INV-1", status=InvoiceStatus.DRAFT)


def test_cancel_deletes_a_draft_by_posting_the_status(ledger, mocked, api):
    _current(mocked, api, Status="DRAFT")
    mocked.post(f"{api}/Invoices/inv-1", json=envelope("Invoices", [
        {"InvoiceID": "inv-1", "Status": "DELETED", "StatusAttributeString": "OK"}]))
    result = ledger.cancel_invoice(DOC, void_allowed=False)
    assert result.ok and result.status == InvoiceStatus.DELETED
    assert json.loads(mocked.calls[-1].request.body) == {"Invoices": [{"InvoiceID": "inv-1", "Status": "DELETED"}]}


def test_cancel_voids_an_approved_invoice_only_when_allowed_and_unpaid(ledger, mocked, api):
    _current(mocked, api, Status="AUTHORISED")
    with pytest.raises(ConflictError) as refused:
        ledger.cancel_invoice(DOC, void_allowed=False)
    assert refused.value.code == "void_not_allowed"
    mocked.replace("GET", f"{api}/Invoices", json=envelope("Invoices", [
        {"InvoiceID": "inv-1", "Status": "AUTHORISED", "AmountPaid": 5.0, "LineItems": []}]))
    with pytest.raises(ConflictError) as paid:
        ledger.cancel_invoice(DOC, void_allowed=True)
    assert paid.value.code == "has_payments" and "Remove the payments" in paid.value.fix
    assert not [c for c in mocked.calls if c.request.method == "POST"]


def test_issue_and_send_and_pay(ledger, mocked, api):
    _current(mocked, api, Status="DRAFT")
    mocked.post(f"{api}/Invoices/inv-1", json=envelope("Invoices", [
        {"InvoiceID": "inv-1", "Status": "AUTHORISED", "StatusAttributeString": "OK"}]))
    issued = ledger.issue_invoice(DOC)
    assert issued.ok and issued.status == InvoiceStatus.AUTHORISED

    mocked.post(f"{api}/Invoices/inv-1/Email", status=204)
    approved = LedgerDocument(ledger_id="inv-1", number="INV-1", status=InvoiceStatus.AUTHORISED)
    assert ledger.send_invoice(approved).ok
    assert not ledger.send_invoice(DOC).ok  # a draft is never e-mailed

    no_account = ledger.record_payment(approved, Payment(Decimal("5"), date(2026, 3, 2), "NZD"), "pay-1")
    assert not no_account.ok and "bank account" in no_account.error.fix
    mocked.put(f"{api}/Payments", json=envelope("Payments", [{"PaymentID": "p-1", "StatusAttributeString": "OK"}]))
    paid = ledger.record_payment(approved, Payment(Decimal("5.10"), date(2026, 3, 2), "NZD",
                                                   ledger_account_code="090"), "pay-2")
    assert paid.ok and paid.ledger_id == "p-1"
    assert b'"Amount":5.10' in mocked.calls[-1].request.body


def test_products_are_not_supported(ledger):
    with pytest.raises(PermanentError, match="not supported by Xero"):
        ledger.save_products([], "k")


# -- contacts bridge's links give to another customer (issue 16, finding 2) ----------------

from .test_bulk_index import Contacts, bulk, clock, contact  # noqa: E402,F401  (helpers and fixtures)

BRUCE = Party(key="b24:member1:CT:5", kind=PartyKind.PERSON, name="Bruce Wayne", first_name="Bruce",
              last_name="Wayne", email="bruce@wayne.test")


class Claimed:
    """The flow's claims, as ``PartyClaims`` gives them: contact id -> the customer linked to it."""

    def __init__(self, owners: dict[str, str]) -> None:
        self.owners, self.loads = owners, []

    def load(self, ledger_ids):
        self.loads.append(sorted(ledger_ids))

    def taken(self, party_key, ledger_id):
        return self.owners.get(ledger_id, party_key) != party_key

    def unsure(self, party_key):
        return True


def test_a_contact_linked_to_another_customer_is_never_taken_by_email_or_name(ledger, mocked, api):
    """An imported company's contact carries no ContactNumber: only bridge's link says it is
    the company's. Its person, invoiced alone with the same e-mail, gets a contact of its own."""
    company = {"ContactID": "c-company", "Name": "Wayne Enterprises", "EmailAddress": "bruce@wayne.test",
               "ContactStatus": "ACTIVE"}
    namesake = {"ContactID": "c-namesake", "Name": "Bruce Wayne", "ContactStatus": "ACTIVE"}
    contacts_api(mocked, api, by_email=[company], by_name={"Bruce Wayne": [namesake]})
    assert ledger.match_party(BRUCE, None).ledger_id == "c-company"  # what happened before: a rename followed
    claims = Claimed({"c-company": "b24:member1:CO:9", "c-namesake": "b24:member1:CT:7"})
    match = ledger.match_party(BRUCE, None, claims)
    assert match.ledger_id is None and match.name == "Bruce Wayne (bruce@wayne.test)" and match.warning


def test_the_batch_lookup_never_takes_a_contact_linked_to_another_customer_either(bulk, mocked, api):
    Contacts(mocked, api, [contact("c-company", "Wayne Enterprises", email="bruce@wayne.test")])
    claims = Claimed({"c-company": "b24:member1:CO:9"})
    (match,) = bulk.match_parties([(BRUCE, None)], claims)
    assert match == PartyMatch(None, "Bruce Wayne")
    assert claims.loads[0] == ["c-company"]  # the batch's candidates asked about at once
    assert bulk.match_parties([(BRUCE, None)])[0].ledger_id == "c-company"  # without claims: the company's
