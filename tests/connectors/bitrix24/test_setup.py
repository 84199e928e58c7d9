"""The installer on mocked HTTP: legacy invoices, races with an earlier run, a non-admin installer."""
from __future__ import annotations

import json
from urllib.parse import unquote

import pytest
import responses

from bridge.connectors.bitrix24.client import Bitrix24Client, StaticAuth
from bridge.connectors.bitrix24.setup import run_setup
from bridge.errors import PermanentError

EP = "https://x.bitrix24.com/rest/"
EVENTS = ["ONCRMDYNAMICITEMADD", "ONCRMDYNAMICITEMUPDATE", "ONCRMDYNAMICITEMDELETE", "ONCRMINVOICEADD",
          "ONCRMINVOICEUPDATE", "ONCRMINVOICESETSTATUS", "ONCRMINVOICEDELETE", "ONCRMCONTACTADD",
          "ONCRMCONTACTUPDATE", "ONCRMCONTACTDELETE", "ONCRMCOMPANYADD", "ONCRMCOMPANYUPDATE",
          "ONCRMCOMPANYDELETE", "ONAPPINSTALL", "ONAPPUNINSTALL"]
FIELDS = {"fields": {"ufCrm_5_XeroSync": {"upperName": "UF_CRM_SMART_INVOICE_XERO_SYNC"}}}


def envelope(result, errors=None):
    return {"result": {"result": result, "result_error": errors or [], "result_total": [], "result_next": [],
                       "result_time": []}, "time": {}}


def batch_commands(call) -> dict:
    return {k: unquote(v) for k, v in json.loads(call.request.body)["cmd"].items()}


@responses.activate
def test_legacy_invoices_get_their_field_and_races_count_as_done():
    responses.post(EP + "batch", json=envelope({
        "offered_placements": ["CRM_SMART_INVOICE_DETAIL_TAB", "LEFT_MENU"], "placements": [],
        "offered_events": EVENTS, "events": [], "fields": {"fields": []}, "legacy_fields": [],
        "offline_feature": {"value": "N"}}))
    responses.post(EP + "batch", json=envelope({"item_fields": FIELDS, "uf": {"field": {}}}, errors={
        "e_ONCRMCONTACTADD": {"error": "ERROR_CORE", "error_description": "Unable to set event handler: "
                                                                          "Handler already binded"},
        "o_ONCRMCONTACTADD": {"error": "ACCESS_DENIED", "error_description": "Admin rights required"}}))
    responses.post(EP + "crm.item.fields", json={"result": FIELDS, "time": {}})
    result = run_setup(Bitrix24Client(StaticAuth(EP, "t")), "https://bridge.example.com")
    commands = batch_commands(responses.calls[1])
    assert "crm.invoice.userfield.add?fields[FIELD_NAME]=XERO_SYNC" in commands["uf_legacy"]
    assert commands["e_ONCRMINVOICESETSTATUS"] == (
        "event.bind?event=ONCRMINVOICESETSTATUS&handler=https://bridge.example.com/hooks/bitrix24")
    assert "p_CRM_ANALYTICS_MENU" not in commands  # not offered here: skipped with a note
    assert result.legacy_invoices and result.sync_key == "ufCrm_5_XeroSync"
    assert "ONCRMCONTACTADD" in result.events and "ONCRMCONTACTADD" not in result.offline_events
    assert any("administrator" in w for w in result.warnings)
    assert any("CRM_ANALYTICS_MENU" in w for w in result.warnings)


@responses.activate
def test_a_portal_without_the_invoice_tab_is_told_why():
    responses.post(EP + "batch", json=envelope({
        "offered_placements": ["LEFT_MENU"], "placements": [], "offered_events": EVENTS, "events": [],
        "fields": {"fields": []}, "offline_feature": {"value": "Y"}},
        errors={"legacy_fields": {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}}))
    with pytest.raises(PermanentError) as caught:
        run_setup(Bitrix24Client(StaticAuth(EP, "t")), "https://bridge.example.com")
    assert "CRM_SMART_INVOICE_DETAIL_TAB" in caught.value.message and caught.value.fix


