"""The companies' user fields as the sandbox portal simulates them (dev.1c-bitrix.ru/rest_help/crm/
company/crm_company_userfield_add.php): the UF_CRM_ prefix, 20 characters with it, one field per name,
and a company's value read back when named in crm.company.list's select."""
from __future__ import annotations

from tests.sandbox.bitrix24_support import ACME, install_tokens, rest


def test_company_field_prefix_length_duplicate_and_value(sandbox):
    token = install_tokens(sandbox)["auth"]["access_token"]
    added = rest(sandbox, ACME, "crm.company.userfield.add", token, fields={
        "FIELD_NAME": "BRIDGE_THEME", "USER_TYPE_ID": "string", "EDIT_FORM_LABEL": "Invoice branding theme"})
    assert added.status_code == 200 and isinstance(added.json()["result"], int)
    listed = rest(sandbox, ACME, "crm.company.userfield.list", token, filter={"FIELD_NAME": "UF_CRM_BRIDGE_THEME"})
    assert [(u["ENTITY_ID"], u["USER_TYPE_ID"]) for u in listed.json()["result"]] == [("CRM_COMPANY", "string")]
    again = rest(sandbox, ACME, "crm.company.userfield.add", token, fields={"FIELD_NAME": "BRIDGE_THEME",
                                                                           "USER_TYPE_ID": "string"})
    assert again.status_code == 400 and "already exists" in again.json()["error_description"]
    too_long = rest(sandbox, ACME, "crm.company.userfield.add", token, fields={"FIELD_NAME": "BRIDGE_THEME_CHOSEN",
                                                                              "USER_TYPE_ID": "string"})
    assert too_long.json()["error"] == "ERROR_CORE"
    company = rest(sandbox, ACME, "crm.company.add", token, fields={
        "TITLE": "Wayne Enterprises", "UF_CRM_BRIDGE_THEME": "Special Projects"}).json()["result"]
    rows = rest(sandbox, ACME, "crm.company.list", token, filter={"ID": company},
                select=["ID", "UF_CRM_BRIDGE_THEME"]).json()["result"]
    assert rows == [{"ID": str(company), "UF_CRM_BRIDGE_THEME": "Special Projects"}]
