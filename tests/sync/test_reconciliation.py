"""The reconciliation report with in-memory ports: each kind of difference, and the stored
run that keeps them (open, fixed, ignored) and reads only what changed."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from bridge.domain import InvoiceStatus
from bridge.extensions import db
from bridge.models import Intent, utcnow
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
        return replace(plain(ledger_id), total=stored.get("total", TOTAL), currency=stored.get("currency", "NZD"))
    ledger._document = document
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
