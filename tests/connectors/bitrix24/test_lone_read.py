"""What reading an invoice that arrives alone costs on Bitrix24's wire (mocked HTTP): the
invoice, its product rows and its customer in one ``batch`` request (``$result``
references), so a lone invoice costs that read and the write-back of the Xero id. The
portal's stages are a cached, amortised read, counted apart."""
from __future__ import annotations

import json

import responses

from bridge.connectors.bitrix24.client import Bitrix24Client, StaticAuth
from bridge.connectors.bitrix24.platform import PERSON_SLOTS, Bitrix24Platform

EP = "https://acme.bitrix24.com/rest/"


def portal(invoice: dict, company: dict, links: list[dict], persons: list[dict], rows: list[dict] = (),
           catalogue: dict | None = None) -> list[dict]:
    """Answer batches as a portal would; returns the list of commands each batch carried."""
    batches: list[dict] = []
    responses.post(EP + "crm.category.list", json={"result": {"categories": []}, "time": {}})

    def answer(request):
        cmd = json.loads(request.body)["cmd"]
        batches.append(cmd)
        known = {"items": {"items": [invoice]}, f"r{invoice['id']}": {"productRows": list(rows)}, "co": [company],
                 "cp": links, "ct": [], "pp": persons[:PERSON_SLOTS], **(catalogue or {})}
        for key in cmd:
            if key.startswith("cp") and key != "cp":
                known[key] = links
            if key.startswith("p") and key not in known:
                known[key] = persons
        result = {key: known[key] for key in cmd if key in known}
        return 200, {}, json.dumps({"result": {"result": result, "result_error": [], "result_total": {},
                                               "result_next": [], "result_time": {}}, "time": {}})

    responses.add_callback(responses.POST, EP + "batch", callback=answer)
    return batches


INVOICE = {"id": 7, "companyId": 3, "contactId": 0, "title": "Workshop", "currencyId": "NZD"}
COMPANY = {"ID": "3", "TITLE": "Globex Ltd"}


@responses.activate
def test_a_lone_invoice_with_its_customer_is_one_request(installation):
    person = {"ID": "11", "NAME": "Ann", "LAST_NAME": "Lee"}
    batches = portal(INVOICE, COMPANY, [{"CONTACT_ID": 11, "SORT": 10}], [person])
    platform = Bitrix24Platform(installation, Bitrix24Client(StaticAuth(EP, "t"), sleep=lambda s: None))
    invoice = platform.get_invoice("7")
    assert invoice.party.name == "Globex Ltd"
    assert [p.full_name for p in invoice.party.contact_persons] == ["Ann Lee"]
    assert len(batches) == 1  # invoice, rows, company, its contact links and persons together


@responses.activate
def test_a_company_with_more_persons_than_the_lone_read_holds_is_read_whole(installation):
    persons = [{"ID": str(n), "NAME": f"P{n}", "LAST_NAME": "X"} for n in range(20, 20 + PERSON_SLOTS + 1)]
    links = [{"CONTACT_ID": int(p["ID"]), "SORT": n} for n, p in enumerate(persons)]
    batches = portal(INVOICE, COMPANY, links, persons)
    platform = Bitrix24Platform(installation, Bitrix24Client(StaticAuth(EP, "t"), sleep=lambda s: None))
    invoice = platform.get_invoice("7")
    assert len(invoice.party.contact_persons) == PERSON_SLOTS + 1  # none left out
    assert len(batches) == 3  # the lone read, then the usual customer read and persons read


@responses.activate
def test_catalogue_sections_are_an_amortised_read(installation):
    """Invoices of catalogue products: the products' sections and the section tree are read
    once per portal and window, not once per invoice."""
    row = {"id": 1, "productId": 103, "productName": "Training", "price": "115.00", "quantity": 1, "taxRate": 15,
           "taxIncluded": "N"}
    catalogue = {"p103": {"product": {"id": 103, "iblockId": 14, "iblockSectionId": 15}},
                 "tree": {"sections": [{"id": 14, "iblockSectionId": None}, {"id": 15, "iblockSectionId": 14}]}}
    batches = portal(INVOICE, COMPANY, [], [], rows=[row], catalogue=catalogue)
    client = Bitrix24Client(StaticAuth(EP, "t"), sleep=lambda s: None)
    first = Bitrix24Platform(installation, client).get_invoice("7")
    assert first.lines[0].product_sections == ("15", "14")
    assert len(batches) == 2  # the lone read, then the catalogue
    again = Bitrix24Platform(installation, client).get_invoice("7")  # the next invoice, another run
    assert again.lines[0].product_sections == ("15", "14")
    assert len(batches) == 3  # the lone read only
