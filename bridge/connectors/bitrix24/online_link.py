"""The online invoice link in a field of the smart invoice, so a sales rep can send it.

The field is new in this release: installations made before it get it by an upgrade step
on first use (``ensure_field``: userfieldconfig.list, and .add when missing; remembered on
the installation), never by a reinstall. A portal where the field cannot be made (no
``userfieldconfig`` scope) keeps the link on the invoice tab only.
"""
from __future__ import annotations

from typing import Any

from ...errors import SyncError

ONLINE_FIELD = "UF_CRM_SMART_INVOICE_ONLINE_LINK"
ONLINE_FIELD_CAMEL = "ufCrmSmartInvoiceOnlineLink"  # as crm.item.* spells it (NOTES s7 [code])
LABEL = "Online invoice"


def _definition() -> dict[str, Any]:
    return {"moduleId": "crm", "field": {
        "entityId": "CRM_SMART_INVOICE", "fieldName": ONLINE_FIELD, "userTypeId": "string", "mandatory": "N",
        "editFormLabel": {"en": LABEL}, "listColumnLabel": {"en": LABEL}}}


def ensure_field(client: Any, installation: Any) -> bool:
    """The upgrade step: make the field once per installation. False: it cannot be made here."""
    setup = dict((installation.endpoints or {}).get("setup") or {})
    if setup.get("online_link_field"):
        return True
    try:
        found = client.call("userfieldconfig.list", {"moduleId": "crm", "filter": {
            "entityId": "CRM_SMART_INVOICE", "fieldName": ONLINE_FIELD}}).result
        fields = (found or {}).get("fields") if isinstance(found, dict) else found
        if not fields:
            client.call("userfieldconfig.add", _definition())
    except SyncError:
        return False  # e.g. no userfieldconfig scope: the tab still shows the link
    installation.endpoints = {**(installation.endpoints or {}), "setup": {**setup, "online_link_field": True}}
    return True


def write(client: Any, installation: Any, platform_id: str, url: str, update_params) -> None:
    if ensure_field(client, installation):
        client.call("crm.item.update", update_params(platform_id, {ONLINE_FIELD_CAMEL: url}))
