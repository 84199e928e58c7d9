"""The companies' user fields: crm.company.userfield.add / .list (dev.1c-bitrix.ru/rest_help/crm/
company/crm_company_userfield_add.php: FIELD_NAME gets the UF_CRM_ prefix, 20 characters at most
with it; the new field's ID is returned). A company's value is written by crm.company.add/update
and read by crm.company.list when named in its select, as ``parties`` already does for UF_ keys.
"""
from __future__ import annotations

from typing import Any

from .errors import RestError
from .filters import matches
from .registry import method

PREFIX, NAME_MAX = "UF_CRM_", 20
TYPES = ("string", "integer", "double", "boolean", "datetime", "enumeration", "employee", "crm", "url", "money")


@method("crm.company.userfield.add", scope="crm")
def userfield_add(cloud, ctx, params):
    fields = params.get("fields") or params.get("FIELDS")
    if not isinstance(fields, dict):
        raise RestError("", "Parameter 'fields' must be array.", 400)  # [M] the old methods' wording
    name = str(fields.get("FIELD_NAME") or "").upper()
    if not name:
        raise RestError("", "The 'FIELD_NAME' field is not found.", 400)
    if str(fields.get("USER_TYPE_ID") or "") not in TYPES:
        raise RestError("", "The 'USER_TYPE_ID' field is not found.", 400)  # [M]
    full = name if name.startswith(PREFIX) else PREFIX + name
    if len(full) > NAME_MAX:
        raise RestError("ERROR_CORE", f"Field name is too long (more than {NAME_MAX} characters).", 400)  # [M]
    store = ctx.portal.company_userfields
    if any(u["FIELD_NAME"] == full for u in store):
        raise RestError("ERROR_CORE", f"Field {full} already exists", 400)  # [M]
    label = fields.get("EDIT_FORM_LABEL") or full
    row = {"ID": str(ctx.portal.next_id("uf", 7000)), "ENTITY_ID": "CRM_COMPANY", "FIELD_NAME": full,
           "USER_TYPE_ID": str(fields["USER_TYPE_ID"]), "MULTIPLE": str(fields.get("MULTIPLE") or "N"),
           "MANDATORY": str(fields.get("MANDATORY") or "N"), "EDIT_FORM_LABEL": label,
           "LIST_COLUMN_LABEL": fields.get("LIST_COLUMN_LABEL") or label}
    store.append(row)
    return int(row["ID"])


@method("crm.company.userfield.list", scope="crm")
def userfield_list(cloud, ctx, params):
    wanted = params.get("filter") or params.get("FILTER") or {}
    return [dict(u) for u in ctx.portal.company_userfields
            if matches(u, wanted, lambda row, key: row.get(str(key).upper()))]
