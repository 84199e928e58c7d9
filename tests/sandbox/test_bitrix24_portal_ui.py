"""The portal pages: invoice list/card, saving from the card, the install page and BX24 stand-in."""
from __future__ import annotations

import re

import requests

from tests.sandbox.bitrix24_support import ACME, control, install_tokens, rest, start_receiver


def test_card_save_changes_stage_visible_in_list_and_fires_event(sandbox):
    running, receiver = start_receiver()
    try:
        control(sandbox, "/settings", allow_insecure_handlers=True)
        token = install_tokens(sandbox)["auth"]["access_token"]
        rest(sandbox, ACME, "event.bind", token, event="ONCRMDYNAMICITEMUPDATE", handler=f"{receiver.url}/hooks/bitrix24")
        item = control(sandbox, f"/portals/{ACME}/invoices", fields={"title": "UI"})["item"]
        saved = requests.post(f"{sandbox.url}/{ACME}/crm/type/31/details/{item['id']}/",
                              data={"title": "UI", "stageId": "DT31_1:P", "contactId": "0"}, timeout=10)
        assert saved.status_code == 200 and "Paid" in requests.get(f"{sandbox.url}/{ACME}/crm/type/31/list/", timeout=10).text
        requests.post(f"{sandbox.url}/{ACME}/crm/type/31/details/{item['id']}/?tab=products",
                      data={"row_name": ["Thing", ""], "row_product": ["", ""], "row_price": ["12", ""],
                            "row_qty": ["2", ""], "row_tax": ["20", ""]}, timeout=10)
        control(sandbox, "/events/wait")
        assert [c["form"]["data[FIELDS][ID]"] for c in receiver.calls] == [str(item["id"])] * 2
        assert rest(sandbox, ACME, "crm.item.get", token, entityTypeId=31, id=item["id"]).json()["result"]["item"]["opportunity"] == 24
    finally:
        running.stop()


def test_install_page_frames_install_url_and_installs_only_on_finish(sandbox):
    page = requests.post(f"{sandbox.url}/{ACME}/marketplace/local/install", timeout=10).text
    assert "waiting for BX24.installFinish()" in page
    frame_src = re.search(r'src="(/acme\.bitrix24\.com/_portal/frame/[^"]+)"', page).group(1)
    document = requests.get(f"{sandbox.url}{frame_src}", timeout=10).text
    assert "action='http://127.0.0.1:9/bitrix24/install?DOMAIN=acme.bitrix24.com" in document
    auth_id = re.search(r'name="AUTH_ID" value="([^"]+)"', document).group(1)
    assert rest(sandbox, ACME, "app.info", auth_id).json()["result"]["INSTALLED"] is False
    finished = requests.post(f"{sandbox.url}/{ACME}/_portal/install-finish", json={"auth": auth_id}, timeout=10)
    assert finished.status_code == 200
    assert rest(sandbox, ACME, "app.info", auth_id).json()["result"]["INSTALLED"] is True


def test_bx24_library_is_served_where_apps_load_it(sandbox):
    script = requests.get(f"{sandbox.url}/api.bitrix24.com/api/v1/", timeout=10)
    assert script.headers["Content-Type"].startswith("application/javascript")
    for name in ("installFinish", "callMethod", "fitWindow", "resizeWindow", "getAuth", "placement"):
        assert name in script.text


def test_a_german_portal_opens_the_app_pages_with_lang_de(sandbox):
    control(sandbox, f"/portals/{ACME}/settings", language="de")
    page = requests.post(f"{sandbox.url}/{ACME}/marketplace/local/install", timeout=10).text
    frame_src = re.search(r'src="(/acme\.bitrix24\.com/_portal/frame/[^"]+)"', page).group(1)
    document = requests.get(f"{sandbox.url}{frame_src}", timeout=10).text
    assert "LANG=de" in document and "LANG=en" not in document
    assert '"LANG": "de"' in page  # what BX24.getLang() answers inside the frame


def test_the_card_sets_the_invoices_company_and_currency(sandbox):
    """The README tour's step: New invoice, a company, NZD, saved from the card alone."""
    company = control(sandbox, f"/portals/{ACME}/companies", fields={"TITLE": "Tour Ltd"})
    item = control(sandbox, f"/portals/{ACME}/invoices", fields={"title": "Card"})["item"]
    card = requests.get(f"{sandbox.url}/{ACME}/crm/type/31/details/{item['id']}/", timeout=10).text
    assert "Tour Ltd</option>" in card and "NZD</option>" in card
    requests.post(f"{sandbox.url}/{ACME}/crm/type/31/details/{item['id']}/", timeout=10, data={
        "title": "Card", "stageId": "DT31_1:N", "companyId": company["ID"], "contactId": "0", "currencyId": "NZD"})
    saved = next(i for i in control(sandbox, f"/portals/{ACME}/state", method="get")["invoices"] if i["id"] == item["id"])
    assert (saved["companyId"], saved["currencyId"]) == (int(company["ID"]), "NZD")


