"""CRM methods: crm.item.* (smart invoices), product rows, contacts, companies, stages (NOTES s6-s8)."""
from __future__ import annotations

from typing import Any

from . import invoices, legacy, parties
from .errors import RestError, bad_argument, missing_parameter, not_found, spa_not_found
from .filters import as_list, matches, order_rows, page, select_fields
from .registry import Listed, method

# Changes made here fire the same events as the portal UI; see ``fire`` below.
PARTY_EVENT = {parties.CONTACT: "ONCRMCONTACT", parties.COMPANY: "ONCRMCOMPANY"}


def fire_item(cloud, portal, action: str, item_id: int, user_id: int | None, connector: str | None = None) -> None:
    """Invoice changes fire ONCRMDYNAMICITEM<ACTION> and the _31 variant (NOTES s4 event table)."""
    data = {"FIELDS": {"ID": item_id, "ENTITY_TYPE_ID": invoices.ENTITY_TYPE_ID}}
    cloud.emit(portal, f"ONCRMDYNAMICITEM{action}", data, user_id, connector)
    cloud.emit(portal, f"ONCRMDYNAMICITEM{action}_31", data, user_id, connector)


def fire_party(cloud, portal, kind: int, action: str, entity_id: int, user_id: int | None,
               connector: str | None = None) -> None:
    cloud.emit(portal, f"{PARTY_EVENT[kind]}{action}", {"FIELDS": {"ID": entity_id}}, user_id, connector)


# CRM object types every portal has (apidocs.bitrix24.com/api-reference/crm/data-types.html, "Object
# types"); the sandbox serves only smart invoices through crm.item.
STANDARD_TYPES = frozenset({1, 2, 3, 4, 5, 7, 8, 14})
OLD_INVOICE_TYPE = 5


def _entity_type(ctx, params: dict[str, Any]) -> int:
    raw = params.get("entityTypeId", params.get("ENTITY_TYPE_ID"))
    if raw is None:
        raise missing_parameter("entityTypeId")
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise spa_not_found()
    if value == invoices.ENTITY_TYPE_ID and legacy.smart_enabled(ctx.portal):
        return value
    if value == OLD_INVOICE_TYPE:
        # apidocs.bitrix24.com/api-reference/crm/universal/invoice.html: crm.item.* with old invoices
        # (entityTypeId 5) return ENTITY_TYPE_NOT_SUPPORTED.
        raise RestError("ENTITY_TYPE_NOT_SUPPORTED", f"Entity type {value} is not supported", 400)
    if value in STANDARD_TYPES:
        # Contacts, companies, deals... through crm.item work on a real portal; the sandbox does not
        # simulate them and says so instead of pretending.
        raise RestError("ENTITY_TYPE_NOT_SUPPORTED", f"Entity type {value} is not simulated by this sandbox", 400)
    # A type no portal object has, or smart invoices on a portal that uses old invoices only:
    # crm-item-get.html "400 NOT_FOUND SPA not found" for an invalid entityTypeId.
    raise spa_not_found()


def _required(params: dict[str, Any], *names: str) -> None:
    """crm.item.* are engine controllers: a missing argument is 400 ``{"error": 100, ...}`` before
    anything else is looked at (errors.missing_parameter)."""
    for name in names:
        if params.get(name) is None:
            raise missing_parameter(name)


def _original(params) -> bool:
    return str(params.get("useOriginalUfNames", "N")).upper() == "Y"


@method("crm.item.fields", scope="crm")
def item_fields(cloud, ctx, params):
    _entity_type(ctx, params)
    fields = {}
    for name, kind in {**invoices.READ_ONLY, **invoices.FIELDS}.items():
        fields[name] = {"type": kind, "isRequired": False, "isReadOnly": name in invoices.READ_ONLY,
                        "isImmutable": False, "isMultiple": name in ("contactIds", "observers"),
                        "isDynamic": False, "title": name, "upperName": _upper(name)}
    for d in invoices.uf_defs(ctx.portal):
        key = d["fieldName"] if _original(params) else invoices.camel_uf(d["fieldName"])
        fields[key] = {"type": d["userTypeId"], "isRequired": d["mandatory"] == "Y", "isReadOnly": False,
                       "isImmutable": False, "isMultiple": d["multiple"] == "Y", "isDynamic": True,
                       "title": (d["editFormLabel"] or {}).get("en", d["fieldName"]), "upperName": d["fieldName"],
                       "settings": d["settings"]}
    return {"fields": fields}


def _upper(camel: str) -> str:
    import re
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).upper()


