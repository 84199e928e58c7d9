"""The invoice tab: the ledger invoice and its link, the history, conflicts, the preview, sync now."""
from __future__ import annotations

import re
from decimal import Decimal
from html import unescape
from datetime import date, datetime, timedelta, timezone

from bridge.domain import Invoice, Line, Party, PartyKind
from bridge.extensions import db
from bridge.models import Link, SyncRecord, WorkItem
from bridge.sync.preview import Preview

from .conftest import launch, token_in

TAB = "/bitrix24/placement/invoice"


def test_tab_shows_the_xero_invoice_with_a_link_and_the_errors_in_words(client, portal):
    db.session.add(Link(installation_id=portal.id, kind="invoice", platform_id="7", ledger="xero", ledger_org="t1",
                        ledger_id="abc-123", ledger_number="INV-0042", ledger_status="DRAFT", extra={}))
    db.session.add(SyncRecord(installation_id=portal.id, flow="invoice_to_ledger", object_kind="invoice", object_id="7",
                              direction="to_ledger", state="failed", error_message="The tax rate 19% has no Xero tax type.",
                              error_fix="Map it under Settings, Tax.", ledger_messages=["TaxType is invalid"]))
    db.session.commit()
    html = launch(client, TAB, {"ID": "7"}).get_data(as_text=True)
    assert "INV-0042" in html and "https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID=abc-123" in html
    assert "The tax rate 19% has no Xero tax type." in html and "Map it under Settings, Tax." in html
    assert "TaxType is invalid" in html
    assert ">Retry<" in html


def test_a_conflict_shows_both_versions_and_the_choices(client, portal):
    db.session.add(SyncRecord(installation_id=portal.id, flow="ledger_invoice_changed", object_kind="invoice",
                              object_id="8", direction="to_platform", state="conflict", error_message="Both changed.",
                              received={"ours": {"header": {"reference": "PO-1"}},
                                        "theirs": {"header": {"reference": "PO-2"}},
                                        "choices": ["Make the same edit on the platform"]}))
    db.session.commit()
    html = launch(client, TAB, {"ID": "8"}).get_data(as_text=True)
    assert "PO-1" in html and "PO-2" in html and "Make the same edit on the platform" in html


def test_sync_now_requests_a_manual_run_and_refreshes_the_panel(client, portal):
    html = launch(client, TAB, {"ID": "9"}).get_data(as_text=True)
    reply = client.post(f"{TAB}/9/sync", data={"token": token_in(html)}, headers={"HX-Request": "true"})
    body = reply.get_data(as_text=True)
    assert reply.status_code == 200 and "Sync requested." in body and "<html" not in body
    item = db.session.scalar(db.select(WorkItem).where(WorkItem.object_key == "invoice:9"))
    assert item.flow == "invoice_to_ledger" and item.options["manual"] is True
    assert 'hx-trigger="every 3s"' in body  # keeps polling while it waits


def test_a_token_for_one_invoice_does_not_sync_another(client, portal):
    html = launch(client, TAB, {"ID": "9"}).get_data(as_text=True)
    assert client.post(f"{TAB}/10/sync", data={"token": token_in(html)}).status_code == 401
    assert db.session.scalar(db.select(WorkItem)) is None


def test_the_preview_is_a_table_of_lines_tax_and_totals(client, portal, monkeypatch):
    invoice = Invoice(key="bitrix24:7", number="", issue_date=date(2026, 11, 1), currency="EUR",
                      party=Party(key="company:1", kind=PartyKind.COMPANY, name="Globex"),
                      lines=[Line("Consulting", Decimal("2"), Decimal("100.00"), tax_rate=Decimal("19"),
                                  ledger_tax_code="OUTPUT2", ledger_account_code="200"),
                             Line("Books", Decimal("1"), Decimal("10.00"), tax_rate=Decimal("7"))])
    monkeypatch.setattr("bridge.web.bitrix24.app.preview_invoice", lambda inst, pid: Preview(
        document={}, contact={"name": "Globex Ltd", "new": False, "matched_by": "link"}, invoice=invoice))
    html = launch(client, TAB, {"ID": "7"}).get_data(as_text=True)
    body = client.get(f"{TAB}/7/preview", query_string={"token": token_in(html)}).get_data(as_text=True)
    assert "Globex Ltd" in body and "OUTPUT2" in body
    assert "(matched by its link from an earlier sync)" in body  # in words, not the matcher's code "link"
    assert "€210.00" in body  # net 200 + 10
    assert "€38.70" in body  # 38.00 + 0.70
    assert "€248.70" in body
    assert "No tax code is mapped for the rate 7%" in body


