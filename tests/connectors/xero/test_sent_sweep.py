"""The daily sent sweep against Xero's wire: its cost is one GET per 50 linked invoices
(IDs=), and it sees SentToContact that no webhook and no UpdatedDateUTC announced."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import responses

from bridge.domain import InvoiceStatus
from bridge.extensions import db
from bridge.models import Link, SyncRecord, utcnow
from bridge.ports import Platform as PlatformPort
from bridge.sync.invoice_sent_sweep import sweep

from .conftest import TENANT, envelope

VERSION = "/Date(1796000000000+0000)/"


class Platform(PlatformPort):
    """A platform that only moves stages (the port's defaults for everything else)."""

    def __init__(self) -> None:
        self.moved: dict[str, InvoiceStatus] = {}

    def set_invoice_status(self, platform_id, status) -> None:
        self.moved[platform_id] = status


def linked(installation, n: int, status: str = "partially_paid") -> None:
    for i in range(n):
        db.session.add(Link(installation_id=installation.id, kind="invoice", platform_id=str(i), ledger="xero",
                            ledger_org=TENANT, ledger_id=f"00000000-0000-4000-8000-{i:012d}", ledger_status=status,
                            ledger_version=VERSION, extra={"followed": "draft", "sent_to_contact": False,
                                                           "approved_at": utcnow().isoformat()}))
    db.session.commit()


def test_the_sweep_reads_120_linked_invoices_in_3_calls_and_moves_those_marked_sent(
        installation, connection, ledger, mocked, api):
    linked(installation, 120)
    asked = []

    def answer(request):
        ids = parse_qs(urlparse(request.url).query)["IDs"][0].split(",")
        asked.append(len(ids))
        return 200, {}, json.dumps(envelope("Invoices", [
            {"InvoiceID": i, "Type": "ACCREC", "Status": "AUTHORISED", "AmountPaid": 10.0, "Total": 100.0,
             "AmountDue": 90.0, "UpdatedDateUTC": VERSION, "SentToContact": i.endswith(("007", "042", "119"))}
            for i in ids]))

    mocked.add_callback(responses.GET, f"{api}/Invoices", callback=answer)
    platform = Platform()
    result = sweep(installation, ledger, connection, platform, lambda link: SyncRecord())
    assert len(mocked.calls) == 3 and asked == [50, 50, 20]
    assert result == {"read": 120, "followed": 3}
    assert platform.moved == {"7": InvoiceStatus.PARTIALLY_PAID, "42": InvoiceStatus.PARTIALLY_PAID,
                              "119": InvoiceStatus.PARTIALLY_PAID}
    # known as sent now: the next day's sweep reads only the 117 still unsent
    mocked.calls.reset()
    asked.clear()
    assert sweep(installation, ledger, connection, platform, lambda link: SyncRecord())["read"] == 117
    assert asked == [50, 50, 17]


def test_nothing_approved_and_unsent_costs_no_call(installation, connection, ledger, mocked, api):
    linked(installation, 5, status="paid")
    assert sweep(installation, ledger, connection, Platform(), lambda link: SyncRecord()) == {"read": 0, "followed": 0}
    assert len(mocked.calls) == 0
