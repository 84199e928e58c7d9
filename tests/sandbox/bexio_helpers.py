"""Small helpers the Bexio sandbox tests share: a token from the control endpoint and a
client that talks to api.bexio.com the way an integration does."""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import requests

TIMEOUT = 5


def control(sandbox, path: str, body: dict | None = None, method: str = "POST") -> requests.Response:
    return requests.request(method, f"{sandbox.url}/_sandbox/bexio{path}", json=body, timeout=TIMEOUT)


def mint(sandbox, company_id: str = "alpenblick", scope: str | None = None) -> dict:
    body: dict[str, Any] = {"company_id": company_id}
    if scope:
        body["scope"] = scope
    response = control(sandbox, "/token", body)
    assert response.status_code == 200, response.text
    return response.json()


def decimal_json(response: requests.Response) -> Any:
    return json.loads(response.text, parse_float=Decimal)


class Api:
    """api.bexio.com through the sandbox, with a bearer token of one company."""

    def __init__(self, sandbox, company_id: str = "alpenblick", scope: str | None = None,
                 token: str | None = None) -> None:
        self.base = f"{sandbox.url}/api.bexio.com"
        self.token = token or mint(sandbox, company_id, scope)["access_token"]

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> requests.Response:
        headers = {"Accept": "application/json", "Authorization": f"Bearer {self.token}"}
        return requests.request(method, self.base + path, json=body, params=params or None,
                                headers=headers, timeout=TIMEOUT)

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.call("GET", path, **params)

    def post(self, path: str, body: Any = None, **params: Any) -> requests.Response:
        return self.call("POST", path, body, **params)

    # -- resolving reference data the way the integration must (never hard-coded) --------
    def tax_id(self, code: str) -> int:
        taxes = self.get("/3.0/taxes", types="sales_tax", scope="active").json()
        return next(t["id"] for t in taxes if t["code"] == code)

    def user_id(self) -> int:
        return self.get("/3.0/users/me").json()["id"]

    def account_id(self, number: str = "3200") -> int:
        return next(a["id"] for a in self.get("/2.0/accounts").json() if a["account_no"] == number)

    def contact(self, mail: str = "kundin@example.ch", **fields: Any) -> dict:
        uid = self.user_id()
        body = {"contact_type_id": 2, "name_1": "Muster", "name_2": "Anna", "user_id": uid,
                "owner_id": uid, "mail": mail, "street_name": "Seestrasse", "house_number": "12",
                "postcode": "8000", "city": "Zürich", **fields}
        response = self.post("/2.0/contact", body)
        assert response.status_code == 201, response.text
        return response.json()

    def invoice(self, positions: list[dict], contact_id: int | None = None, **fields: Any) -> requests.Response:
        body = {"contact_id": contact_id or self.contact()["id"], "user_id": self.user_id(),
                "mwst_type": 0, "mwst_is_net": False, "is_valid_from": "2024-03-01",
                "positions": positions, **fields}
        return self.post("/2.0/kb_invoice", body)

    def custom(self, price: str, tax_code: str = "UN81", amount: str = "1", text: str = "Item") -> dict:
        return {"type": "KbPositionCustom", "amount": amount, "unit_price": price,
                "tax_id": self.tax_id(tax_code), "account_id": self.account_id(), "text": text}
