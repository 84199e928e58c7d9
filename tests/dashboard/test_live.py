"""End to end over real HTTP: the dashboard as the portal frames it, on 5,000 sandbox bank
transactions and some payments; alerts delivered into the sandbox portal once per day."""
from __future__ import annotations

import html
import json
import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import requests
from sqlalchemy import select

from bridge.dashboard.models import LedgerTransaction
from bridge.extensions import db
from bridge.models import LedgerConnection

from .conftest import ACME

N_BANK, N_PAYMENTS = 5000, 150


def launch(live, placement="CRM_ANALYTICS_MENU"):
    pair = live.control(f"bitrix24/portals/{ACME}/tokens", json={"user_id": 1})
    form = dict(live.installed["form"], AUTH_ID=pair["access_token"], REFRESH_ID=pair["refresh_token"],
                PLACEMENT=placement, PLACEMENT_OPTIONS=json.dumps({}))
    return requests.post(f"{live.app_url}/bitrix24/dashboard", params=live.installed["query"], data=form, timeout=30)


def filtered(live, token, **form):
    return requests.post(f"{live.app_url}/bitrix24/dashboard/results", data={"token": token, **form},
                         headers={"HX-Request": "true"}, timeout=30)


def count_of(page: str) -> int:
    return int(re.search(r'id="count"[^>]*data-count="(\d+)"', page).group(1))


def total(page: str, which: str, currency: str = "NZD") -> Decimal:
    return Decimal(re.search(rf'data-total-{which}="{currency}" data-value="([-\d.]+)"', page).group(1))


def row_ids(page: str) -> list[str]:
    return re.findall(r'<tr data-id="([^"]+)"', page)


def test_dashboard_filters_pages_and_totals_5000_sandbox_transactions(portal):
    live = portal
    live.control(f"xero/orgs/{live.tenant}/seed", json={"bank_transactions": N_BANK, "payments": N_PAYMENTS})
    state = live.control(f"xero/orgs/{live.tenant}/state", method="GET")

    first = launch(live)
    assert first.status_code == 200, first.text
    assert "being read from Xero" in first.text  # the first view asks for the copy, never waits for it
    assert "frame-ancestors" in first.headers["Content-Security-Policy"]
    live.run_jobs()  # the refresh flow reads both streams

    page = launch(live)
    assert "Some filters were left out" not in page.text  # the launch's own "status" is not a filter
    token = html.unescape(re.search(r'name="token" value="([^"]+)"', page.text).group(1))
    bank, payments = state["bankTransactions"], state["payments"]
    assert len(bank) == N_BANK and len(payments) == N_PAYMENTS
    assert count_of(page.text) == N_BANK + N_PAYMENTS
    money_in = sum(Decimal(str(b["Total"])) for b in bank if b["Type"] == "RECEIVE") + \
        sum(Decimal(str(p["Amount"])) for p in payments)
    money_out = sum(Decimal(str(b["Total"])) for b in bank if b["Type"] == "SPEND")
    assert (total(page.text, "in"), total(page.text, "out")) == (money_in, money_out)
    assert "<svg" in page.text and "bar-in" in page.text

    # paging: 50 a page, newest first, no row twice, the last page holds the rest
    pages = (N_BANK + N_PAYMENTS + 49) // 50
    one, two = filtered(live, token, page="1").text, filtered(live, token, page="2").text
    assert len(row_ids(one)) == len(row_ids(two)) == 50 and not set(row_ids(one)) & set(row_ids(two))
    last = filtered(live, token, page=str(pages)).text
    assert len(row_ids(last)) == (N_BANK + N_PAYMENTS) - 50 * (pages - 1)
    assert f"page {pages} of {pages}" in last

    # filters: a contact, bank transactions only, a date range
    contact = Counter(b["Contact"]["Name"] for b in bank).most_common(1)[0][0]
    of_contact = filtered(live, token, contact=contact.split()[-1], kind="bank_transaction").text
    expected = [b for b in bank if b["Contact"]["Name"] == contact]
    assert count_of(of_contact) == len(expected)
    assert total(of_contact, "out") == sum(Decimal(str(b["Total"])) for b in expected if b["Type"] == "SPEND")

    dates = sorted(b["DateString"][:10] for b in bank)
    start, end = dates[len(dates) // 4], dates[len(dates) // 2]
    in_range = filtered(live, token, date_from=start, date_to=end, kind="bank_transaction").text
    assert count_of(in_range) == sum(1 for d in dates if start <= d <= end)

    bad = filtered(live, token, date_from="yesterday").text
    assert "Enter a date as YYYY-MM-DD." in bad

    # a forged or missing token shows nothing
    assert filtered(live, "forged").status_code == 401


def test_refresh_reads_only_what_changed(portal):
    live = portal
    live.control(f"xero/orgs/{live.tenant}/seed", json={"bank_transactions": 30, "payments": 5})
    launch(live)
    live.run_jobs()
    with live.app.app_context():
        connection_id = db.session.scalars(select(LedgerConnection)).one().id
        assert db.session.query(LedgerTransaction).count() == 35
        # Mark the copy: rows Xero does not send again keep the mark.
        db.session.query(LedgerTransaction).update({"reference": "already here"})
        # Time passes beyond the re-read overlap: the cursors stand five minutes from now,
        # and Xero's clock moves ten minutes on before the next changes.
        from bridge.models import Cursor

        for row in db.session.scalars(select(Cursor).where(Cursor.name.like("dashboard_%"))):
            row.value = {**row.value, "since": (datetime.now(timezone.utc) + timedelta(minutes=5)).isoformat()}
        db.session.commit()
    live.control("clock", json={"advance": 600})
    live.control(f"xero/orgs/{live.tenant}/seed", json={"bank_transactions": 4, "payments": 0, "seed": 2})
    with live.app.app_context():
        from bridge.dashboard.refresh import request_refresh

        request_refresh(db.session.get(LedgerConnection, connection_id))
        db.session.commit()
    live.run_jobs()
    with live.app.app_context():
        references = Counter(t.reference for t in db.session.scalars(select(LedgerTransaction)))
    assert references["already here"] == 35  # not fetched again
    assert sum(references.values()) == 39  # the four new ones arrived


def test_a_permanent_failure_notifies_the_installing_admin_once_a_day(portal):
    live = portal
    from bridge.alerts import send

    with live.app.app_context():
        assert send(live.installation_id, "failed:invoice_to_ledger:validation", "A sync failed.", "Fix it.")
        assert not send(live.installation_id, "failed:invoice_to_ledger:validation", "A sync failed.", "Fix it.")
        assert send(live.installation_id, "needs_reconnect", "Renew the connection.")
    notes = live.control(f"bitrix24/portals/{ACME}/state", method="GET")["notifications"]
    assert [n["message"] for n in notes] == [f"bridge ({ACME}): A sync failed. Fix it.",
                                            f"bridge ({ACME}): Renew the connection."]
    assert {n["to"] for n in notes} == {1} and {n["type"] for n in notes} == {"SYSTEM"}
