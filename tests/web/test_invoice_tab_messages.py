"""The invoice tab reads a record's problem in the portal's language, with what the ledger named."""
from __future__ import annotations

from flask_babel import refresh

from bridge.extensions import db
from bridge.models import SyncRecord

from .conftest import launch


def test_the_invoice_tab_reads_a_ledger_refusal_in_german_with_what_the_ledger_named(client, portal):
    from bridge.connectors.xero.errors import element_error

    # Xero's own words stay as they are; bridge's sentence names the tax code Xero named.
    error = element_error(["TaxType code 'OUTPUT2' cannot be used with account code '200'"])
    db.session.add(SyncRecord(installation_id=portal.id, flow="invoice_to_ledger", object_kind="invoice",
                              object_id="7", direction="to_ledger", state="failed", error_code=error.code,
                              error_message=error.message, error_fix=error.fix, ledger_messages=error.ledger_messages))
    db.session.commit()
    refresh()
    html = launch(client, "/bitrix24/placement/invoice", {"ID": "7"}, lang="de").get_data(as_text=True)
    sentence = "Der Steuersatz OUTPUT2 und das Erlöskonto 200 einer Position passen in Xero nicht zusammen."
    assert html.count(sentence) == 2  # the headline and the history row
    assert "Ändern Sie die Steuerzuordnung oder das Erlöskonto in den Einstellungen." in html
    assert "TaxType code &#39;OUTPUT2&#39; cannot be used with account code &#39;200&#39;" in html
    assert "do not go together" not in html


def test_a_conflict_reads_its_sentence_and_choices_in_the_portals_language(client, portal, run_jobs, monkeypatch):
    from bridge import engine
    from bridge.engine import WorkRequest, request_work
    from bridge.errors import ConflictError
    from bridge.messages import N_

    def conflicting(ctx):  # as a flow raises it, in a worker: no page, no language
        raise ConflictError(N_("Xero rejected the data: %(messages)s", messages="edited there"),
                            ours={"header": {}}, theirs={"header": {}},
                            choices=[N_("Make the same edit on the platform")],
                            fix=N_("Correct the data named in Xero's message and retry."))
    monkeypatch.setitem(engine.FLOWS, "invoice_to_ledger", conflicting)
    monkeypatch.setitem(engine.BATCH_SIZES, "invoice_to_ledger", 1)
    request_work(WorkRequest(portal.id, "invoice_to_ledger", "invoice:7"))
    db.session.commit()
    run_jobs()
    refresh()
    html = launch(client, "/bitrix24/placement/invoice", {"ID": "7"}, lang="de").get_data(as_text=True)
    assert "Xero hat die Daten abgelehnt: edited there" in html
    assert "<li>Nehmen Sie dieselbe Änderung auf der Plattform vor</li>" in html
    assert "Make the same edit" not in html
