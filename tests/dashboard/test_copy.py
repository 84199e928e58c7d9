"""The local copy: mapping, incremental refresh by cursor, and the queries the page runs."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from bridge.dashboard import queries
from bridge.dashboard.mapper import bank_transaction_row, payment_row
from bridge.dashboard.models import LedgerTransaction
from bridge.dashboard.refresh import refresh_connection
from bridge.extensions import db
from bridge.models import LedgerConnection


def bt(i: int, kind: str = "RECEIVE", total: str = "10.10", day: int = 1, contact: str = "Globex", status="AUTHORISED"):
    return {"BankTransactionID": f"BT-{i}", "Type": kind, "Total": Decimal(total), "Status": status,
            "Date": f"/Date({int(datetime(2026, 10, day, tzinfo=timezone.utc).timestamp() * 1000)}+0000)/",
            "Contact": {"ContactID": f"C-{contact}", "Name": contact}, "CurrencyCode": "NZD",
            "BankAccount": {"AccountID": "A-090", "Code": "090", "Name": "Business Bank"}, "Reference": f"Ref {i}"}


def test_mapping_direction_and_exact_money():
    assert bank_transaction_row(bt(1, "SPEND-TRANSFER", "12.345"))["direction"] == "out"
    row = bank_transaction_row(bt(1))
    assert (row["direction"], row["amount_e4"], row["date"], row["ledger_id"]) == ("in", 101000, date(2026, 10, 1), "bt-1")
    paid = payment_row({"PaymentID": "P-1", "PaymentType": "ACCRECPAYMENT", "Amount": Decimal("99.99"),
                        "Date": "2026-10-02T00:00:00", "Status": "AUTHORISED",
                        "Invoice": {"InvoiceNumber": "INV-7", "CurrencyCode": "NZD", "Contact": {"Name": "Globex"}},
                        "Account": {"Code": "090"}})
    assert (paid["direction"], paid["document_number"], paid["contact_name"]) == ("in", "INV-7", "Globex")
    assert payment_row({"PaymentID": "P-2", "PaymentType": "ACCPAYPAYMENT", "Amount": 1, "Date": "2026-10-02"})["direction"] == "out"


class FakeClient:
    """Answers like XeroClient's readers, behind the ledger port's ``transactions`` (as
    ``XeroLedger`` does), and remembers the ``since`` it was asked with."""

    def transactions(self, stream, since):
        return {"bank_transactions": self.bank_transactions, "payments": self.payments}[stream](since)

    def __init__(self) -> None:
        self.bank: list[dict] = []
        self.asked: list[tuple[str, datetime | None]] = []

    def bank_transactions(self, since=None, where=None):
        self.asked.append(("bank", since))
        return iter(self.bank)

    def payments(self, since=None, where=None):
        self.asked.append(("payments", since))
        return iter([])


@pytest.fixture
def connection(installation):
    row = LedgerConnection(installation_id=installation.id, ledger="xero", organisation_id="org-1")
    db.session.add(row)
    db.session.commit()
    return row


def test_first_refresh_reads_all_then_only_since_the_cursor_and_updates_in_place(connection):
    client = FakeClient()
    client.bank = [bt(i, day=1 + i % 28) for i in range(1200)]  # more than one page/commit chunk
    before = datetime.now(timezone.utc)
    refresh_connection(connection, client)
    assert client.asked == [("bank", None), ("payments", None)]
    assert db.session.query(LedgerTransaction).count() == 1200

    client.asked.clear()
    client.bank = [bt(3, status="DELETED")]
    refresh_connection(connection, client)
    (_, since), _ = client.asked
    assert since is not None and since < before  # re-reads a short overlap, never everything
    assert db.session.query(LedgerTransaction).count() == 1200
    assert db.session.query(LedgerTransaction).filter_by(ledger_id="bt-3").one().status == "DELETED"


def test_filters_paging_and_exact_totals(connection):
    client = FakeClient()
    client.bank = [bt(i, "RECEIVE" if i % 3 else "SPEND", "0.10", day=1 + i % 20, contact="Globex" if i % 2 else "Initech")
                   for i in range(120)]
    refresh_connection(connection, client)
    everything = queries.run(connection.id, queries.parse_filters({}))
    assert (everything.count, everything.pages, len(everything.rows)) == (120, 3, 50)
    (totals,) = everything.totals
    assert (totals.money_in, totals.money_out) == (Decimal("8.00"), Decimal("4.00"))  # exact: 80 x 0.10, 40 x 0.10
    assert everything.rows[0].date >= everything.rows[-1].date
    globex = queries.run(connection.id, queries.parse_filters({"contact": "glob", "page": "2"}))
    assert (globex.count, globex.page, len(globex.rows)) == (60, 2, 10)
    early = queries.run(connection.id, queries.parse_filters({"date_from": "2026-10-01", "date_to": "2026-10-05"}))
    assert early.count == sum(1 for i in range(120) if 1 + i % 20 <= 5)
    assert queries.run(connection.id, queries.parse_filters({"account": "091"})).count == 0
    beyond = queries.run(connection.id, queries.parse_filters({"page": "99"}))
    assert beyond.page == 3  # a page past the end shows the last one


def test_bad_filters_are_messages_not_errors():
    parsed = queries.parse_filters({"date_from": "2026-13-01", "date_to": "2026-01-01", "status": "nope", "kind": "x"})
    assert set(parsed.errors) == {"date_from", "status", "kind"}
    reversed_range = queries.parse_filters({"date_from": "2026-02-01", "date_to": "2026-01-01"})
    assert "date_to" in reversed_range.errors


def test_periods_are_days_weeks_or_months_and_keep_empty_ones():
    daily = {date(2026, 10, 1): (Decimal("5"), Decimal("1")), date(2026, 10, 3): (Decimal("2"), Decimal("0"))}
    days = queries.periods(daily, None, None)
    assert [p["in"] for p in days] == [Decimal("5"), Decimal("0"), Decimal("2")]
    months = queries.periods(daily, date(2026, 1, 1), date(2026, 12, 31))
    assert len(months) == 12 and months[9]["in"] == Decimal("7")
    weeks = queries.periods(daily, date(2026, 9, 1), date(2026, 11, 30))
    assert sum(p["out"] for p in weeks) == Decimal("1") and len(weeks) == 14


def test_period_labels_are_in_the_viewers_language():
    daily = {date(2026, 3, 2): (Decimal("5"), Decimal("1"))}
    assert [p["label"] for p in queries.periods(daily, date(2026, 3, 1), date(2026, 3, 3))] == [
        "Mar 1", "Mar 2", "Mar 3"]
    assert [p["label"] for p in queries.periods(daily, date(2026, 3, 1), date(2026, 3, 3), locale="de")] == [
        "1. März", "2. März", "3. März"]
    months = queries.periods(daily, date(2026, 1, 1), date(2026, 12, 31), locale="de")
    assert months[2]["label"] == "März 2026" and months[10]["label"] == "Nov. 2026"
