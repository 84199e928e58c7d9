"""The ports' defaults, which every adapter without a batch form of its own runs: a bulk
method is the single one in a loop (so flows call the bulk form only, one path for one
invoice or fifty), an optional capability says "none" or does nothing, and the flows'
list names every flow the engine runs from bridge/sync."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from bridge import sync
from bridge.domain import Invoice, InvoiceStatus, Party, PartyKind
from bridge.engine.registry import FLOWS as ENGINE_FLOWS
from bridge.errors import RetryableError
from bridge.ports import (UNCHANGED, InvoiceLookup, Ledger, LedgerDocument, PartyMatch, Platform, WriteResult,
                          ledger_class, ledger_name, platform_class)


def party(n: int) -> Party:
    return Party(key=f"p:{n}", kind=PartyKind.COMPANY, name=f"Customer {n}")


def invoice(n: int) -> Invoice:
    return Invoice(key=f"i:{n}", number=f"N{n}", issue_date=date(2026, 12, 1), currency="CHF", party=party(n),
                   lines=[])


class OneByOneLedger(Ledger):
    def __init__(self) -> None:
        self.asked: list[str] = []

    def match_party(self, party, linked_ledger_id, claims=None):
        self.asked.append(f"match {party.key} {linked_ledger_id}")
        return PartyMatch(linked_ledger_id, party.name)

    def save_party(self, party, match, idempotency_key):
        self.asked.append(f"save {party.key} {idempotency_key}")
        return WriteResult(ok=True, ledger_id=f"L-{party.key}")

    def find_invoice(self, invoice, lookup=None):
        self.asked.append(f"find {invoice.key} {lookup.contact_id if lookup else None}")
        return None


class OneByOnePlatform(Platform):
    def __init__(self) -> None:
        self.shown: list[str] = []

    def get_invoices(self, platform_ids):
        return {pid: invoice(int(pid)) for pid in platform_ids}

    def set_ledger_reference(self, platform_id, document):
        if platform_id == "2":
            raise RetryableError("The platform did not answer.", code="timeout")
        self.shown.append(f"{platform_id}={document.ledger_id}")


def test_a_ledger_without_batch_forms_answers_them_one_by_one_in_order():
    ledger = OneByOneLedger()
    matches = ledger.match_parties([(party(1), None), (party(2), "L-2")])
    assert [m.ledger_id for m in matches] == [None, "L-2"]
    results = ledger.save_parties([(party(1), matches[0], "k1"), (party(2), matches[1], "k2")])
    assert [r.ledger_id for r in results] == ["L-p:1", "L-p:2"]
    assert ledger.find_invoices([invoice(1), invoice(2)], {"i:2": InvoiceLookup("L-p:2")}) == [None, None]
    assert ledger.asked == ["match p:1 None", "match p:2 L-2", "save p:1 k1", "save p:2 k2",
                            "find i:1 None", "find i:2 L-p:2"]


def test_a_platform_without_batch_forms_reads_everything_and_shows_references_one_by_one():
    platform = OneByOnePlatform()
    read = platform.read_invoices(["1", "2"], {"1": "v7"})  # no versions to compare: every invoice read whole
    assert UNCHANGED not in read.values() and read["1"].key == "i:1"
    document = LedgerDocument(ledger_id="X1", number="1", status=InvoiceStatus.DRAFT)
    results = platform.set_ledger_references([("1", document), ("2", document), ("3", document)])
    assert platform.shown == ["1=X1", "3=X1"]  # the failure of one fails only that one
    assert [results[pid].ok for pid in ("1", "2", "3")] == [True, False, True]
    assert results["2"].error.code == "timeout"


def test_optional_capabilities_default_to_none_and_nothing():
    ledger, platform = OneByOneLedger(), OneByOnePlatform()
    assert list(ledger.invoiced_parties(None)) == [] and ledger.get_parties(["L-1"]) == []
    assert not ledger.reads_parties_by_id and not ledger.has_transactions and list(ledger.transactions("payments", None)) == []
    assert ledger.booked_totals({"total": "1"}) is None and ledger.round_factor == Decimal(0)
    assert ledger.comparable_document({"a": 1}) == {"a": 1}
    assert platform.party_key("CO:1") is None and platform.party_as_created(party(1), "1", ("l", "1")) is None
    assert dict(platform.people_created) == {} and not Platform.notify_admin(object(), "hello")


def test_facts_of_a_kind_are_read_from_its_declared_class(app):
    from bridge.connectors.dg1.platform import DG1Platform
    from bridge.connectors.xero.ledger import XeroLedger

    assert ledger_class("xero") is XeroLedger and platform_class("dg1") is DG1Platform
    assert ledger_name("xero") == "Xero" and ledger_name("unknown") == "Unknown"
    assert ledger_class("unknown") is Ledger and not platform_class("unknown").closes_when_paid


def test_the_flows_list_names_every_flow_bridge_sync_runs():
    from_sync = {name for name, runner in ENGINE_FLOWS.items() if runner.__module__.startswith("bridge.sync.")}
    assert set(sync.FLOWS) == from_sync
    assert all(ENGINE_FLOWS[name].__module__ == module.__name__ for name, module in sync.FLOWS.items())


def test_a_fresh_app_knows_every_kinds_declared_class_before_building_an_adapter(tmp_path):
    """A worker that has built no adapter yet still reads each kind's facts (the daily jobs
    choosing installations, an alert to a Bitrix24 administrator): the factory loads every
    connector's port class. In a fresh interpreter, so no other test's imports help."""
    import subprocess
    import sys

    code = ("from bridge import create_app\n"
            f"create_app({{'BRIDGE_ENV': 'test', 'INSTANCE_PATH': {str(tmp_path)!r}}})\n"
            "from bridge.ports import ledger_class, platform_class\n"
            "print(ledger_class('xero').tells_sent_to_contact, ledger_class('bexio').display_name,\n"
            "      platform_class('dg1').daily_status_ledgers == {'bexio'}, platform_class('bitrix24').follows_sent)\n")
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert answer.returncode == 0, answer.stderr[-2000:]
    assert answer.stdout.split() == ["True", "Bexio", "True", "True"]
