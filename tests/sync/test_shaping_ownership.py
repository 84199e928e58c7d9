"""What the customer sees stays whose it is (``bridge/sync/shaping.py``): a person's tracking
on ledger lines rides along on our rewrite while no setting owns tracking, on the line it
belongs to; a setting that owns it wins; an invoice field is found however its name is spelt."""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from bridge.domain import Line, LineKind
from bridge.extensions import db
from bridge.settings import save_section
from bridge.sync.shaping import field_value, keep_ledger_tracking
from tests.sync.fakes import sample_invoice


def _line(description: str, tracking=()) -> Line:
    return Line(description=description, quantity=Decimal(1), unit_price=Decimal("10.00"), ledger_tracking=tracking)


def _ledger(*lines: Line):
    return replace(sample_invoice(), lines=list(lines))


NORTH, SOUTH = (("Region", "North"),), (("Region", "South"),)


def test_a_persons_tracking_follows_its_line_not_its_place(fake_world):
    installation, _, _ = fake_world
    ledger = _ledger(_line("Setup", NORTH), _line("Workshop", SOUTH))
    ours = replace(sample_invoice(), lines=[_line("Workshop"), _line("Travel"),
                                            replace(_line("Note"), kind=LineKind.TEXT)])
    kept = keep_ledger_tracking(installation, ours, ledger)
    # "Setup" was removed on the platform: "Workshop" keeps its own South, not Setup's North;
    # the new "Travel" takes the free line at its place; a text line never carries tracking.
    assert [line.ledger_tracking for line in kept.lines] == [SOUTH, (), ()]


def test_a_text_line_never_carries_tracking(fake_world):
    installation, _, _ = fake_world
    ours = replace(sample_invoice(), lines=[replace(_line("Note"), kind=LineKind.TEXT), _line("Workshop")])
    kept = keep_ledger_tracking(installation, ours, _ledger(_line("Setup", NORTH), _line("Workshop", SOUTH)))
    assert [line.ledger_tracking for line in kept.lines] == [(), SOUTH]


def test_a_line_at_the_same_place_keeps_its_tracking_when_its_text_changed(fake_world):
    installation, _, _ = fake_world
    kept = keep_ledger_tracking(installation, replace(sample_invoice(), lines=[_line("Workshop (2 days)")]),
                                _ledger(_line("Workshop", NORTH)))
    assert [line.ledger_tracking for line in kept.lines] == [NORTH]


def test_once_a_setting_owns_tracking_the_ledgers_is_not_carried(fake_world):
    installation, _, _ = fake_world
    save_section(installation, "document", {"tracking_category": "Region", "tracking_source": "section",
                                            "tracking_options": {"14": "North"}})
    db.session.commit()
    kept = keep_ledger_tracking(installation, replace(sample_invoice(), lines=[_line("Workshop")]),
                                _ledger(_line("Workshop", SOUTH)))
    assert [line.ledger_tracking for line in kept.lines] == [()]


def test_an_invoice_field_is_found_however_its_name_is_spelt():
    fields = {"ufCrmSmartInvoiceRegion": "S", "title": "Spring fair"}
    assert field_value(fields, "UF_CRM_SMART_INVOICE_REGION") == "S"
    assert field_value(fields, " ufCrmSmartInvoiceRegion ") == "S"
    assert field_value(fields, "UF_CRM_SMART_INVOICE_COUNTRY") == ""
