"""A company's own branding theme: a field of the Bitrix24 company a sales rep fills with the
name of a theme of the ledger ("Special Projects"); that company's invoices take it instead
of the installation's default (``bridge/sync/shaping.py``).

The field is new in this release: it is made by an upgrade step when an administrator first
chooses a branding theme in the settings (``ensure_field``: ``crm.company.userfield.list``,
and ``.add`` when missing, FIELD_NAME prefixed with UF_CRM_ by Bitrix24:
https://apidocs.bitrix24.com/api-reference/crm/companies/userfields/crm-company-userfield-add.html),
remembered on the installation, never by a reinstall. It is read with the company the
invoice read fetches anyway (named in the select: user fields come back only when named),
so it costs no request.
"""
from __future__ import annotations

from typing import Any

from ...errors import SyncError

FIELD = "UF_CRM_BRIDGE_THEME"
LABEL = "Invoice branding theme"
SETUP_KEY = "company_theme_field"


def ensure_field(client: Any, installation: Any) -> SyncError | None:
    """The upgrade step: make the company field once per installation. The error when the
    portal refused (the settings page says so; the installation's default still applies)."""
    setup = dict((installation.endpoints or {}).get("setup") or {})
    if setup.get(SETUP_KEY):
        return None
    try:
        found = client.call("crm.company.userfield.list", {"filter": {"FIELD_NAME": FIELD}}).result
        if not found:
            client.call("crm.company.userfield.add", {"fields": {
                "FIELD_NAME": FIELD.removeprefix("UF_CRM_"), "USER_TYPE_ID": "string", "MANDATORY": "N",
                "EDIT_FORM_LABEL": LABEL, "LIST_COLUMN_LABEL": LABEL}})
    except SyncError as exc:
        return exc
    installation.endpoints = {**(installation.endpoints or {}), "setup": {**setup, SETUP_KEY: True}}
    return None


def chosen(company: dict[str, Any]) -> str:
    """The theme the company names; "" when none."""
    value = company.get(FIELD)
    return str(value).strip() if isinstance(value, (str, int)) else ""
