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