@method("crm.item.add", scope="crm")
def item_add(cloud, ctx, params):
    _entity_type(ctx, params)
    _required(params, "fields")
    item = invoices.add(ctx.portal, params.get("fields") or {}, ctx.user_id, cloud.host.clock.time())
    fire_item(cloud, ctx.portal, "ADD", item["id"], ctx.user_id, ctx.auth_connector)
    return {"item": invoices.render(ctx.portal, item, _original(params))}


@method("crm.item.get", scope="crm")
def item_get(cloud, ctx, params):
    _entity_type(ctx, params)
    _required(params, "id")
    return {"item": invoices.render(ctx.portal, invoices.get(ctx.portal, params.get("id")), _original(params))}


@method("crm.item.update", scope="crm")
def item_update(cloud, ctx, params):
    _entity_type(ctx, params)
    _required(params, "id", "fields")
    changed = invoices.update(ctx.portal, params.get("id"), params.get("fields") or {}, ctx.user_id, cloud.host.clock.time())
    item = invoices.get(ctx.portal, params.get("id"))
    if changed:
        fire_item(cloud, ctx.portal, "UPDATE", item["id"], ctx.user_id, ctx.auth_connector)
    return {"item": invoices.render(ctx.portal, item, _original(params))}


@method("crm.item.delete", scope="crm")
def item_delete(cloud, ctx, params):
    _entity_type(ctx, params)
    _required(params, "id")
    item = invoices.get(ctx.portal, params.get("id"))
    invoices.delete(ctx.portal, item["id"])
    fire_item(cloud, ctx.portal, "DELETE", item["id"], ctx.user_id, ctx.auth_connector)
    return []


@method("crm.item.list", scope="crm")
def item_list(cloud, ctx, params):
    _entity_type(ctx, params)
    portal = ctx.portal
    getter = lambda row, key: invoices.filter_value(portal, row, key)
    rows = [r for r in portal.items[invoices.ENTITY_TYPE_ID].values() if matches(r, params.get("filter"), getter)]
    rows = order_rows(rows, params.get("order"), getter)
    chunk, extra = page(rows, params.get("start"))
    select = as_list(params.get("select"))
    rendered = [select_fields(invoices.render(portal, r, _original(params)), select, always=("id",)) for r in chunk]
    return Listed({"items": rendered}, extra)


# ---- product rows ----------------------------------------------------------------------

def _row_out(row):
    return dict(row)


def _touch_and_fire(cloud, ctx, owner_id: int) -> None:
    """Product-row changes save the invoice (new sum) and fire its update event."""
    item = invoices.get(ctx.portal, owner_id)
    invoices.touch(ctx.portal, item, ctx.user_id, cloud.host.clock.time())
    fire_item(cloud, ctx.portal, "UPDATE", owner_id, ctx.user_id, ctx.auth_connector)


@method("crm.item.productrow.list", scope="crm")
def productrow_list(cloud, ctx, params):
    flt = params.get("filter") or {}
    owner_type = flt.get("=ownerType", flt.get("ownerType"))
    owner_id = flt.get("=ownerId", flt.get("ownerId"))
    if owner_type is None or owner_id is None:
        # The docs require both ownerType and ownerId in the filter (NOTES s6).
        raise bad_argument("Filter must contain ownerType and ownerId")
    invoices.owner_from(owner_type)
    rows = [r for r in invoices.rows_of(ctx.portal, int(owner_id))
            if matches(r, {k: v for k, v in flt.items() if k.lstrip("=") not in ("ownerType", "ownerId")})]
    chunk, extra = page(rows, params.get("start"))
    return Listed({"productRows": [_row_out(r) for r in chunk]}, extra)


@method("crm.item.productrow.set", scope="crm")
def productrow_set(cloud, ctx, params):
    invoices.owner_from(params.get("ownerType"))
    owner_id = int(params.get("ownerId") or 0)
    rows = invoices.set_rows(ctx.portal, owner_id, as_list(params.get("productRows")))
    _touch_and_fire(cloud, ctx, owner_id)
    return {"productRows": [_row_out(r) for r in rows]}


@method("crm.item.productrow.add", scope="crm")
def productrow_add(cloud, ctx, params):
    fields = params.get("fields") or {}
    invoices.owner_from(fields.get("ownerType"))
    row = invoices.add_row(ctx.portal, int(fields.get("ownerId") or 0), fields)
    _touch_and_fire(cloud, ctx, row["ownerId"])
    return {"productRow": _row_out(row)}


