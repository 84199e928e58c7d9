"""Alerts: once per cause per day, enqueued by a recorded permanent failure, a daily digest,
and e-mail when SMTP is configured."""
from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest

from bridge import alerts
from bridge.dashboard.models import SentAlert
from bridge.errors import PermanentError, RetryableError
from bridge.extensions import db
from bridge.messages import N_
from bridge.engine import WorkRequest, request_work
from bridge.models import SyncRecord


@pytest.fixture
def sent(monkeypatch):
    """Records what reaches the Bitrix24 channel instead of calling a portal."""
    messages: list[tuple[int, str]] = []

    def notify(installation, text, cause):
        messages.append((installation.id, text))
        return True
    monkeypatch.setattr(alerts, "_notify_platform", notify)
    return messages


def test_once_per_cause_per_day(installation, sent, monkeypatch):
    assert alerts.send(installation.id, "needs_reconnect", "Renew it.")
    assert not alerts.send(installation.id, "needs_reconnect", "Renew it.")
    assert alerts.send(installation.id, "failed:invoice_to_ledger:validation", "Failed.")
    assert len(sent) == 2
    tomorrow = alerts.utcnow() + timedelta(days=1)
    monkeypatch.setattr(alerts, "utcnow", lambda: tomorrow)
    assert alerts.send(installation.id, "needs_reconnect", "Renew it.")
    assert len(sent) == 3


def test_a_channel_that_fails_lets_the_next_occurrence_try_again(installation, monkeypatch):
    monkeypatch.setattr(alerts, "_notify_platform", mock.Mock(side_effect=RuntimeError("portal down")))
    assert not alerts.send(installation.id, "needs_reconnect", "Renew it.")
    assert db.session.query(SentAlert).count() == 0


def test_a_permanent_failure_enqueues_one_alert_a_retryable_none(app, installation, run_jobs, stand_in_flows, sent,
                                                                 monkeypatch):
    from bridge import engine

    errors = {"invoice:1": PermanentError("Xero refused the invoice.", code="validation", fix="Fix the tax rate."),
              "invoice:2": PermanentError("Xero refused the invoice.", code="validation"),
              "invoice:3": RetryableError("Xero is busy.", retry_after=60)}

    def failing(ctx):
        raise errors[ctx.object_key]
    monkeypatch.setitem(engine.FLOWS, "invoice_to_ledger", failing)
    monkeypatch.setitem(engine.BATCH_SIZES, "invoice_to_ledger", 1)
    for key in errors:
        request_work(WorkRequest(installation.id, "invoice_to_ledger", key))
    db.session.commit()
    run_jobs()
    assert db.session.query(SyncRecord).filter_by(state="failed").count() == 2
    assert len(sent) == 1  # two failures of one cause today: one alert; the retryable one none
    assert "Xero refused the invoice. Fix the tax rate." in sent[0][1]


def test_daily_digest_counts_the_day_and_names_a_connection_to_renew(installation, sent):
    from bridge.models import LedgerConnection

    db.session.add(LedgerConnection(installation_id=installation.id, ledger="xero", organisation_id="o",
                                    organisation_name="Acme NZ", health="needs_reconnect"))
    for state in ("succeeded", "succeeded", "failed"):
        db.session.add(SyncRecord(installation_id=installation.id, flow="f", object_kind="invoice", object_id="1",
                                  direction="to_ledger", state=state))
    db.session.commit()
    assert alerts.daily_once() == {"digests": 1, "reconnect": 1}
    digest = sent[-1][1]
    assert "2 synced, 1 failed" in digest and "Acme NZ" in digest
    assert alerts.daily_once() == {"digests": 0, "reconnect": 0}  # the same day again: nothing


def test_the_digest_counts_invoices_whose_amounts_differ(installation, sent):
    for state in ("succeeded", "amounts_differ"):
        db.session.add(SyncRecord(installation_id=installation.id, flow="invoice_to_ledger", object_kind="invoice",
                                  object_id="1", direction="to_ledger", state=state))
    db.session.commit()
    alerts.daily_once()
    digest = sent[-1][1]
    assert "1 synced" in digest and "1 booked by the ledger with amounts that differ" in digest
    assert "check the tax mapping" in digest and "Open the sync log" in digest


