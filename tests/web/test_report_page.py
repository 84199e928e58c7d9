"""The reconciliation report page in the Bitrix24 app: the open count on the main page, the
rows with their fixes, ignore, the period filter, the CSV, and Start showing a run at once."""
from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from bridge.extensions import db
from bridge.messages import N_
from bridge.models import WorkItem
from bridge.report_models import ReportRow, ReportRun

from .conftest import launch

REPORT = "/bitrix24/app/report"


@pytest.fixture
def rows(portal):
    made = []
    for n, (kind, issued) in enumerate((("amounts", date(2026, 11, 3)), ("missing_in_ledger", date(2026, 10, 9)))):
        row = ReportRow(installation_id=portal.id, kind=kind, platform_id=str(40 + n), ledger_id=f"L{n}" if n == 0 else "",
                        ledger_number="INV-0040" if n == 0 else "", issued=issued,
                        actions=["sync_again", "accept_ledger"] if n == 0 else ["sync_again", "link_other", "ignore"])
        row.what = N_("Total: %(ours)s here, %(theirs)s in the ledger.", ours="276.00", theirs="300.00") if n == 0 \
            else N_("Not in the ledger, though it should be.")
        db.session.add(row)
        made.append(row)
    db.session.commit()
    return made


@pytest.fixture
def token(client, portal, rows):
    main = launch(client, "/bitrix24/app").get_data(as_text=True)
    assert "2 open differences between Bitrix24 and" in main  # the main page's count, linked
    return main.split(f"{REPORT}?token=")[1].split('"')[0]


def test_the_page_lists_the_open_differences_with_their_fixes(client, token):
    body = client.get(REPORT, query_string={"token": token}).get_data(as_text=True)
    assert "Total: 276.00 here, 300.00 in the ledger." in body and "Not in the ledger, though it should be." in body
    assert "Accept the ledger&#39;s version" in body and "Link to this one" in body and "Not run yet." in body


def test_ignore_hides_a_row_and_lowers_the_count(client, token, rows, portal):
    response = client.post(f"{REPORT}/rows/{rows[1].id}", data={"token": token, "action": "ignore"},
                           headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert "Ignored: the report no longer counts it." in body and "Not in the ledger" not in body
    assert db.session.get(ReportRow, rows[1].id).state == "ignored"
    assert "1 open difference between" in launch(client, "/bitrix24/app").get_data(as_text=True)


def test_an_action_a_row_does_not_offer_is_refused(client, token, rows):
    body = client.post(f"{REPORT}/rows/{rows[0].id}", data={"token": token, "action": "ignore"},
                       headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "This action does not apply to this difference." in body
    assert db.session.get(ReportRow, rows[0].id).state == "open"


def test_the_period_filter_and_the_csv(client, token):
    body = client.get(f"{REPORT}/rows", query_string={"token": token, "period": "2026-10"},
                      headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Not in the ledger" in body and "276.00" not in body
    text = client.get(f"{REPORT}.csv", query_string={"token": token}).get_data(as_text=True)
    table = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["kind"] for r in table) == ["amounts", "missing_in_ledger"]
    assert table[0]["difference"] == "Total: 276.00 here, 300.00 in the ledger."


def test_start_shows_the_new_run_at_once_and_polls_until_it_ends(client, token, portal):
    body = client.post(f"{REPORT}/start", data={"token": token}, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Waiting for the worker to start this run" in body and 'hx-trigger="every 2s"' in body
    assert db.session.query(WorkItem).filter_by(flow="reconciliation_report").count() == 1
    run = db.session.query(ReportRun).one()
    run.state, run.checked = "finished", 7
    db.session.commit()
    done = client.get(f"{REPORT}/progress", query_string={"token": token, "was": "running"},
                      headers={"HX-Request": "true"})
    assert "every 2s" not in done.get_data(as_text=True) and done.headers["HX-Trigger"] == "report-finished"
    assert "checked: 7" in done.get_data(as_text=True)
