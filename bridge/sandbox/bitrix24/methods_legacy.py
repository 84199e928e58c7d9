"""``crm.invoice.*`` and ``crm.invoice.userfield.*``: old invoices over REST (legacy.py has the model).

On a portal that uses smart invoices only the methods answer ERROR_METHOD_NOT_FOUND, as before they
existed here. Pages cited: apidocs.bitrix24.com/api-reference/crm/outdated/invoice/ (``OUTDATED``).
"""
from __future__ import annotations

from typing import Any

from . import legacy
from .errors import method_not_found, old_style
from .filters import as_list, matches, order_rows, page
from .registry import Listed, method

# OUTDATED events-invoice/*.html: onCrmInvoiceAdd/Update/Delete/SetStatus, each with FIELDS[ID]; names are
# delivered upper-cased like every other event (event.bind, NOTES s4).
EVENTS = ("ONCRMINVOICEADD", "ONCRMINVOICEUPDATE", "ONCRMINVOICEDELETE", "ONCRMINVOICESETSTATUS")


def fire(cloud, portal, action: str, invoice_id: Any, user_id: int | None, connector: str | None = None) -> None:
    """A status change by crm.invoice.update is an update too: onCrmInvoiceUpdate fires, then
    onCrmInvoiceSetStatus ("triggered when the status of an invoice is changed",
    OUTDATED events-invoice/on-crm-invoice-set-status.html)."""
    cloud.emit(portal, f"ONCRMINVOICE{action}", {"FIELDS": {"ID": int(invoice_id)}}, user_id, connector)


def _portal(ctx):
    if not legacy.legacy_enabled(ctx.portal):
        raise method_not_found()
    return ctx.portal


def _fields(params: dict[str, Any]) -> dict[str, Any]:
    fields = params.get("fields", params.get("FIELDS"))
    if not isinstance(fields, dict):
        # crm/deals/crm-deal-add.html: the old CRM methods' own wording, with an empty code.
        raise old_style("Parameter 'fields' must be array.")
    return fields


def _id(params: dict[str, Any]) -> Any:
    return params.get("id", params.get("ID"))


@method("crm.invoice.fields", scope="crm")
def invoice_fields(cloud, ctx, params):
    """OUTDATED crm-invoice-fields.html: every field, user fields included, described as the old CRM
    ``*.fields`` methods do (type, isRequired, isReadOnly, isImmutable, isMultiple, isDynamic, title)."""
    portal = _portal(ctx)
    out = {}
    for name in (*legacy.READ_ONLY, *legacy.FIELDS):
        out[name] = {"type": "string", "isRequired": name in legacy.REQUIRED, "isReadOnly": name in legacy.READ_ONLY,
                     "isImmutable": False, "isMultiple": name in ("PRODUCT_ROWS", "INVOICE_PROPERTIES"),
                     "isDynamic": False, "title": name}
    for u in portal.legacy_userfields:
        out[u["FIELD_NAME"]] = {"type": u["USER_TYPE_ID"], "isRequired": u["MANDATORY"] == "Y", "isReadOnly": False,
                                "isImmutable": False, "isMultiple": u["MULTIPLE"] == "Y", "isDynamic": True,
                                "title": legacy.uf_public(u, portal.language, listed=True)["EDIT_FORM_LABEL"]}
    return out


@method("crm.invoice.add", scope="crm")
def invoice_add(cloud, ctx, params):
    """The new invoice's ID (OUTDATED crm-invoice-add.html: "Invoice created with ID " + result)."""
    portal = _portal(ctx)
    invoice = legacy.add(portal, _fields(params), ctx.user_id, cloud.host.clock.time())
    fire(cloud, portal, "ADD", invoice["ID"], ctx.user_id, ctx.auth_connector)
    return int(invoice["ID"])


@method("crm.invoice.get", scope="crm")
def invoice_get(cloud, ctx, params):
    return legacy.render(legacy.get(_portal(ctx), _id(params)))


