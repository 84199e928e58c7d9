"""The reconciliation report with in-memory ports: each kind of difference, and the stored
run that keeps them (open, fixed, ignored) and reads only what changed."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from bridge.domain import InvoiceStatus
from bridge.extensions import db
from bridge.messages import render
from bridge.models import Intent, Link, utcnow
from bridge.report_models import ReportRow, ReportRun
from bridge.errors import PermanentError
from bridge.sync.links import bind, find_link
from bridge.sync.report_actions import act
from bridge.sync.reconciliation import scan
from bridge.sync.report_run import open_count, start
from tests.sync.fakes import sample_invoice

TOTAL = Decimal("276.00")  # 2 x 120.00 + 15 % tax


@pytest.fixture
def world(fake_world):
    installation, platform, ledger = fake_world
    installation.created_at = datetime(2026, 10, 1, tzinfo=timezone.utc)  # before the sample invoices
    db.session.commit()
    # The fake ledger keeps no totals: give each document the platform invoice's, in step.
    plain = ledger._document

    def document(ledger_id):
        stored = ledger.invoices[ledger_id]
        return replace(plain(ledger_id), total=stored.get("total", TOTAL), currency=stored.get("currency", "NZD"),
                       settlements=stored.get("settlements", ()))
    ledger._document = document
    booked = ledger.record_payment
    ledger.payment_keys = []

    def record_payment(document, payment, key):
        ledger.payment_keys.append(key)
        return booked(document, payment, key)
    ledger.record_payment = record_payment
    return installation, platform, ledger


def linked(installation, platform, ledger, platform_id="7", ledger_id="I1", status=InvoiceStatus.AUTHORISED):
    platform.invoices[platform_id] = sample_invoice(platform_id)
    ledger.invoices[ledger_id] = {"doc": {"Url": ""}, "status": status, "number": f"INV-{ledger_id}",
                                  "invoice": sample_invoice(platform_id)}
    bind(installation.id, installation.ledger_connections[0], "invoice", platform_id, ledger_id=ledger_id,
         ledger_number=f"INV-{ledger_id}")
    db.session.commit()


def kinds(world_):
    installation, platform, ledger = world_
    return sorted((d.kind, d.platform_id, d.ledger_id) for d in scan(installation, platform, ledger).differences)


def test_linked_invoices_in_step_make_no_row(world):
    linked(*world)
    assert kinds(world) == []


def test_an_invoice_with_its_sync_box_on_and_no_ledger_twin_is_missing_in_the_ledger(world):
    installation, platform, ledger = world
    platform.invoices["8"] = sample_invoice("8")
    platform.invoices["9"] = sample_invoice("9", sync=False)  # the user keeps this one out
    # Dated before bridge was installed: the backfill's, if the user wants it, not missing.
    platform.invoices["10"] = replace(sample_invoice("10"), issue_date=installation.created_at.date() - timedelta(days=1))
    assert kinds(world) == [("missing_in_ledger", "8", "")]


def test_a_ledger_invoice_we_made_with_no_platform_twin_is_missing_on_the_platform(world):
    installation, platform, ledger = world
    for ledger_id in ("I5", "I6"):
        ledger.invoices[ledger_id] = {"doc": {"Url": ""}, "status": InvoiceStatus.AUTHORISED,
                                      "number": f"INV-{ledger_id}", "invoice": sample_invoice("5")}
    # Our create of I5 (its intent row); I6 was typed in the ledger by a person: not ours.
    db.session.add(Intent(installation_id=installation.id, ledger="fakeledger", kind="invoice", platform_id="5",
                          idempotency_key="k", outcome="created", ledger_id="I5"))
    db.session.commit()
    assert kinds(world) == [("missing_on_platform", "", "I5")]


def test_a_total_changed_in_the_ledger_is_an_amounts_row(world):
    installation, platform, ledger = world
    linked(*world)
    ledger.invoices["I1"]["total"] = Decimal("300.00")
    found = scan(installation, platform, ledger).differences
    assert [(d.kind, d.actions) for d in found] == [("amounts", ["sync_again", "accept_ledger"])]


def test_payments_known_on_one_side_only(world):
    installation, platform, ledger = world
    linked(*world, status=InvoiceStatus.PAID)  # paid in the ledger, not followed here
    linked(installation, platform, ledger, "8", "I2")
    platform.invoices["8"] = replace(platform.invoices["8"], status=InvoiceStatus.PAID)  # paid here only
    assert kinds(world) == [("payments", "7", "I1"), ("payments", "8", "I2")]


def test_an_invoice_gone_on_one_side(world):
    installation, platform, ledger = world
    linked(*world)
    linked(installation, platform, ledger, "8", "I2")
    del platform.invoices["7"]
    del ledger.invoices["I2"]
    assert kinds(world) == [("gone_in_ledger", "8", "I2"), ("gone_on_platform", "7", "I1")]


def test_the_run_keeps_rows_marks_them_fixed_and_an_ignored_row_stays_ignored(world, run_jobs):
    installation, platform, ledger = world
    linked(*world)
    platform.invoices["8"] = sample_invoice("8")
    ledger.invoices["I1"]["total"] = Decimal("300.00")
    start(installation.id)
    run_jobs()
    run = db.session.scalar(select(ReportRun))
    assert (run.state, run.found) == ("finished", 2) and open_count(installation.id) == 2
    amounts = db.session.scalar(select(ReportRow).where(ReportRow.kind == "amounts"))
    amounts.state = "ignored"
    db.session.commit()
    platform.invoices["8"] = sample_invoice("8", sync=False)  # now kept out on purpose
    platform.invoices["8"].updated_at = utcnow()
    start(installation.id)
    run_jobs()
    states = dict(db.session.execute(select(ReportRow.kind, ReportRow.state)).all())
    assert states == {"amounts": "ignored", "missing_in_ledger": "fixed"}
    assert open_count(installation.id) == 0
    second = db.session.scalar(select(ReportRun).order_by(ReportRun.id.desc()))
    assert second.since is not None and second.fixed == 1  # it read what changed since the first


def row_of(installation, kind, platform_id="", ledger_id="", actions=()):
    row = ReportRow(installation_id=installation.id, kind=kind, platform_id=platform_id, ledger_id=ledger_id,
                    actions=list(actions))
    db.session.add(row)
    db.session.commit()
    return row


def test_link_to_this_one_links_the_twin_named_and_refuses_one_that_is_not_there(world):
    installation, platform, ledger = world
    platform.invoices["8"] = sample_invoice("8")
    ledger.invoices["I9"] = {"doc": {"Url": ""}, "status": InvoiceStatus.AUTHORISED, "number": "INV-I9",
                             "invoice": sample_invoice("8")}
    row = row_of(installation, "missing_in_ledger", platform_id="8", actions=["sync_again", "link_other", "ignore"])
    with pytest.raises(PermanentError, match="No invoice I404 was found"):
        act(installation, row, "link_other", "I404")
    assert find_link(installation.id, "invoice", "8") is None and row.state == "open"
    act(installation, row, "link_other", " I9 ")
    link = find_link(installation.id, "invoice", "8")
    assert (link.ledger_id, link.ledger_number, row.state) == ("I9", "INV-I9", "fixed")
    assert ledger.writes == [] and platform.references == {}  # nothing written to either side
    assert kinds(world) == []


def test_accept_the_ledgers_version_copies_it_to_the_platform_invoice(world):
    installation, platform, ledger = world
    linked(*world)
    ledger.invoices["I1"]["invoice"] = sample_invoice("7", qty="3")  # edited in the ledger
    ledger.invoices["I1"]["total"] = Decimal("414.00")
    row = row_of(installation, "amounts", "7", "I1", ["sync_again", "accept_ledger"])
    act(installation, row, "accept_ledger")
    assert platform.invoices["7"].lines[0].quantity == Decimal("3") and row.state == "fixed"
    assert ledger.writes == []
    assert kinds(world) == []  # in step now


def test_an_action_the_row_does_not_offer_is_refused(world):
    installation, platform, ledger = world
    row = row_of(installation, "gone_on_platform", "7", "I1", ["ignore"])
    with pytest.raises(PermanentError):
        act(installation, row, "accept_ledger")
    assert row.state == "open"


# -- payment by payment ---------------------------------------------------------------------

def _notes(platform):
    """A platform that shows payments as notes under the invoice (as Bitrix24's timeline)."""
    platform.takes_invoice_notes = True
    platform.notes = []

    def add(platform_id, text):
        platform.notes.append((platform_id, text))
        return str(len(platform.notes))
    platform.add_invoice_note = add
    platform.find_invoice_note = lambda platform_id, marker: next(
        (str(n + 1) for n, (pid, text) in enumerate(platform.notes) if pid == platform_id and marker in text), None)
    return platform.notes


def _paid_in_ledger(ledger, ledger_id, *payments):
    from bridge.ports import Settlement
    stored = ledger.invoices[ledger_id]
    stored["settlements"] = tuple(Settlement("payment", pid, Decimal(amount), date.fromisoformat(on))
                                  for pid, amount, on in payments)
    stored["paid"] = sum((Decimal(a) for _, a, _ in payments), Decimal(0))
    stored["status"] = InvoiceStatus.PARTIALLY_PAID


def _rows(world_, kind):
    installation, platform, ledger = world_
    return [(d.ledger_id, render(d.what, "en"), d.actions) for d in scan(installation, platform, ledger).differences
            if d.kind == kind]


def test_a_ledger_part_payment_not_shown_here_is_a_row_whose_fix_notes_it_once(world):
    installation, platform, ledger = world
    notes = _notes(platform)
    linked(*world)
    _paid_in_ledger(ledger, "I1", ("P0", "10.00", "2026-09-30"))  # paid before bridge was installed
    assert _rows(world, "payment_not_shown") == []  # never bridge's to show
    _paid_in_ledger(ledger, "I1", ("P1", "40.00", "2026-12-01"), ("P2", "60.00", "2026-12-02"))
    from bridge.sync.invoice_payments import note_settlements
    note_settlements(installation, platform, find_link(installation.id, "invoice", "7"),
                     ledger._document("I1"))  # both noted, as the webhook did
    assert _rows(world, "payment_not_shown") == []
    notes.clear()
    db.session.execute(Link.__table__.delete().where(Link.kind == "settlement", Link.ledger_id == "P2"))
    db.session.commit()  # the second payment's note never happened (its webhook was lost)
    assert _rows(world, "payment_not_shown") == [
        ("I1#payment:P2", "Paid 60.00 NZD in Fakeledger on 2026-12-02, not shown in Fakeplatform.",
         ["note_payment", "ignore"])]
    row = row_of(installation, "payment_not_shown", "7", "I1#payment:P2", ["note_payment", "ignore"])
    act(installation, row, "note_payment")
    assert [text.endswith("[P2]") for _, text in notes] == [True] and row.state == "fixed"
    assert _rows(world, "payment_not_shown") == []
    note_settlements(installation, platform, find_link(installation.id, "invoice", "7"), ledger._document("I1"))
    assert len(notes) == 1  # the webhook arriving late writes no second note


def test_a_payment_on_the_platform_not_in_the_ledger_is_a_row_whose_fix_books_it_once(world):
    from bridge.domain import Payment
    installation, platform, ledger = world
    linked(*world)
    linked(installation, platform, ledger, "8", "I2")
    paid = [Payment(Decimal("40.00"), date(2026, 12, 1), "NZD"), Payment(Decimal("20.00"), date(2026, 12, 3), "NZD")]
    for platform_id in ("7", "8"):
        platform.invoices[platform_id] = replace(platform.invoices[platform_id], payments=list(paid))
    _paid_in_ledger(ledger, "I2", ("P9", "40.00", "2026-12-01"), ("P10", "20.00", "2026-12-04"))  # in step
    _paid_in_ledger(ledger, "I1", ("P1", "20.00", "2026-12-03"))  # the first part payment, 40.00, is missing
    assert _rows(world, "payment_not_in_ledger") == [
        ("I1#platform_payment:0", "Paid 40.00 NZD in Fakeplatform on 2026-12-01, not in Fakeledger.",
         ["book_payment", "ignore"])]
    platform.invoices["7"] = replace(platform.invoices["7"], status=InvoiceStatus.PAID)  # paid here in full
    assert [d.kind for d in scan(installation, platform, ledger).differences if d.platform_id == "7"] == [
        "payment_not_in_ledger"]  # one row, with the amount: no second "paid here, not in the ledger"
    row = row_of(installation, "payment_not_in_ledger", "7", "I1#platform_payment:0", ["book_payment", "ignore"])
    act(installation, row, "book_payment")
    assert ledger.writes == ["payment:I1:40.00"] and row.state == "fixed"
    assert ledger.payment_keys == [f"bridge-{installation.id}-payment-7-0"]  # the follow-up step's key


def test_a_payment_row_of_a_run_is_rechecked_through_its_invoice(world, run_jobs):
    installation, platform, ledger = world
    _notes(platform)
    linked(*world)
    _paid_in_ledger(ledger, "I1", ("P1", "40.00", "2026-12-01"))
    start(installation.id)
    run_jobs()
    row = db.session.scalar(select(ReportRow).where(ReportRow.kind == "payment_not_shown"))
    assert (row.ledger_id, row.state) == ("I1#payment:P1", "open")
    by_id = ledger.get_invoices

    def get_invoices(ids):  # as Xero: an id that is no invoice's is refused
        assert all("#" not in i for i in ids), ids
        return by_id(ids)
    ledger.get_invoices = get_invoices
    from bridge.sync.invoice_payments import note_settlements
    note_settlements(installation, platform, find_link(installation.id, "invoice", "7"), ledger._document("I1"))
    db.session.commit()
    start(installation.id)
    run_jobs()
    db.session.refresh(row)
    assert row.state == "fixed" and open_count(installation.id) == 0
