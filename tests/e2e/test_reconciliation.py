"""The reconciliation report's core, end to end over real HTTP (Bitrix24 <-> Xero): what each
side has that the other does not follow, each with its fix actions, and the CSV."""
from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import requests

from sqlalchemy import select

from bridge.connectors.bitrix24 import store
from bridge.extensions import db
from bridge.models import utcnow
from bridge.report_models import ReportRun
from bridge.sync.reconciliation import as_csv, report
from bridge.sync.registry import ledger_for, platform_for
from bridge.sync.report_run import OVERLAP
from tests.e2e.conftest import ACME
from tests.e2e.test_bitrix24_legacy import launch
from tests.e2e.test_bitrix24_xero import deliver_events, new_invoice, stage_of, xero_invoices


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
    live.control("xero/settings", json={"webhooks_enabled": False})  # held, not sent at once
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/approve")
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/pay", json={})
    live.control("xero/webhooks/drop", json={"count": None})  # the webhooks are lost
    live.control("bitrix24/events/drop", json={"count": 100})
    live.control(f"bitrix24/portals/{ACME}/invoices/{gone['id']}", method="DELETE")  # its event lost too
    live.control("bitrix24/events/drop", json={"count": 0})
    rows = differences(live)
    assert sorted((r.kind, r.platform_id) for r in rows) == [("gone_on_platform", str(gone["id"])),
                                                              ("payment_not_shown", str(paid["id"])),
                                                              ("payments", str(paid["id"]))]
    assert next(r for r in rows if r.kind == "payments").actions == ["sync_again", "ignore"]
    text = as_csv(rows, "en")
    assert text.splitlines()[0].startswith("kind,platform_id") and len(text.splitlines()) == 4
    assert "Paid in the ledger, not yet here." in text
    assert "Paid 2300.00 NZD in Xero on " in text and ", not shown in Bitrix24." in text


def test_the_report_on_demand_from_the_command_line(portal):
    live = portal
    new_invoice(live)
    deliver_events(live)
    with live.app.app_context():
        installation_id = store.find(live.member_id).id
    result = live.app.test_cli_runner().invoke(args=["reconcile-report", str(installation_id)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["kind,platform_id,ledger_id,ledger_number,difference,actions"]


# -- the stored report on its page, as a Bitrix24 administrator uses it ---------------------

def report_page(live) -> tuple[str, str]:
    """The app's main page as the portal opens it, then the report page from its link.
    Returns the report page and its form token."""
    main = launch(live, "DEFAULT", {}).text
    assert "open difference" in main
    token = unescape(re.search(r'/bitrix24/app/report\?token=([^"&]+)', main).group(1))
    return requests.get(f"{live.app_url}/bitrix24/app/report", params={"token": token}, timeout=30).text, token


def press(live, token: str, path: str, **data) -> str:
    response = requests.post(f"{live.app_url}/bitrix24/app/report{path}", data={"token": token, **data},
                             headers={"HX-Request": "true"}, timeout=30)
    assert response.status_code == 200, response.text[:300]
    return response.text


def run_report(live, token: str) -> str:
    """Start, as the button does; the worker runs it; the rows as the page reloads them."""
    assert "Waiting for the worker" in press(live, token, "/start")
    live.run_jobs()
    return requests.get(f"{live.app_url}/bitrix24/app/report/rows", params={"token": token},
                        headers={"HX-Request": "true"}, timeout=30).text


def row_id(html: str, words: str) -> str:
    row = next(r for r in html.split("<tr id=")[1:] if words in r)
    return re.match(r'"report-row-(\d+)"', row).group(1)


def test_an_edit_in_xero_is_an_amounts_row_and_sync_again_fixes_it(portal):
    live = portal
    new_invoice(live)
    deliver_events(live)
    (invoice,) = xero_invoices(live)
    live.control("xero/settings", json={"webhooks_enabled": False})  # held, not sent at once
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/edit", json={"LineItems": [{
        "Description": "Workshop day", "Quantity": 3, "UnitAmount": 1000, "TaxType": "OUTPUT2",
        "AccountCode": "200"}]})
    live.control("xero/webhooks/drop", json={"count": None})  # the edit's webhook is lost
    _, token = report_page(live)
    rows = run_report(live, token)
    assert "Total: 2300.00 here, 3450.00 in the ledger." in rows and "Accept the ledger" in rows
    assert "1 open difference between Bitrix24 and Xero" in launch(live, "DEFAULT", {}).text
    done = press(live, token, f"/rows/{row_id(rows, '3450.00')}", action="sync_again")
    assert "Sync requested" in done
    live.run_jobs()
    (invoice,) = xero_invoices(live)
    assert float(invoice["Total"]) == 2300.0  # our version again
    assert "No differences here." in run_report(live, token)
    assert "0 open differences" in launch(live, "DEFAULT", {}).text


