"""Fixtures for the Xero sandbox tests: an org, a token, and a session that checks every
exchange against the official spec. Import the fixtures into a test module to use them."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.support.xero_spec import install_validator, spec_dir

JSON = {"Accept": "application/json"}


@pytest.fixture(scope="session")
def xero_spec():
    """The spec directory; tests that validate against it are skipped without it (not in CI)."""
    path = spec_dir()
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Xero spec directory not found (set XERO_SPEC_DIR)")
        pytest.skip("Xero spec directory not found (set XERO_SPEC_DIR)")
    return path


@dataclass
class Xero:
    url: str            # sandbox root
    host: Any           # SandboxHost
    session: requests.Session
    tenant_id: str
    token: dict

    @property
    def api(self) -> str:
        return f"{self.url}/api.xero.com/api.xro/2.0"

    @property
    def system(self):
        return self.host.systems["xero"]

    def headers(self, **extra: str) -> dict:
        return {**JSON, "Authorization": f"Bearer {self.token['access_token']}", "xero-tenant-id": self.tenant_id,
                **extra}

    def call(self, method: str, path: str, *, headers: dict | None = None, **kw: Any) -> requests.Response:
        return self.session.request(method, f"{self.api}/{path.lstrip('/')}", headers=self.headers(**(headers or {})),
                                    timeout=10, **kw)

    def control(self, method: str, path: str, **kw: Any) -> requests.Response:
        return requests.request(method, f"{self.url}/_sandbox/xero/{path.lstrip('/')}", timeout=10, **kw)

    def advance(self, seconds: float) -> None:
        requests.post(f"{self.url}/_sandbox/clock", json={"advance": seconds}, timeout=5).raise_for_status()

    def new_org(self, name: str = "Second Org", region: str = "NZ") -> str:
        return self.control("POST", "orgs", json={"name": name, "region": region}).json()["tenantId"]

    def mint(self, tenant_ids: list[str] | None = None, scopes: list[str] | None = None) -> dict:
        body: dict = {"tenant_ids": tenant_ids or [self.tenant_id]}
        if scopes:
            body["scopes"] = scopes
        resp = self.control("POST", "tokens", json=body)
        resp.raise_for_status()
        return resp.json()

    # --- shortcuts ---------------------------------------------------------------------
    def contact(self, name: str = "Acme Ltd", **fields: Any) -> dict:
        resp = self.call("PUT", "Contacts", json={"Contacts": [{"Name": name, **fields}]})
        assert resp.status_code == 200, resp.text
        return resp.json()["Contacts"][0]

    def invoice(self, contact_id: str, status: str = "DRAFT", lines: list | None = None, **fields: Any) -> dict:
        body = {"Type": "ACCREC", "Contact": {"ContactID": contact_id}, "Status": status, "DueDate": "2030-01-31",
                "LineItems": lines or [{"Description": "Consulting", "Quantity": 2, "UnitAmount": 100,
                                        "AccountCode": "200"}], **fields}
        resp = self.call("PUT", "Invoices", json={"Invoices": [body]})
        assert resp.status_code == 200, resp.text
        return resp.json()["Invoices"][0]


@pytest.fixture
def xero(sandbox, xero_spec) -> Xero:
    """A fresh NZ organisation connected to the demo app, with a session that validates."""
    org = requests.post(f"{sandbox.url}/_sandbox/xero/orgs", json={"name": "Test Org", "region": "NZ"},
                        timeout=5).json()
    token = requests.post(f"{sandbox.url}/_sandbox/xero/tokens", json={"tenant_ids": [org["tenantId"]]},
                          timeout=5).json()
    session = install_validator(requests.Session())
    return Xero(url=sandbox.url, host=sandbox.host, session=session, tenant_id=org["tenantId"], token=token)