def test_the_tab_speaks_the_portals_language_also_after_htmx_requests(client, portal, monkeypatch):
    invoice = Invoice(key="bitrix24:7", number="", issue_date=date(2026, 11, 1), currency="EUR",
                      party=Party(key="company:1", kind=PartyKind.COMPANY, name="Globex"),
                      lines=[Line("Beratung", Decimal("1"), Decimal("1234.50"), tax_rate=Decimal("19"),
                                  ledger_tax_code="UST19")])
    monkeypatch.setattr("bridge.web.bitrix24.app.preview_invoice", lambda inst, pid: Preview(
        document={}, contact={"name": "Globex GmbH", "new": True}, invoice=invoice))
    html = launch(client, TAB, {"ID": "7"}, lang="de").get_data(as_text=True)
    assert 'lang="de"' in html and "Noch nicht synchronisiert." in html and "Jetzt synchronisieren" in html
    body = client.get(f"{TAB}/7/preview", query_string={"token": token_in(html)}).get_data(as_text=True)
    assert "1.234,50\xa0€" in body and "(wird angelegt)" in body  # German money format
    reply = client.post(f"{TAB}/7/sync", data={"token": token_in(html)}, headers={"HX-Request": "true"})
    assert "Synchronisierung angefordert." in reply.get_data(as_text=True)


def test_an_invoice_queued_behind_a_run_says_until_when_at_the_latest(client, portal):
    """One batch run per installation at a time: an invoice behind it says so, and by when it
    goes on even if that run's worker was lost (its lease), not just "waiting"."""
    started = datetime(2026, 11, 22, 9, 15, tzinfo=timezone.utc)
    db.session.add(WorkItem(installation_id=portal.id, flow="invoice_to_ledger", object_key="invoice:12",
                            state="running", last_run_at=started, lease_until=started + timedelta(minutes=10)))
    db.session.add(WorkItem(installation_id=portal.id, flow="invoice_to_ledger", object_key="invoice:13",
                            state="queued"))
    db.session.commit()
    html = launch(client, TAB, {"ID": "13"}).get_data(as_text=True)
    assert "behind other invoices whose sync started at 11/22/26, 9:15" in html
    assert "goes on by 11/22/26, 9:25" in html
    assert "Syncing now." in launch(client, TAB, {"ID": "12"}).get_data(as_text=True)


def test_a_run_that_changed_nothing_still_reads_as_synced(client, portal):
    db.session.add(Link(installation_id=portal.id, kind="invoice", platform_id="11", ledger="xero", ledger_org="t1",
                        ledger_id="abc-11", ledger_number="INV-0011", ledger_status="DRAFT", extra={}))
    db.session.add(SyncRecord(installation_id=portal.id, flow="invoice_to_ledger", object_kind="invoice",
                              object_id="11", direction="to_ledger", state="skipped"))
    db.session.commit()
    html = launch(client, TAB, {"ID": "11"}).get_data(as_text=True)
    assert "Synced. Nothing changed since." in html and "Nothing to sync" not in html


def test_with_the_sync_box_off_the_tab_says_so_and_offers_no_sync_now(client, portal):
    """"Sync now" does not override the invoice's own box: the tab says how to sync instead."""
    db.session.add(Link(installation_id=portal.id, kind="invoice", platform_id="11", ledger="xero", ledger_org="t1",
                        ledger_id="abc-11", ledger_number="INV-0011", ledger_status="DRAFT", extra={}))
    db.session.add(SyncRecord(installation_id=portal.id, flow="invoice_to_ledger", object_kind="invoice",
                              object_id="11", direction="to_ledger", state="skipped",
                              warning="Sync is switched off for this invoice: later changes are not sent."))
    db.session.commit()
    html = launch(client, TAB, {"ID": "11"}).get_data(as_text=True)
    assert "is off for this invoice: later changes are not sent to Xero" in html
    assert "tick “Sync with Xero” on the invoice" in html
    assert ">Sync now<" not in html and ">Retry<" not in html
    assert "INV-0011" in html  # what was synced before stays shown


def test_ticking_the_box_again_brings_sync_now_back(client, portal):
    for state, warning in (("skipped", "Sync is switched off for this invoice."), ("succeeded", None)):
        db.session.add(SyncRecord(installation_id=portal.id, flow="invoice_to_ledger", object_kind="invoice",
                                  object_id="12", direction="to_ledger", state=state, warning=warning))
    db.session.commit()
    html = launch(client, TAB, {"ID": "12"}).get_data(as_text=True)
    assert ">Sync now<" in html and "is off for this invoice" not in html


def test_a_german_tab_names_the_ledger_invoices_status_in_german(client, portal):
    db.session.add(Link(installation_id=portal.id, kind="invoice", platform_id="7", ledger="xero", ledger_org="t1",
                        ledger_id="abc-7", ledger_number="INV-0007", ledger_status="paid", extra={}))
    db.session.commit()
    html = launch(client, TAB, {"ID": "7"}, lang="de").get_data(as_text=True)
    assert '<span class="badge">bezahlt</span>' in html


