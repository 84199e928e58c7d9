"""The reconciliation report's core, end to end over real HTTP (Bitrix24 <-> Xero): what each
side has that the other does not follow, each with its fix actions, and the CSV."""
from __future__ import annotations

from bridge.connectors.bitrix24 import store
from bridge.sync.reconciliation import as_csv, report
from bridge.sync.registry import ledger_for, platform_for
from tests.e2e.conftest import ACME
from tests.e2e.test_bitrix24_xero import deliver_events, new_invoice, xero_invoices


def differences(live):
    with live.app.app_context():
        installation = store.find(live.member_id)
        ledger, _ = ledger_for(installation)
        return report(installation, platform_for(installation), ledger)


def test_the_report_names_what_one_side_does_not_follow_with_its_fixes(portal):
    live = portal
    paid = new_invoice(live)
    deliver_events(live)
    gone = new_invoice(live)
    deliver_events(live)
    assert differences(live) == []  # in step
    by_url = {i["Url"].rstrip("/").rsplit("/", 1)[1]: i for i in xero_invoices(live)}
    invoice = by_url[str(paid["id"])]
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/approve")
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/pay", json={})
    live.control("xero/webhooks/drop", json={"count": None})  # the webhooks are lost
    live.control("bitrix24/events/drop", json={"count": 100})
    live.control(f"bitrix24/portals/{ACME}/invoices/{gone['id']}", method="DELETE")  # its event lost too
    live.control("bitrix24/events/drop", json={"count": 0})
    rows = differences(live)
    assert sorted((r.kind, r.platform_id) for r in rows) == [("gone_on_platform", str(gone["id"])),
                                                              ("payments", str(paid["id"]))]
    assert next(r for r in rows if r.kind == "payments").actions == ["sync_again", "ignore"]
    text = as_csv(rows, "en")
    assert text.splitlines()[0].startswith("kind,platform_id") and len(text.splitlines()) == 3
    assert "Paid in the ledger, not yet here." in text


def test_the_report_on_demand_from_the_command_line(portal):
    live = portal
    new_invoice(live)
    deliver_events(live)
    with live.app.app_context():
        installation_id = store.find(live.member_id).id
    result = live.app.test_cli_runner().invoke(args=["reconcile-report", str(installation_id)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["kind,platform_id,ledger_id,ledger_number,difference,actions"]
