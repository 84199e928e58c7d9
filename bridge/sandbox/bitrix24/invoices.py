"""Smart invoices (entityTypeId 31) and their product rows, as crm.item.* sees them (NOTES s6, s7).

Changes return the event to fire (or None when nothing changed: Bitrix24 skips no-op saves,
NOTES s6), so REST, the portal UI and the control endpoints all fire the same events.
"""
from __future__ import annotations

import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from .errors import RestError, bad_argument, not_found
from .state import Portal
from .wire import format_date, portal_tz

ENTITY_TYPE_ID = 31
OWNER_TYPE = "SI"     # NOTES s13: smart invoice product rows use ownerType SI
UF_ENTITY = "CRM_SMART_INVOICE"

# Settable fields with their kind; read-only ones are filled by the portal.
FIELDS: dict[str, str] = {
    "title": "string", "xmlId": "string", "accountNumber": "string", "categoryId": "crm_category",
    "stageId": "crm_status", "begindate": "date", "closedate": "date", "opportunity": "double",
    "isManualOpportunity": "char", "taxValue": "double", "currencyId": "crm_currency", "companyId": "crm_company",
    "contactId": "crm_contact", "contactIds": "crm_contact", "mycompanyId": "crm_company", "parentId2": "crm_entity",
    "assignedById": "user", "comments": "text", "sourceId": "crm_status", "observers": "user",
    "originatorId": "string", "originId": "string", "opened": "char",
}
READ_ONLY = {"id": "integer", "previousStageId": "crm_status", "movedTime": "datetime", "createdTime": "datetime",
             "updatedTime": "datetime", "createdBy": "user", "updatedBy": "user", "movedBy": "user",
             "entityTypeId": "integer"}
TWO = Decimal("0.01")


def camel_uf(upper: str) -> str:
    """UF_CRM_SMART_INVOICE_XERO_SYNC -> ufCrmSmartInvoiceXeroSync (NOTES s7 [code])."""
    parts = upper.lower().split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def dec(value: Any, default: str = "0") -> Decimal:
    if value is None or value == "":
        return Decimal(default)
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise bad_argument(f"Not a number: {value}")


def uf_defs(portal: Portal) -> list[dict[str, Any]]:
    return [u for u in portal.userfields if u["entityId"] == UF_ENTITY]


def _uf_value_in(definition: dict[str, Any], value: Any) -> Any:
    if definition["userTypeId"] == "boolean":
        if value in (None, ""):
            return None
        return str(value).upper() in ("Y", "1", "TRUE")
    return value


def _uf_value_out(definition: dict[str, Any], value: Any) -> Any:
    if definition["userTypeId"] == "boolean":
        return None if value is None else ("Y" if value else "N")
    return value


def now(portal: Portal, clock_time: float) -> datetime:
    return datetime.fromtimestamp(clock_time, portal_tz(portal.tz_minutes))


def stage_ids(portal: Portal) -> list[str]:
    return [s["STATUS_ID"] for s in sorted(portal.stages, key=lambda s: int(s["SORT"]))]


def render(portal: Portal, item: dict[str, Any], original_uf_names: bool = False) -> dict[str, Any]:
    """The item as crm.item returns it: camelCase, UFs camelCase unless useOriginalUfNames=Y."""
    out = {k: v for k, v in item.items() if not k.startswith("UF_")}
    for d in uf_defs(portal):
        key = d["fieldName"] if original_uf_names else camel_uf(d["fieldName"])
        out[key] = _uf_value_out(d, item.get(d["fieldName"]))
    return out


def filter_value(portal: Portal, item: dict[str, Any], key: str) -> Any:
    """What a filter on ``key`` sees: UFs by camel or original name, booleans as 1/0 (NOTES s7)."""
    for d in uf_defs(portal):
        if key in (d["fieldName"], camel_uf(d["fieldName"])):
            value = item.get(d["fieldName"])
            if d["userTypeId"] == "boolean":
                return None if value is None else bool(value)
            return value
    return item.get(key)


def _apply(portal: Portal, item: dict[str, Any], fields: dict[str, Any]) -> None:
    ufs = {d["fieldName"]: d for d in uf_defs(portal)}
    uf_by_camel = {camel_uf(n): n for n in ufs}
    for key, value in fields.items():
        upper = key if key in ufs else uf_by_camel.get(key)
        if upper:
            item[upper] = _uf_value_in(ufs[upper], value)
        elif key in FIELDS:
            kind = FIELDS[key]
            if kind in ("double",):
                value = dec(value)
            elif key in ("companyId", "contactId", "mycompanyId", "assignedById", "categoryId", "parentId2"):
                value = int(value or 0)
            elif key in ("contactIds", "observers"):
                value = [int(v) for v in (value if isinstance(value, list) else [value]) if str(v).strip()]
            item[key] = value
        # Unknown keys are ignored, as the portal does.