@method("crm.item.productrow.get", scope="crm")
def productrow_get(cloud, ctx, params):
    return {"productRow": _row_out(invoices.get_row(ctx.portal, params.get("id")))}


@method("crm.item.productrow.update", scope="crm")
def productrow_update(cloud, ctx, params):
    row = invoices.update_row(ctx.portal, params.get("id"), params.get("fields") or {})
    _touch_and_fire(cloud, ctx, row["ownerId"])
    return {"productRow": _row_out(row)}


@method("crm.item.productrow.delete", scope="crm")
def productrow_delete(cloud, ctx, params):
    owner_id = invoices.delete_row(ctx.portal, params.get("id"))
    _touch_and_fire(cloud, ctx, owner_id)
    return []


@method("crm.item.productrow.fields", scope="crm")
def productrow_fields(cloud, ctx, params):
    names = ["id", "ownerId", "ownerType", "productId", "productName", "price", "priceAccount", "priceExclusive",
             "priceNetto", "priceBrutto", "quantity", "discountTypeId", "discountRate", "discountSum", "taxRate",
             "taxIncluded", "customized", "measureCode", "measureName", "sort", "xmlId", "type", "storeId"]
    return {"fields": {n: {"type": "double" if n.startswith(("price", "discount", "tax", "quantity")) else "string",
                           "isReadOnly": n in ("id", "priceAccount", "priceNetto", "priceBrutto")} for n in names}}


# ---- pipelines and stages ---------------------------------------------------------------

@method("crm.category.list", scope="crm")
def category_list(cloud, ctx, params):
    _entity_type(ctx, params)
    c = ctx.portal.category_id
    return Listed({"categories": [{"id": c, "name": "General", "sort": 500, "entityTypeId": 31,
                                   "isDefault": "Y", "originId": "", "originatorId": ""}]}, {"total": 1})


@method("crm.category.get", scope="crm")
def category_get(cloud, ctx, params):
    _entity_type(ctx, params)
    if int(params.get("id") or 0) != ctx.portal.category_id:
        raise RestError("NOT_FOUND", "Category not found", 400)
    return {"category": category_list(cloud, ctx, params).result["categories"][0]}


@method("crm.status.list", scope="crm")
def status_list(cloud, ctx, params):
    rows = order_rows([s for s in ctx.portal.stages if matches(s, params.get("filter"))],
                      params.get("order") or {"SORT": "ASC"}, default="ID")
    return Listed(rows, {"total": len(rows)})


@method("crm.status.entity.items", scope="crm")
def status_entity_items(cloud, ctx, params):
    entity = params.get("entityId")
    return [s for s in ctx.portal.stages if s["ENTITY_ID"] == entity]


# ---- VAT rates (crm.vat.*: the rates a product row's taxRate is chosen from) ---------------

@method("crm.vat.list", scope="crm")
def vat_list(cloud, ctx, params):
    rows = order_rows([r for r in ctx.portal.vat_rates if matches(r, params.get("filter"))],
                      params.get("order") or {"C_SORT": "ASC"}, default="ID")
    select = as_list(params.get("select"))
    return Listed([select_fields(r, select, always=("ID",)) for r in rows], {"total": len(rows)})


@method("crm.vat.get", scope="crm")
def vat_get(cloud, ctx, params):
    wanted = str(params.get("id", params.get("ID")) or "")
    row = next((r for r in ctx.portal.vat_rates if r["ID"] == wanted), None)
    if row is None:
        raise not_found("The VAT rate is not found.")
    return dict(row)


# ---- contacts and companies (NOTES s8) --------------------------------------------------

