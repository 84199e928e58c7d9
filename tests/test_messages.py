"""One message convention: a sentence is stored as its id and parameters and shown in the
reader's language; its English text stays what logs and old code read."""
from __future__ import annotations

import json
import pickle
from datetime import date
from decimal import Decimal

from bridge.errors import PermanentError
from bridge.extensions import db
from bridge.messages import Message, Money, N_, Word, from_json, render, to_json
from bridge.models import Installation, SyncRecord
from bridge.stored_messages import columns, stored

# Sentences the German catalogue has (so these tests read real translations).
SAID = "%(ledger)s said:"  # "%(ledger)s meldet:"
VIA = "via %(channels)s"  # "über %(channels)s"


def test_a_message_is_its_english_text_with_the_parameters_filled_in():
    message = N_(SAID, ledger="Bexio")
    assert message == "Bexio said:"
    assert (message.id, message.params) == (SAID, {"ledger": "Bexio"})
    assert str(PermanentError(message)) == "Bexio said:"  # the logs keep reading English


def test_it_renders_in_the_readers_language(app_ctx):
    message = N_(SAID, ledger="Bexio")
    assert render(message, "de") == "Bexio meldet:"
    assert render(message, "en") == "Bexio said:"
    assert render("Plain text someone stored.", "de") == "Plain text someone stored."


def test_parameters_are_rendered_in_the_same_language(app_ctx):
    nested = N_(VIA, channels=Word("status", "paid"))
    assert render(N_(SAID, ledger=nested), "de") == "über bezahlt meldet:"
    assert render(N_(VIA, channels=Money(Decimal("1250.5"), "CHF")), "de") == "über 1.250,50\xa0CHF"
    assert render(N_(VIA, channels=Money(Decimal("1250.5"), "CHF")), "en") == "via CHF1,250.50"
    assert render(N_(VIA, channels=date(2026, 3, 1)), "de") == "über 01.03.2026"
    assert render(N_(VIA, channels=Decimal("8.10")), "de") == "über 8,10" and N_(VIA, channels=Decimal("8.10")) == "via 8.10"
    assert N_(VIA, channels=Word("flow", "invoice_to_ledger")) == "via invoice to ledger"


def test_a_message_missing_a_parameter_still_reads(app_ctx):
    broken = Message("%(a)s and %(b)s", {"a": "x"})  # b is missing: no KeyError for the reader
    assert render(broken, "de") == broken == "%(a)s and %(b)s"


def test_it_survives_json_and_a_queue_with_its_id():
    message = N_(SAID, ledger=N_(VIA, channels=[Money(Decimal("2.50"), "EUR"), Word("state", "failed")]))
    again = from_json(json.loads(json.dumps(to_json(message))))
    assert (again.id, again == message) == (SAID, True)
    assert again.params["ledger"].params["channels"] == [Money(Decimal("2.50"), "EUR"), Word("state", "failed")]
    queued = pickle.loads(pickle.dumps(message))
    assert isinstance(queued, Message) and queued.params == message.params


def _record(**texts) -> SyncRecord:
    installation = Installation(platform="bitrix24", account_id="m-msg", domain="m.bitrix24.com")
    db.session.add(installation)
    db.session.flush()
    record = SyncRecord(installation_id=installation.id, flow="invoice_to_ledger", object_kind="invoice",
                        object_id="1", direction="to_ledger", **texts)
    db.session.add(record)
    db.session.commit()
    return record


def test_a_record_keeps_the_id_of_a_message_and_shows_old_text_as_it_is(app_ctx):
    record = _record(warning=N_(SAID, ledger="Xero"), error_message="Written before messages had ids.")
    db.session.expire_all()
    assert stored(record, "warning") == "Xero said:" and stored(record, "warning").id == SAID
    assert stored(record, "error_message") == "Written before messages had ids."
    assert not isinstance(stored(record, "error_message"), Message)
    record.warning = "Plain text now."  # no id any more: the old one must not come back
    db.session.commit()
    assert record.warning_i18n is None and stored(record, "warning") == "Plain text now."


def test_a_bulk_update_stores_the_id_too(app_ctx):
    record = _record()
    db.session.execute(db.update(SyncRecord).where(SyncRecord.id == record.id)
                       .values(**columns(error_message=N_(VIA, channels="e-mail"))))
    db.session.commit()
    db.session.expire_all()
    assert stored(db.session.get(SyncRecord, record.id), "error_message").id == VIA


def test_a_secret_in_a_parameter_is_redacted_and_the_id_stays():
    from bridge.redaction import redact, register_secret

    register_secret("s3cr3t-token-value")
    cleaned = redact(N_(VIA, channels=["Bearer abc.def", "s3cr3t-token-value"]))
    assert cleaned.id == VIA and cleaned == "via Bearer [redacted]; [redacted]"


def test_a_page_shows_a_message_it_is_handed_in_its_language_escaped(app):
    from flask import render_template_string

    with app.test_request_context("/?LANG=de"):
        html = render_template_string("<p>{{ m }}</p>", m=N_(SAID, ledger="<b>Bexio</b>"))
    assert html == "<p>&lt;b&gt;Bexio&lt;/b&gt; meldet:</p>"


def test_every_error_a_connector_can_raise_is_a_message_with_an_id():
    """An error table's sentence in plain text could only ever be shown in English."""
    from bridge.connectors.bexio.errors import BEXIO_ERRORS
    from bridge.connectors.bitrix24.errors import ERRORS as BITRIX24_ERRORS
    from bridge.connectors.dg1.errors import DG1_ERRORS
    from bridge.connectors.xero.errors import XERO_ERRORS, explain

    plain = [(table.system, rule.message, rule.fix) for table in (BEXIO_ERRORS, BITRIX24_ERRORS, DG1_ERRORS, XERO_ERRORS)
             for rule in table.rules + [table.rule_for(599, None), table.rule_for(418, None)]
             if not isinstance(rule.message, Message) or not isinstance(rule.fix, (Message, type(None)))]
    assert not plain, plain
    for said in (["Invoice # must be unique"], ["Something Xero says that bridge does not know"], []):
        sentence, fix = explain(said)
        assert isinstance(sentence, Message) and isinstance(fix, (Message, type(None)))