def test_nothing_happened_no_digest(installation, sent):
    assert alerts.daily_once() == {"digests": 0, "reconnect": 0}
    assert sent == []


def test_email_when_smtp_is_configured(app, installation, monkeypatch):
    monkeypatch.setattr(alerts, "_notify_platform", lambda *a: False)
    app.config.update(SMTP_HOST="mail.example", SMTP_PORT=2525, SMTP_TO="ops@partner.example",
                      SMTP_USER="bridge", SMTP_PASSWORD="pw", SMTP_FROM="bridge@partner.example")
    with mock.patch("smtplib.SMTP") as smtp:
        assert alerts.send(installation.id, "needs_reconnect", "Renew it.")
    smtp.assert_called_once_with("mail.example", 2525, timeout=30.0)
    session = smtp.return_value.__enter__.return_value
    session.starttls.assert_called_once()
    session.login.assert_called_once_with("bridge", "pw")
    message = session.send_message.call_args.args[0]
    assert message["To"] == "ops@partner.example" and "Renew it." in message.get_content()
    assert db.session.query(SentAlert).one().channels == "email"


def test_no_smtp_no_email(app, installation, monkeypatch):
    monkeypatch.setattr(alerts, "_notify_platform", lambda *a: False)
    with mock.patch("smtplib.SMTP") as smtp:
        assert not alerts.send(installation.id, "needs_reconnect", "Renew it.")
    smtp.assert_not_called()



def test_a_german_portal_is_alerted_in_german_the_partner_by_e_mail_in_english(installation, run_jobs, sent,
                                                                                 monkeypatch):
    """The portal's administrator reads the portal's language; SMTP_TO is the partner running
    bridge, who reads what the logs read."""
    installation.language = "de"
    db.session.commit()
    emails = []
    monkeypatch.setattr(alerts, "_email", lambda inst, text, cause: emails.append(text) or True)
    alerts.note_failure(installation.id, "invoice_to_ledger",  # as the engine calls it where it records
                        PermanentError(N_("Xero rejected the data."), code="validation"))
    db.session.commit()  # the alert goes out after the commit
    run_jobs()
    assert sent[0][1] == ("bridge (acme.bitrix24.com): Eine Synchronisierung ist fehlgeschlagen und wird nicht von "
                          "selbst wiederholt: Xero hat die Daten abgelehnt. Öffnen Sie das Synchronisierungsprotokoll, "
                          "beheben Sie die Ursache und drücken Sie „Erneut versuchen“.")
    assert emails == ["bridge (acme.bitrix24.com): A sync failed and will not be retried by itself: Xero rejected "
                      "the data. Open the sync log, fix the cause and press Retry."]
    assert db.session.query(SentAlert).one().message_i18n["id"].startswith("A sync failed")


def test_the_administrator_is_told_inside_the_platform_through_its_port(installation, monkeypatch):
    """alerts names no platform: the installation's platform port says whether and how its
    administrator is told (Bitrix24's im.notify, ``Bitrix24Platform.notify_admin``)."""
    from bridge.connectors.bitrix24.platform import Bitrix24Platform

    told: list[tuple[int, str]] = []
    monkeypatch.setattr(Bitrix24Platform, "notify_admin",
                        classmethod(lambda cls, inst, text: told.append((inst.id, text)) or True))
    assert alerts.send(installation.id, "needs_reconnect", "Renew it.")
    assert len(told) == 1 and told[0][0] == installation.id and "Renew it." in told[0][1]
    assert db.session.query(SentAlert).one().channels == "bitrix24"


def test_the_digest_counts_the_open_differences_of_the_reconciliation_report(installation, sent):
    from bridge.report_models import ReportRow

    for n, state in enumerate(("open", "open", "ignored", "fixed")):
        db.session.add(ReportRow(installation_id=installation.id, kind="amounts", platform_id=str(n), ledger_id=str(n),
                                 state=state))
    db.session.commit()
    assert alerts.daily_once()["digests"] == 1  # nothing synced today, but two differences wait
    assert "The reconciliation report has 2 open differences" in sent[-1][1]