def test_a_xero_invoice_whose_bitrix24_invoice_was_deleted_shows_and_ignore_hides_it(portal):
    live = portal
    gone = new_invoice(live)
    deliver_events(live)
    live.control("bitrix24/events/drop", json={"count": 100})
    live.control(f"bitrix24/portals/{ACME}/invoices/{gone['id']}", method="DELETE")  # its event lost
    live.control("bitrix24/events/drop", json={"count": 0})
    _, token = report_page(live)
    rows = run_report(live, token)
    assert "The invoice is gone here, but is still live in the ledger." in rows
    ignored = press(live, token, f"/rows/{row_id(rows, 'gone here')}", action="ignore")
    assert "Ignored: the report no longer counts it." in ignored and "still live in the ledger" not in ignored
    assert "No differences here." in run_report(live, token)  # found again, still ignored
    shown = requests.get(f"{live.app_url}/bitrix24/app/report/rows", params={"token": token, "state": "ignored"},
                         timeout=30).text
    assert "still live in the ledger" in shown
    csv_text = requests.get(f"{live.app_url}/bitrix24/app/report.csv", params={"token": token, "state": "ignored"},
                            timeout=30).text
    assert csv_text.splitlines()[1].startswith("gone_on_platform,ignored,")


def test_a_daily_run_with_nothing_changed_costs_a_few_calls_whatever_the_history(portal):
    """Incremental: the second run reads only what changed since the first started (nothing),
    so it costs the listings of changes on each side, not a read of every invoice
    (docs/PERFORMANCE.md, "The reconciliation report")."""
    live = portal
    for _ in range(3):
        new_invoice(live)
    deliver_events(live)
    _, token = report_page(live)
    run_report(live, token)  # the first run reads everything
    with live.app.app_context():  # the next day's run: nothing changed since the first (nor in its overlap)
        first = db.session.scalar(select(ReportRun).order_by(ReportRun.id.desc()))
        first.started_at = utcnow() + OVERLAP + timedelta(seconds=1)
        db.session.commit()
    start = live.control("requests", method="GET")["next"]
    run_report(live, token)
    log = live.control(f"requests?since={start}", method="GET")["requests"]
    xero = sorted((c["method"], c["path"].rsplit("/2.0/", 1)[1].split("?")[0]) for c in log
                  if c["path"].startswith("/api.xero.com/api.xro/2.0/"))
    bitrix24 = sorted((c["method"], c["path"].rsplit("/rest/", 1)[1]) for c in log if c["path"].startswith(f"/{ACME}/rest/"))
    assert xero == [("GET", "Invoices"), ("GET", "Payments")]  # changed since the last run: none
    assert bitrix24 == [("POST", "crm.item.list")]


def test_a_payment_whose_webhook_was_lost_is_a_payments_row_and_sync_again_follows_it(portal):
    live = portal
    item = new_invoice(live)
    deliver_events(live)
    (invoice,) = xero_invoices(live)
    live.control("xero/settings", json={"webhooks_enabled": False})  # held, not sent at once
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/approve")
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/pay", json={})
    live.control("xero/webhooks/drop", json={"count": None})  # their webhooks are lost
    _, token = report_page(live)
    rows = run_report(live, token)
    assert "Paid in the ledger, not yet here." in rows
    assert "Sync requested" in press(live, token, f"/rows/{row_id(rows, 'Paid in the ledger')}", action="sync_again")
    live.run_jobs()
    assert stage_of(live, item["id"]).endswith(":P")  # the portal's success stage
    assert "No differences here." in run_report(live, token)


def test_a_part_payment_not_shown_in_bitrix24_is_a_row_whose_fix_writes_one_comment(portal):
    """Payment by payment: a part payment whose webhook has not come is its own row, with the
    amount and the date; "Show it here" writes its timeline comment through the payment flow,
    and the webhook arriving afterwards adds no second comment."""
    from tests.e2e.test_bitrix24_xero_payments import approved, comments, pay
    from tests.e2e.test_bitrix24_xero_invoices import ask, records

    live = portal
    live.control("xero/settings", json={"webhooks_enabled": False})  # sent only when the test flushes
    item, invoice = approved(live)
    today = utcnow().date().isoformat()  # on or after the day bridge was installed
    pay(live, invoice, "40.00", today)  # its webhook held
    _, token = report_page(live)
    rows = run_report(live, token)
    assert f"Paid 40.00 NZD in Xero on {today}, not shown in Bitrix24." in rows and "Show it here" in rows
    assert "Paid in the ledger, not yet here." not in rows  # part paid: the invoice-level row says nothing
    done = press(live, token, f"/rows/{row_id(rows, 'Paid 40.00 NZD')}", action="note_payment")
    assert "The payment is shown under the invoice now." in done
    (comment,) = comments(live, item["id"])
    assert "40.00 NZD" in comment and today in comment and "part payment" in comment
    live.control("xero/webhooks/drop", json={"count": None})
    ask(live, "ledger_invoice_changed", f"ledger_invoice:{invoice['InvoiceID']}")  # the payment's event, late...
    last = records(live, flow="ledger_invoice_changed", object_id=item["id"])[-1]
    assert (last.state, last.warning) == ("skipped", "No change to follow.")  # ...read the payment, noted already
    assert len(comments(live, item["id"])) == 1  # ...and adds no second comment
    assert "No differences here." in run_report(live, token)
