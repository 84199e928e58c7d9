"""The sync log: filters, paging on the server, retry, retry all with one error, CSV."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import pytest

from bridge.extensions import db
from bridge.models import SyncRecord, WorkItem

from .conftest import launch

LOG = "/bitrix24/app/log"


@pytest.fixture
def token(client, portal):
    for n in range(60):
        db.session.add(SyncRecord(installation_id=portal.id, flow="invoice_to_ledger", object_kind="invoice",
                                  object_id=str(n), direction="to_ledger", state="succeeded",
                                  created_at=datetime(2026, 11, 1 + n % 20, tzinfo=timezone.utc)))
    for n, code in ((100, "tax_unmapped"), (101, "tax_unmapped"), (102, "validation")):
        db.session.add(SyncRecord(installation_id=portal.id, flow="invoice_to_ledger", object_kind="invoice",
                                  object_id=str(n), direction="to_ledger", state="failed", error_code=code,
                                  error_message="=HYPERLINK(\"x\") no tax type", created_at=datetime(2026, 11, 21, tzinfo=timezone.utc)))
    db.session.commit()
    main = launch(client, "/bitrix24/app").get_data(as_text=True)
    return main.split("/bitrix24/app/log?token=")[1].split('"')[0]


def test_pages_of_fifty_newest_first(client, token):
    first = client.get(LOG, query_string={"token": token}).get_data(as_text=True)
    assert "63 records." in first and "Page 1 of 2" in first and "invoice 102" in first
    second = client.get(LOG, query_string={"token": token, "page": 2}, headers={"HX-Request": "true"})
    body = second.get_data(as_text=True)
    assert "Page 2 of 2" in body and "<html" not in body and body.count("<tr class=") == 13


@pytest.mark.parametrize("page", ["²", "9" * 5000, str(2**64)])
def test_a_page_that_is_no_page_number_shows_the_first_page(client, token, page):
    """Each was a 500 ("²".isdigit() is true, int() refuses it; past 64 bits PostgreSQL does)."""
    for path in (LOG, LOG + ".csv"):
        response = client.get(path, query_string={"token": token, "page": page})
        assert response.status_code == 200, path
    assert "Page 1 of 2" in client.get(LOG, query_string={"token": token, "page": page}).text


def test_filters_by_state_and_date(client, token):
    body = client.get(LOG, query_string={"token": token, "state": "failed"}).get_data(as_text=True)
    assert "3 records." in body
    body = client.get(LOG, query_string={"token": token, "since": "2026-11-02", "until": "2026-11-02"}).get_data(as_text=True)
    assert "3 records." in body  # objects 1, 21, 41


def test_retry_all_with_one_error_queues_each_object_once(client, token):
    body = client.post(f"{LOG}/retry-error", data={"token": token, "error_code": "tax_unmapped"}).get_data(as_text=True)
    assert "2 objects will be synced again." in body
    keys = set(db.session.scalars(db.select(WorkItem.object_key)).all())
    assert keys == {"invoice:100", "invoice:101"}


def test_one_click_retry(client, portal, token):
    record = db.session.scalar(db.select(SyncRecord).where(SyncRecord.object_id == "102"))
    client.post(f"{LOG}/retry/{record.id}", data={"token": token})
    item = db.session.scalar(db.select(WorkItem))
    assert (item.object_key, item.options["manual"]) == ("invoice:102", True)


def test_csv_export_follows_the_filters_and_defuses_formulas(client, token):
    reply = client.get(f"{LOG}.csv", query_string={"token": token, "state": "failed"})
    rows = list(csv.DictReader(io.StringIO(reply.get_data(as_text=True))))
    assert reply.mimetype == "text/csv" and len(rows) == 3
    assert rows[0]["error_message"].startswith("'=HYPERLINK")


def test_a_tampered_token_sees_nothing(client, token):
    assert client.get(LOG, query_string={"token": token + "x"}).status_code == 401


def test_a_german_portal_reads_the_flows_in_german(client, portal):
    """The flow column and its filter name each flow in the page's language, not by its code."""
    db.session.add(SyncRecord(installation_id=portal.id, flow="invoice_sent_sweep", object_kind="sent",
                              object_id="1", direction="from_ledger", state="succeeded"))
    db.session.commit()
    main = launch(client, "/bitrix24/app", lang="de").get_data(as_text=True)
    body = client.get(LOG, query_string={"token": main.split("/bitrix24/app/log?token=")[1].split('"')[0]}).text
    assert body.count("Abgleich gesendeter Rechnungen") == 2 and "invoice sent sweep" not in body


def test_a_german_portal_reads_what_each_record_is_about_in_german(client, portal):
    """"invoice 7" reads "Rechnung 7": the object column names the kind in the page's language."""
    db.session.add(SyncRecord(installation_id=portal.id, flow="invoice_to_ledger", object_kind="invoice",
                              object_id="7", direction="to_ledger", state="failed", error_message="Nope."))
    db.session.commit()
    main = launch(client, "/bitrix24/app", lang="de").get_data(as_text=True)
    assert "<td>Rechnung 7</td>" in main  # the main page's recent attempts
    body = client.get(LOG, query_string={"token": main.split("/bitrix24/app/log?token=")[1].split('"')[0]}).text
    assert "<td>Rechnung 7</td>" in body and 'aria-label="Rechnung 7 erneut versuchen"' in body
    assert "invoice 7" not in body


def test_records_about_no_single_object_are_named_in_words_not_by_their_keys(client, portal):
    """An import or a report is not "Import parties" / "Bericht invoices": it reads
    "Kontaktimport" and "Abgleichsbericht" in German."""
    for flow, kind, object_id in (("party_import", "import", "parties"), ("reconciliation_report", "report", "invoices")):
        db.session.add(SyncRecord(installation_id=portal.id, flow=flow, object_kind=kind, object_id=object_id,
                                  direction="to_platform", state="succeeded"))
    db.session.commit()
    main = launch(client, "/bitrix24/app", lang="de").get_data(as_text=True)
    assert "<td>Kontaktimport</td>" in main and "<td>Abgleichsbericht</td>" in main
    body = client.get(LOG, query_string={"token": main.split("/bitrix24/app/log?token=")[1].split('"')[0]}).text
    assert "<td>Kontaktimport</td>" in body and "parties" not in body and "Bericht invoices" not in body