def sync_box(sandbox, token: str) -> None:
    """The user field an app adds (here bridge's "Sync with Xero", default on)."""
    added = rest(sandbox, ACME, "userfieldconfig.add", token, moduleId="crm", field={
        "entityId": "CRM_SMART_INVOICE", "fieldName": "UF_CRM_SMART_INVOICE_TOUR_SYNC", "userTypeId": "boolean",
        "editFormLabel": {"en": "Sync with Xero"}, "settings": {"DEFAULT_VALUE": 1, "DISPLAY": "CHECKBOX"}})
    assert added.status_code == 200, added.text


def test_new_invoice_opens_an_empty_card_and_save_creates_it_whole_with_one_add_event(sandbox):
    """As in Bitrix24: nothing exists until Save; the app's first event already has the
    client, the currency, the rows (tax, discount) and its own user field."""
    running, receiver = start_receiver()
    try:
        control(sandbox, "/settings", allow_insecure_handlers=True)
        token = install_tokens(sandbox)["auth"]["access_token"]
        rest(sandbox, ACME, "event.bind", token, event="ONCRMDYNAMICITEMADD", handler=f"{receiver.url}/hooks/bitrix24")
        sync_box(sandbox, token)
        company = control(sandbox, f"/portals/{ACME}/companies", fields={"TITLE": "Harbour Cafe Ltd"})
        people = [control(sandbox, f"/portals/{ACME}/contacts", fields={
            "NAME": name, "LAST_NAME": "Ngata", "COMPANY_ID": company["ID"],
            "EMAIL": [{"VALUE": f"{name.lower()}@harbour-cafe.example", "VALUE_TYPE": "WORK"}]}) for name in ("Aroha", "Tane")]
        before = len(control(sandbox, f"/portals/{ACME}/state", method="get")["invoices"])
        card = requests.get(f"{sandbox.url}/{ACME}/crm/type/31/new/", timeout=10).text
        assert "Sync with Xero" in card and "checked" in card  # rendered from the definition, default on
        assert "aroha@harbour-cafe.example" in card and "Discount %" in card
        assert len(control(sandbox, f"/portals/{ACME}/state", method="get")["invoices"]) == before  # nothing yet

        saved = requests.post(f"{sandbox.url}/{ACME}/crm/type/31/new/", timeout=10, data={
            "title": "Catering", "stageId": "DT31_1:N", "companyId": company["ID"], "contacts_shown": "1",
            "contactIds": [people[0]["ID"], people[1]["ID"]], "currencyId": "NZD",
            "uf_UF_CRM_SMART_INVOICE_TOUR_SYNC": ["N", "Y"],
            "row_name": ["Platter", ""], "row_product": ["", ""], "row_price": ["115", ""], "row_qty": ["2", ""],
            "row_discount": ["10", ""], "row_tax": ["15", ""], "row_included": ["Y", "Y"]})
        assert saved.status_code == 200 and "Catering" in saved.text
        control(sandbox, "/events/wait")
        assert len(receiver.calls) == 1  # one ADD, nothing before it
        item_id = int(receiver.calls[0]["form"]["data[FIELDS][ID]"])
        item = rest(sandbox, ACME, "crm.item.get", token, entityTypeId=31, id=item_id).json()["result"]["item"]
        assert (item["companyId"], item["contactIds"], item["currencyId"]) == (
            int(company["ID"]), [int(people[0]["ID"]), int(people[1]["ID"])], "NZD")
        assert item["ufCrmSmartInvoiceTourSync"] == "Y"
        assert item["opportunity"] == 207  # 2 x 115 less 10 %
        row = rest(sandbox, ACME, "crm.item.productrow.list", token,
                   filter={"=ownerType": "SI", "=ownerId": item_id}).json()["result"]["productRows"][0]
        assert (row["discountRate"], row["taxRate"], row["taxIncluded"]) == (10, 15, "Y")
    finally:
        running.stop()


def test_unticking_the_sync_box_on_the_card_is_saved(sandbox):
    token = install_tokens(sandbox)["auth"]["access_token"]
    sync_box(sandbox, token)
    item = control(sandbox, f"/portals/{ACME}/invoices", fields={"title": "Private"})["item"]
    requests.post(f"{sandbox.url}/{ACME}/crm/type/31/details/{item['id']}/", timeout=10, data={
        "title": "Private", "stageId": "DT31_1:N", "uf_UF_CRM_SMART_INVOICE_TOUR_SYNC": "N"})
    item = rest(sandbox, ACME, "crm.item.get", token, entityTypeId=31, id=item["id"]).json()["result"]["item"]
    assert item["ufCrmSmartInvoiceTourSync"] == "N"