@method("crm.invoice.update", scope="crm")
def invoice_update(cloud, ctx, params):
    """The ID again (OUTDATED crm-invoice-update.html: "Invoice updated with ID " + result). Every call
    saves and fires onCrmInvoiceUpdate: skipping an unchanged save is documented for crm.item.update
    only (crm/universal/crm-item-update.html)."""
    portal = _portal(ctx)
    invoice, status_changed = legacy.update(portal, _id(params), _fields(params), ctx.user_id, cloud.host.clock.time())
    fire(cloud, portal, "UPDATE", invoice["ID"], ctx.user_id, ctx.auth_connector)
    if status_changed:
        fire(cloud, portal, "SETSTATUS", invoice["ID"], ctx.user_id, ctx.auth_connector)
    return int(invoice["ID"])


@method("crm.invoice.delete", scope="crm")
def invoice_delete(cloud, ctx, params):
    portal = _portal(ctx)
    invoice = legacy.get(portal, _id(params))
    legacy.delete(portal, invoice["ID"])
    fire(cloud, portal, "DELETE", invoice["ID"], ctx.user_id, ctx.auth_connector)
    return True


@method("crm.invoice.list", scope="crm")
def invoice_list(cloud, ctx, params):
    """OUTDATED crm-invoice-list.html: filter with operator prefixes (``>DATE_UPDATE``), order, select
    ("*", "UF_*"); 50 a page with ``start``, ``next`` and ``total`` (settings/how-to-call-rest-api/
    list-methods-pecularities.html). No properties, no product rows."""
    portal = _portal(ctx)
    flt = params.get("filter") or params.get("FILTER") or {}
    getter = lambda row, key: row.get(str(key).upper())
    rows = [r for r in portal.legacy_invoices.values() if matches(r, flt, getter)]
    rows = order_rows(rows, params.get("order") or params.get("ORDER"), getter, default="ID")
    chunk, extra = page(rows, params.get("start"))
    select = as_list(params.get("select") or params.get("SELECT"))
    return Listed([legacy.select_fields(legacy.render(r, listed=True), select) for r in chunk], extra)


# ---- user fields -------------------------------------------------------------------------------

@method("crm.invoice.userfield.add", scope="crm")
def userfield_add(cloud, ctx, params):
    """The new field's ID; FIELD_NAME gets the UF_CRM_ prefix (OUTDATED crm-invoice-user-field-add.html)."""
    return int(legacy.uf_add(_portal(ctx), _fields(params))["ID"])


@method("crm.invoice.userfield.list", scope="crm")
def userfield_list(cloud, ctx, params):
    """OUTDATED crm-invoice-user-field-list.html: order and filter; labels as strings."""
    portal = _portal(ctx)
    rows = [u for u in portal.legacy_userfields if matches(u, params.get("filter") or {},
                                                           lambda row, key: row.get(str(key).upper()))]
    rows = order_rows(rows, params.get("order") or {"SORT": "ASC"}, default="ID")
    return [legacy.uf_public(u, portal.language, listed=True) for u in rows]


@method("crm.invoice.userfield.get", scope="crm")
def userfield_get(cloud, ctx, params):
    portal = _portal(ctx)
    return legacy.uf_public(legacy.uf_get(portal, _id(params)), portal.language, listed=False)


@method("crm.invoice.userfield.update", scope="crm")
def userfield_update(cloud, ctx, params):
    """OUTDATED crm-invoice-user-field-update.html: the name and type stay; labels, settings and flags change."""
    row = legacy.uf_get(_portal(ctx), _id(params))
    for key, value in _fields(params).items():
        key = str(key).upper()
        if key not in ("ID", "ENTITY_ID", "FIELD_NAME", "USER_TYPE_ID", "MULTIPLE"):
            row[key] = dict(value) if isinstance(value, dict) else value
    return True


@method("crm.invoice.userfield.delete", scope="crm")
def userfield_delete(cloud, ctx, params):
    portal = _portal(ctx)
    row = legacy.uf_get(portal, _id(params))
    portal.legacy_userfields.remove(row)
    for invoice in portal.legacy_invoices.values():
        invoice.pop(row["FIELD_NAME"], None)
    return True