def _validate(portal: Portal, item: dict[str, Any]) -> None:
    if item["stageId"] not in stage_ids(portal):
        raise RestError("", f"Stage {item['stageId']} not found", 400)
    if item["contactId"] and item["contactId"] not in portal.items[3]:
        raise not_found(f"Contact {item['contactId']} not found")
    if item["companyId"] and item["companyId"] not in portal.items[4]:
        raise not_found(f"Company {item['companyId']} not found")


def _recalculate(portal: Portal, item: dict[str, Any]) -> None:
    if item.get("isManualOpportunity") == "Y":
        return
    rows = rows_of(portal, item["id"])
    if rows:
        item["opportunity"] = sum((r["price"] * r["quantity"] for r in rows), Decimal("0")).quantize(TWO, ROUND_HALF_UP)
        item["taxValue"] = sum(((r["price"] - r["priceExclusive"]) * r["quantity"] for r in rows),
                               Decimal("0")).quantize(TWO, ROUND_HALF_UP)


def add(portal: Portal, fields: dict[str, Any], user_id: int, clock_time: float) -> dict[str, Any]:
    moment = now(portal, clock_time)
    new_id = portal.next_id("item31")
    first_stage = stage_ids(portal)[0]
    item: dict[str, Any] = {
        "id": new_id, "xmlId": None, "title": f"Invoice #{new_id}", "accountNumber": str(new_id),
        "categoryId": portal.category_id, "stageId": first_stage, "previousStageId": "",
        "begindate": format_date(moment.replace(hour=0, minute=0, second=0)), "closedate": None,
        "opportunity": Decimal("0"), "isManualOpportunity": "N", "taxValue": Decimal("0"),
        "currencyId": portal_currency(portal), "companyId": 0, "contactId": 0, "contactIds": [],
        "mycompanyId": 0, "parentId2": 0, "assignedById": user_id, "comments": None, "sourceId": None,
        "observers": [], "opened": "Y", "originatorId": None, "originId": None,
        "createdBy": user_id, "updatedBy": user_id, "movedBy": user_id,
        "createdTime": format_date(moment), "updatedTime": format_date(moment), "movedTime": format_date(moment),
        "entityTypeId": ENTITY_TYPE_ID,
    }
    for d in uf_defs(portal):  # DEFAULT_VALUE applies to new items only (NOTES s7)
        default = (d.get("settings") or {}).get("DEFAULT_VALUE")
        item[d["fieldName"]] = _uf_value_in(d, default) if default not in (None, "") else None
    _apply(portal, item, fields)
    if item["contactId"] and item["contactId"] not in item["contactIds"]:
        item["contactIds"] = [item["contactId"], *item["contactIds"]]
    if not item["contactId"] and item["contactIds"]:
        item["contactId"] = item["contactIds"][0]
    _validate(portal, item)
    portal.items[ENTITY_TYPE_ID][new_id] = item
    return item


def update(portal: Portal, item_id: int, fields: dict[str, Any], user_id: int, clock_time: float) -> bool:
    """Apply ``fields``; False when nothing changed (no save, no event: NOTES s6)."""
    item = get(portal, item_id)
    before = dict(item)
    candidate = dict(item)
    _apply(portal, candidate, fields)
    if "contactId" in fields and candidate["contactId"] and candidate["contactId"] not in candidate["contactIds"]:
        candidate["contactIds"] = [candidate["contactId"], *candidate["contactIds"]]
    _validate(portal, candidate)
    if candidate == before:
        return False
    moment = format_date(now(portal, clock_time))
    if candidate["stageId"] != before["stageId"]:
        candidate["previousStageId"] = before["stageId"]
        candidate["movedTime"], candidate["movedBy"] = moment, user_id
    candidate["updatedTime"], candidate["updatedBy"] = moment, user_id
    item.clear()
    item.update(candidate)
    return True


def touch(portal: Portal, item: dict[str, Any], user_id: int, clock_time: float) -> None:
    item["updatedTime"], item["updatedBy"] = format_date(now(portal, clock_time)), user_id


def get(portal: Portal, item_id: Any) -> dict[str, Any]:
    try:
        item = portal.items[ENTITY_TYPE_ID].get(int(item_id))
    except (TypeError, ValueError):
        item = None
    if item is None:
        raise not_found()
    return item


def delete(portal: Portal, item_id: Any) -> None:
    item = get(portal, item_id)
    del portal.items[ENTITY_TYPE_ID][item["id"]]
    for row_id in [r["id"] for r in rows_of(portal, item["id"])]:
        del portal.product_rows[row_id]


def portal_currency(portal: Portal) -> str:
    return "EUR" if portal.domain.endswith(".de") else "USD"


# ---- product rows -------------------------------------------------------------------

def rows_of(portal: Portal, owner_id: int) -> list[dict[str, Any]]:
    rows = [r for r in portal.product_rows.values() if r["ownerType"] == OWNER_TYPE and r["ownerId"] == owner_id]
    return sorted(rows, key=lambda r: (r["sort"], r["id"]))