def _party_methods(prefix: str, kind: int) -> None:
    def add(cloud, ctx, params):
        row = parties.add(ctx.portal, kind, params.get("fields") or {}, ctx.user_id, cloud.host.clock.time())
        fire_party(cloud, ctx.portal, kind, "ADD", int(row["ID"]), ctx.user_id, ctx.auth_connector)
        return int(row["ID"])

    def get(cloud, ctx, params):
        return parties.render(ctx.portal, kind, parties.get(ctx.portal, kind, params.get("id", params.get("ID"))))

    def update(cloud, ctx, params):
        entity_id = params.get("id", params.get("ID"))
        if parties.update(ctx.portal, kind, entity_id, params.get("fields") or {}, ctx.user_id, cloud.host.clock.time()):
            fire_party(cloud, ctx.portal, kind, "UPDATE", int(entity_id), ctx.user_id, ctx.auth_connector)
        return True

    def delete(cloud, ctx, params):
        entity_id = params.get("id", params.get("ID"))
        parties.delete(ctx.portal, kind, entity_id)
        fire_party(cloud, ctx.portal, kind, "DELETE", int(entity_id), ctx.user_id, ctx.auth_connector)
        return True

    def list_(cloud, ctx, params):
        rows = [r for r in ctx.portal.items[kind].values() if matches(r, params.get("filter") or params.get("FILTER"),
                                                                     parties.filter_value)]
        rows = order_rows(rows, params.get("order") or params.get("ORDER"), lambda r, k: r.get(k.upper()), default="ID")
        chunk, extra = page(rows, params.get("start"))
        select = [s.upper() for s in as_list(params.get("select") or params.get("SELECT"))]
        # Multi-fields come back only when selected by name (NOTES s8).
        out = []
        for r in chunk:
            full = parties.render(ctx.portal, kind, r)
            keep = select_fields({k: v for k, v in full.items() if k not in parties.MULTI}, select, always=("ID",))
            keep.update({k: full[k] for k in parties.MULTI if k in select and full.get(k)})
            out.append(keep)
        return Listed(out, extra)

    def fields(cloud, ctx, params):
        names = parties.CONTACT_FIELDS if kind == parties.CONTACT else parties.COMPANY_FIELDS
        out = {n: {"type": "string", "isRequired": False, "isReadOnly": False, "isMultiple": False, "title": n}
               for n in ("ID", *names)}
        for n in parties.MULTI:
            out[n] = {"type": "crm_multifield", "isRequired": False, "isReadOnly": False, "isMultiple": True, "title": n}
        return out

    for action, fn in (("add", add), ("get", get), ("update", update), ("delete", delete), ("list", list_),
                       ("fields", fields)):
        method(f"{prefix}.{action}", scope="crm")(fn)


_party_methods("crm.contact", parties.CONTACT)
_party_methods("crm.company", parties.COMPANY)


@method("crm.contact.company.add", scope="crm")
def contact_company_add(cloud, ctx, params):
    fields = params.get("fields") or {}
    contact_id = params.get("id")
    if parties.link(ctx.portal, contact_id, fields.get("COMPANY_ID"), str(fields.get("IS_PRIMARY", "N")).upper() == "Y",
                    int(fields.get("SORT") or 10)):
        fire_party(cloud, ctx.portal, parties.CONTACT, "UPDATE", int(contact_id), ctx.user_id, ctx.auth_connector)
        return True
    return False


@method("crm.company.contact.add", scope="crm")
def company_contact_add(cloud, ctx, params):
    fields = params.get("fields") or {}
    company_id = params.get("id")
    if parties.link(ctx.portal, fields.get("CONTACT_ID"), company_id, str(fields.get("IS_PRIMARY", "N")).upper() == "Y",
                    int(fields.get("SORT") or 10)):
        fire_party(cloud, ctx.portal, parties.COMPANY, "UPDATE", int(company_id), ctx.user_id, ctx.auth_connector)
        return True
    return False


@method("crm.contact.company.items.get", scope="crm")
def contact_company_items(cloud, ctx, params):
    contact = parties.get(ctx.portal, parties.CONTACT, params.get("id"))
    return [{"COMPANY_ID": l["COMPANY_ID"], "SORT": l["SORT"], "ROLE_ID": 0, "IS_PRIMARY": l["IS_PRIMARY"]}
            for l in contact.get("_companies", [])]


@method("crm.company.contact.items.get", scope="crm")
def company_contact_items(cloud, ctx, params):
    company = parties.get(ctx.portal, parties.COMPANY, params.get("id"))
    return parties.contacts_of(ctx.portal, int(company["ID"]))


@method("crm.duplicate.findbycomm", scope="crm")
def duplicate_findbycomm(cloud, ctx, params):
    kind = str(params.get("type") or "").upper()
    values = {str(v).lower() for v in as_list(params.get("values"))}
    if kind not in ("EMAIL", "PHONE") or not values:
        raise bad_argument("type and values are required")
    if len(values) > 20:
        raise bad_argument("Too many values (max 20)")
    out: dict[str, list[int]] = {}
    wanted = str(params.get("entity_type") or "").upper()
    for name, k in (("CONTACT", parties.CONTACT), ("COMPANY", parties.COMPANY)):
        if wanted and wanted != name:
            continue
        ids = [int(r["ID"]) for r in ctx.portal.items[k].values()
               if any(e["VALUE"].lower() in values for e in r.get(kind, []))]
        if ids:
            out[name] = ids
    return out or []
