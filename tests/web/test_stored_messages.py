"""A record is read in the viewer's language, whatever language it was written in.

A flow writes its record in a worker, where no page language exists (so in English); a German
administrator who opens the sync log later reads it in German, because the record keeps the
message's id and parameters. A record written before messages had ids reads as it was stored.
"""
from __future__ import annotations

from flask_babel import refresh

from bridge.errors import UnexpectedError
from bridge.extensions import db
from bridge.models import SyncRecord

from .conftest import launch

LOG = "/bitrix24/app/log"
GERMAN = "In bridge ist etwas schiefgegangen (Fehler-ID c0ffee42). Es wird automatisch erneut versucht."
GERMAN_FIX = "geben Sie die Fehler-ID c0ffee42 an die Betreiber von bridge weiter."
ENGLISH = "Something went wrong inside bridge (error id c0ffee42). It is tried again automatically."


def _records(portal) -> None:
    error = UnexpectedError("c0ffee42")  # as a flow's failure is recorded: no page, no language
    db.session.add(SyncRecord(installation_id=portal.id, flow="invoice_to_ledger", object_kind="invoice",
                              object_id="1", direction="to_ledger", state="retrying", error_code=error.code,
                              error_message=error.message, error_fix=error.fix))
    db.session.add(SyncRecord(installation_id=portal.id, flow="invoice_to_ledger", object_kind="invoice",
                              object_id="2", direction="to_ledger", state="failed", error_code="validation",
                              error_message="Stored in English before messages had ids."))
    db.session.commit()


def _log(client, lang: str) -> str:
    refresh()  # the tests share one app context; a real request has its own locale
    main = launch(client, "/bitrix24/app", lang=lang).get_data(as_text=True)
    return client.get(LOG, query_string={"token": main.split("/bitrix24/app/log?token=")[1].split('"')[0]}).text


def test_a_record_written_in_english_reads_in_german_in_a_german_portal(client, portal):
    _records(portal)
    german = _log(client, "de")
    assert GERMAN in german and GERMAN_FIX in german and ENGLISH not in german
    assert "Stored in English before messages had ids." in german  # an old record still reads
    english = _log(client, "en")
    assert ENGLISH in english and GERMAN not in english


def test_the_operator_console_reads_it_in_the_browsers_language(client, portal, runner):
    from bridge.connectors.xero.connection import mark_needs_reconnect
    from bridge.connectors.xero.errors import XERO_ERRORS
    from bridge.models import LedgerConnection

    _records(portal)
    connection = LedgerConnection(installation_id=portal.id, ledger="xero", organisation_id="org-1")
    db.session.add(connection)
    db.session.commit()
    mark_needs_reconnect(None, connection.id, XERO_ERRORS.error(401, None).message)  # as a refused refresh does
    assert runner.invoke(args=["operator", "create", "ops@partner.example", "--password", "correct horse battery"]
                         ).exit_code == 0
    german = {"Accept-Language": "de-CH,de;q=0.9"}
    refresh()
    client.post("/operator/login", data={"email": "ops@partner.example", "password": "correct horse battery"},
                headers=german)
    refresh()
    page = client.get(f"/operator/installations/{portal.id}", headers=german).text
    assert GERMAN in page and ENGLISH not in page and "Stored in English before messages had ids." in page
    assert "Xero hat das Zugriffstoken auch nach der Erneuerung abgelehnt." in page



def test_a_flows_skip_written_by_the_worker_reads_in_german(client, portal, run_jobs):
    from bridge.engine import WorkRequest, request_work

    request_work(WorkRequest(portal.id, "invoice_cancel", "invoice:9"))  # never synced: nothing to cancel
    db.session.commit()
    run_jobs()
    record = db.session.query(SyncRecord).filter_by(flow="invoice_cancel").one()
    assert record.warning == "Never synced: nothing to cancel in the ledger."  # English for logs and searches
    assert "Nie synchronisiert: In der Buchhaltung ist nichts zu stornieren." in _log(client, "de")