def build_row(portal: Portal, owner_id: int, fields: dict[str, Any], row_id: int | None = None,
              base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Derive the row's price variants the way the portal does (NOTES s6):
    price = after discount, with tax; priceExclusive = after discount, no tax;
    priceNetto = before discount, no tax; priceBrutto = before discount, with tax."""
    src = {**(base or {}), **fields}
    product_id = int(src.get("productId") or 0)
    product = portal.products.get(product_id)
    tax_rate = src.get("taxRate")
    tax = None if tax_rate in (None, "") else dec(tax_rate)
    factor = Decimal(1) + (tax or Decimal(0)) / 100
    quantity = dec(src.get("quantity"), "1")
    discount_type = int(src.get("discountTypeId") or 2)
    if "price" in fields or base is None:
        price = dec(src.get("price"), str(product["price"]) if product else "0")
    elif "priceExclusive" in fields:
        price = dec(fields["priceExclusive"]) * factor
    else:
        price = dec(src.get("price"))
    exclusive = price / factor
    if discount_type == 1:  # absolute per unit
        discount_sum = dec(src.get("discountSum"))
        netto = exclusive + discount_sum
        discount_rate = (discount_sum / netto * 100) if netto else Decimal(0)
    else:  # percent
        discount_rate = dec(src.get("discountRate"))
        netto = exclusive / (1 - discount_rate / 100) if discount_rate < 100 else exclusive
        discount_sum = netto - exclusive
    return {
        "id": row_id if row_id is not None else portal.next_id("productrow"),
        "ownerId": owner_id, "ownerType": OWNER_TYPE, "productId": product_id,
        "productName": src.get("productName") or (product["name"] if product else ""),
        "price": price.quantize(TWO, ROUND_HALF_UP), "priceAccount": price.quantize(TWO, ROUND_HALF_UP),
        "priceExclusive": exclusive.quantize(TWO, ROUND_HALF_UP),
        "priceNetto": netto.quantize(TWO, ROUND_HALF_UP), "priceBrutto": (netto * factor).quantize(TWO, ROUND_HALF_UP),
        "quantity": quantity, "discountTypeId": discount_type, "discountRate": discount_rate.quantize(TWO, ROUND_HALF_UP),
        "discountSum": discount_sum.quantize(TWO, ROUND_HALF_UP), "taxRate": tax,
        "taxIncluded": "Y" if str(src.get("taxIncluded", "N")).upper() in ("Y", "1", "TRUE") else "N",
        "customized": "Y", "measureCode": int(src.get("measureCode") or 796),
        "measureName": src.get("measureName") or "pcs", "sort": int(src.get("sort") or 10),
        "xmlId": src.get("xmlId") or "", "type": 1 if product_id else 4, "storeId": None,
    }


def set_rows(portal: Portal, owner_id: int, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """crm.item.productrow.set replaces every row of the owner."""
    get(portal, owner_id)
    for row in rows_of(portal, owner_id):
        del portal.product_rows[row["id"]]
    built = []
    for i, fields in enumerate(rows):
        row = build_row(portal, owner_id, {"sort": (i + 1) * 10, **fields})
        portal.product_rows[row["id"]] = row
        built.append(row)
    _recalculate(portal, get(portal, owner_id))
    return built


def add_row(portal: Portal, owner_id: int, fields: dict[str, Any]) -> dict[str, Any]:
    get(portal, owner_id)
    row = build_row(portal, owner_id, fields)
    portal.product_rows[row["id"]] = row
    _recalculate(portal, get(portal, owner_id))
    return row


def update_row(portal: Portal, row_id: Any, fields: dict[str, Any]) -> dict[str, Any]:
    row = get_row(portal, row_id)
    new = build_row(portal, row["ownerId"], fields, row_id=row["id"], base=row)
    portal.product_rows[row["id"]] = new
    _recalculate(portal, get(portal, row["ownerId"]))
    return new


def get_row(portal: Portal, row_id: Any) -> dict[str, Any]:
    try:
        row = portal.product_rows.get(int(row_id))
    except (TypeError, ValueError):
        row = None
    if row is None:
        raise not_found("Product row not found")
    return row


def delete_row(portal: Portal, row_id: Any) -> int:
    row = get_row(portal, row_id)
    del portal.product_rows[row["id"]]
    _recalculate(portal, get(portal, row["ownerId"]))
    return row["ownerId"]


def owner_from(value: Any) -> None:
    """Product rows of other owners (deals 'D', old invoices...) are not simulated."""
    if str(value) != OWNER_TYPE:
        raise RestError("OWNER_NOT_FOUND" if re.match(r"^[A-Z0-9]+$", str(value)) else "ERROR_ARGUMENT",
                        f"Owner type {value} is not supported by this sandbox", 400)