def _fresh_portal(fields=None):
    responses.post(EP + "batch", json=envelope({
        "offered_placements": ["CRM_SMART_INVOICE_DETAIL_TAB", "LEFT_MENU"], "placements": [],
        "offered_events": EVENTS, "events": [], "fields": {"fields": fields or []},
        "offline_feature": {"value": "Y"}},
        errors={"legacy_fields": {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}}))
    responses.post(EP + "batch", json=envelope({"item_fields": FIELDS}))
    responses.post(EP + "crm.item.fields", json={"result": FIELDS, "time": {}})


@responses.activate
def test_titles_name_the_connected_ledger_and_are_neutral_before_one_is_connected():
    """Issue 17 item 7: a Bexio installation's portal never reads "Sync with Xero"."""
    _fresh_portal()
    result = run_setup(Bitrix24Client(StaticAuth(EP, "t")), "https://bridge.example.com", "Bexio")
    commands = batch_commands(responses.calls[1])
    assert "Sync with Bexio" in commands["uf"] and "Xero" not in commands["uf"].replace("XERO_SYNC", "")
    assert "TITLE=Bexio&" in commands["p_CRM_SMART_INVOICE_DETAIL_TAB"]
    assert "TITLE=Bexio sync&" in commands["p_LEFT_MENU"]
    assert result.sync_label == "Sync with Bexio"

    responses.reset()
    _fresh_portal()
    result = run_setup(Bitrix24Client(StaticAuth(EP, "t")), "https://bridge.example.com")
    commands = batch_commands(responses.calls[1])
    assert "Sync with accounting" in commands["uf"] and "TITLE=Accounting&" in commands["p_CRM_SMART_INVOICE_DETAIL_TAB"]
    assert result.sync_label == "Sync with accounting"


@responses.activate
def test_a_field_already_on_the_portal_keeps_its_code_and_title_and_the_pages_read_it_back():
    """No migration of portal data: the field made as "Sync with Xero" stays as it is, and
    setup remembers its title so the invoice tab names the box the user sees."""
    _fresh_portal(fields=[{"fieldName": "UF_CRM_SMART_INVOICE_XERO_SYNC", "editFormLabel": {"en": "Sync with Xero"}}])
    result = run_setup(Bitrix24Client(StaticAuth(EP, "t")), "https://bridge.example.com", "Bexio")
    assert "uf" not in batch_commands(responses.calls[1])
    assert result.sync_label == "Sync with Xero"


def test_bound_places_take_the_connected_ledgers_name_and_never_go_back_to_neutral():
    """Bitrix24 has no placement.update: a stale title is unbound and bound again, in that
    order; titles that already name the ledger, other apps' handlers and a disconnect stay."""
    from bridge.connectors.bitrix24.setup import retitle_commands

    url = "https://bridge.example.com"
    bound = [{"placement": "CRM_SMART_INVOICE_DETAIL_TAB", "handler": url + "/bitrix24/placement/invoice",
              "title": "Accounting"},
             {"placement": "LEFT_MENU", "handler": url + "/bitrix24/app", "title": "Xero sync"},
             {"placement": "CRM_ANALYTICS_MENU", "handler": "https://other.example.com/x", "title": "Other"}]
    commands = retitle_commands(bound, url, "Xero")
    assert list(commands) == ["u_CRM_SMART_INVOICE_DETAIL_TAB", "p_CRM_SMART_INVOICE_DETAIL_TAB"]
    assert commands["p_CRM_SMART_INVOICE_DETAIL_TAB"][1]["TITLE"] == "Xero"
    assert commands["u_CRM_SMART_INVOICE_DETAIL_TAB"] == (
        "placement.unbind", {"PLACEMENT": "CRM_SMART_INVOICE_DETAIL_TAB", "HANDLER": url + "/bitrix24/placement/invoice"})
    assert retitle_commands(bound, url, None) == {}