def test_a_conflict_stays_the_headline_after_a_flow_back_that_found_nothing(client, portal):
    """Edited in Bitrix24 while Xero approved it: the export's conflict, then the approval's
    flow-back with nothing to copy. The tab must not call that "Synced"."""
    db.session.add(Link(installation_id=portal.id, kind="invoice", platform_id="7", ledger="xero", ledger_org="t1",
                        ledger_id="abc-7", ledger_number="INV-0007", ledger_status="authorised", extra={}))
    db.session.add(SyncRecord(installation_id=portal.id, flow="invoice_to_ledger", object_kind="invoice",
                              object_id="7", direction="to_ledger", state="conflict",
                              error_message="Xero has this invoice as authorised: the edit was not sent."))
    db.session.add(SyncRecord(installation_id=portal.id, flow="ledger_invoice_changed", object_kind="invoice",
                              object_id="7", direction="to_platform", state="skipped", warning="No change to follow."))
    db.session.commit()
    html = launch(client, TAB, {"ID": "7"}).get_data(as_text=True)
    assert "Synced. Nothing changed since." not in html
    assert html.count("the edit was not sent.") >= 2  # the headline's error and the history


def test_a_bexio_installation_reads_bexio_and_the_box_by_its_title_never_xero(client, portal):
    """Issue 17 item 7: the tab's words come from the installation's ledger, and the box is
    named by the title the portal shows (as the installer read it back)."""
    from bridge.models import LedgerConnection

    db.session.add(LedgerConnection(installation_id=portal.id, ledger="bexio", organisation_id="c1",
                                    organisation_name="Alpen AG"))
    portal.endpoints = {**(portal.endpoints or {}), "setup": {"sync_label": "Sync with Bexio"}}
    db.session.add(SyncRecord(installation_id=portal.id, flow="invoice_to_ledger", object_kind="invoice",
                              object_id="31", direction="to_ledger", state="skipped",
                              warning="Sync is switched off for this invoice: later changes are not sent."))
    db.session.commit()
    html = launch(client, TAB, {"ID": "31"}).get_data(as_text=True)
    assert "<title>Bexio sync" in html and '<h1 id="sync-heading">Bexio</h1>' in html
    assert "tick “Sync with Bexio” on the invoice" in html and "Xero" not in html


def test_before_any_ledger_is_connected_the_tab_is_neutral(client, portal):
    html = launch(client, TAB, {"ID": "32"}).get_data(as_text=True)
    assert '<h1 id="sync-heading">Accounting</h1>' in html and "Xero" not in html


def _polled_url(html: str) -> str | None:
    """Where the panel asks again (htmx ``hx-get`` with ``every 3s``), or None when it stops."""
    match = re.search(r'hx-get="([^"]+)"\s+hx-trigger="every 3s"', html)
    return unescape(match.group(1)) if match else None


def test_a_tab_opened_before_the_invoice_is_known_keeps_asking_until_the_sync_has_an_outcome(client, portal):
    """Opened right after Save, before the portal's event reached bridge: "Not synced yet."
    must not be the last word. The panel polls, as while work is pending, and stops at an outcome."""
    html = launch(client, TAB, {"ID": "40"}).get_data(as_text=True)
    assert "Not synced yet." in html and "this page follows it by itself" in html
    url = _polled_url(html)
    assert url, "the tab does not ask again"
    reply = client.get(url, headers={"HX-Request": "true"})
    assert _polled_url(reply.get_data(as_text=True)) and "HX-Trigger" not in reply.headers  # the preview stays put
    db.session.add(Link(installation_id=portal.id, kind="invoice", platform_id="40", ledger="xero", ledger_org="t1",
                        ledger_id="abc-40", ledger_number="INV-0040", ledger_status="DRAFT", extra={}))
    db.session.add(SyncRecord(installation_id=portal.id, flow="invoice_to_ledger", object_kind="invoice",
                              object_id="40", direction="to_ledger", state="succeeded"))
    db.session.commit()
    reply = client.get(url, headers={"HX-Request": "true"})
    body = reply.get_data(as_text=True)
    assert "Synced." in body and "INV-0040" in body and "Not synced yet." not in body
    assert _polled_url(body) is None  # the outcome: no more asking
    assert reply.headers["HX-Trigger"] == "bridge-sync-settled"  # the preview reloads once


def test_a_tab_that_hears_nothing_for_minutes_stops_asking_and_offers_sync_now(client, portal):
    from bridge.web.bitrix24.app import AWAIT_POLLS

    html = launch(client, TAB, {"ID": "41"}).get_data(as_text=True)
    url = _polled_url(html)
    body = client.get(url.replace("token=", f"polls={AWAIT_POLLS}&token=", 1),
                      headers={"HX-Request": "true"}).get_data(as_text=True)
    assert _polled_url(body) is None and "Not synced yet." in body
    assert "has not told bridge about a change to this invoice" in body and ">Sync now<" in body


def test_an_invoice_never_sent_says_why_in_the_headline(client, portal):
    """A declined invoice that was never in the ledger: "Sync now" sends nothing, and the tab
    says the run's reason, not "sync is off or nothing changed"."""
    db.session.add(SyncRecord(installation_id=portal.id, flow="invoice_to_ledger", object_kind="invoice",
                              object_id="42", direction="to_ledger", state="skipped",
                              warning="The invoice was deleted or cancelled on the platform."))
    db.session.commit()
    html = launch(client, TAB, {"ID": "42"}).get_data(as_text=True)
    assert "<strong>Not sent: The invoice was deleted or cancelled on the platform.</strong>" in html
    assert "sync is off or nothing changed" not in html