def test_the_companies_page_lists_each_company_with_its_people(sandbox):
    cafe = control(sandbox, f"/portals/{ACME}/companies", fields={"TITLE": "Listed Cafe Ltd"})
    control(sandbox, f"/portals/{ACME}/contacts", fields={"NAME": "Ana", "LAST_NAME": "Lee", "COMPANY_ID": cafe["ID"]})
    control(sandbox, f"/portals/{ACME}/contacts", fields={"NAME": "Solo", "LAST_NAME": "Buyer"})
    page = requests.get(f"{sandbox.url}/{ACME}/crm/company/list/", timeout=10).text
    assert re.search(r"Listed Cafe Ltd</td><td>[^<]*</td><td>Ana Lee", page)
    assert "Solo Buyer" in page.split("Contacts without a company")[1]


def test_an_old_invoice_card_creates_on_save_and_shows_the_apps_user_field(sandbox):
    """A portal with old invoices (setting ``invoices``): the same card, crm.invoice.* underneath."""
    running, receiver = start_receiver()
    try:
        control(sandbox, "/settings", allow_insecure_handlers=True)
        control(sandbox, f"/portals/{ACME}/settings", invoices="both")
        token = install_tokens(sandbox)["auth"]["access_token"]
        rest(sandbox, ACME, "event.bind", token, event="ONCRMINVOICEADD", handler=f"{receiver.url}/hooks/bitrix24")
        added = rest(sandbox, ACME, "crm.invoice.userfield.add", token, fields={
            "FIELD_NAME": "TOUR_SYNC", "USER_TYPE_ID": "boolean", "EDIT_FORM_LABEL": "Sync with Xero",
            "SETTINGS": {"DEFAULT_VALUE": 1}})
        assert added.status_code == 200, added.text
        company = control(sandbox, f"/portals/{ACME}/companies", fields={"TITLE": "Old Mill Ltd"})
        assert "Invoices (old)" in requests.get(f"{sandbox.url}/{ACME}/crm/invoice/list/", timeout=10).text
        new = requests.get(f"{sandbox.url}/{ACME}/crm/invoice/edit/0/", timeout=10).text
        assert "Sync with Xero" in new and "checked" in new and "Old Mill Ltd" in new
        status = re.search(r"name='STATUS_ID'><option value='([^']+)'", new).group(1)
        saved = requests.post(f"{sandbox.url}/{ACME}/crm/invoice/edit/0/", timeout=10, data={
            "ORDER_TOPIC": "Flour", "STATUS_ID": status, "UF_COMPANY_ID": company["ID"], "UF_CONTACT_ID": "0",
            "uf_UF_CRM_TOUR_SYNC": ["N", "Y"], "row_name": ["Flour 25 kg", ""],
            "row_price": ["57.50", ""], "row_qty": ["2", ""], "row_discount": ["2.50", ""], "row_tax": ["15", ""],
            "row_included": ["Y", "Y"]})
        assert saved.status_code == 200 and "Flour 25 kg" in saved.text
        control(sandbox, "/events/wait")
        assert len(receiver.calls) == 1
        invoice_id = int(receiver.calls[0]["form"]["data[FIELDS][ID]"])
        invoice = rest(sandbox, ACME, "crm.invoice.get", token, id=invoice_id).json()["result"]
        assert (invoice["UF_COMPANY_ID"], invoice["PERSON_TYPE_ID"], invoice["UF_CRM_TOUR_SYNC"]) == (str(company["ID"]), "2", "1")
        row = invoice["PRODUCT_ROWS"][0]
        assert (row["PRICE"], row["DISCOUNT_PRICE"], row["VAT_RATE"], row["VAT_INCLUDED"]) == ("57.50", "2.50", "0.1500", "Y")
    finally:
        running.stop()


def test_the_footer_language_choice_is_the_lang_every_app_page_gets(sandbox):
    """As in Bitrix24, a user picks their language at the foot of any page: the app pages
    framed afterwards are launched with that LANG (the German UI without a control call)."""
    page = requests.get(f"{sandbox.url}/{ACME}/crm/type/31/list/", timeout=10).text
    assert "<label for='portal-language'>Language</label>" in page and "value='de'>Deutsch" in page
    back = requests.post(f"{sandbox.url}/{ACME}/_portal/language", data={"language": "de"},
                         headers={"Referer": f"{sandbox.url}/{ACME}/crm/company/list/"}, timeout=10)
    assert back.url.endswith("/crm/company/list/") and "value='de' selected" in back.text
    assert control(sandbox, f"/portals/{ACME}/settings")["language"] == "de"
    requests.post(f"{sandbox.url}/{ACME}/_portal/language", data={"language": "xx"}, timeout=10)
    assert control(sandbox, f"/portals/{ACME}/settings")["language"] == "de"  # only a language it has
