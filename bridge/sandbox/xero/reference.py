"""Settings-like resources: Organisation, Currencies, TaxRates, Accounts, Items (NOTES section 5)."""
from __future__ import annotations

import uuid
from typing import Any

from . import query
from .common import Ctx, Invalid, NotFound, elements, listing, number, run_batch
from .seed import REGIONS
from .wire import money


def _filtered(ctx: Ctx, records: list[dict], default_order: str | None = None) -> list[dict]:
    if ctx.args.get("where"):
        pred = query.parse_where(ctx.args["where"])
        records = [r for r in records if pred(r)]
    return query.apply_order(records, ctx.args.get("order") or default_order)


def organisation(ctx: Ctx, parts: list[str]) -> tuple[int, Any]:
    if ctx.method != "GET" or parts:
        raise NotFound()
    org = ctx.org
    sales, purchases, _tax, _cur, country, tz, version = REGIONS[org.region]
    return listing(ctx, "Organisations", [{
        "OrganisationID": org.tenant_id, "APIKey": "", "Name": org.name, "LegalName": org.name,
        "PaysTax": True, "Version": version, "OrganisationType": "COMPANY", "BaseCurrency": org.base_currency,
        "CountryCode": country, "IsDemoCompany": False, "OrganisationStatus": "ACTIVE",
        "FinancialYearEndDay": 31, "FinancialYearEndMonth": 3, "SalesTaxBasis": "INVOICE",
        "SalesTaxPeriod": "TWOMONTHS", "DefaultSalesTax": "Tax Exclusive", "DefaultPurchasesTax": "Tax Exclusive",
        "CreatedDateUTC": org.created, "Timezone": tz, "OrganisationEntityType": "COMPANY",
        "ShortCode": org.short_code, "Class": "STANDARD", "Edition": "BUSINESS", "LineOfBusiness": "Services",
        "Addresses": [], "Phones": [], "ExternalLinks": [], "PaymentTerms": {},
    }])


def currencies(ctx: Ctx, parts: list[str]) -> tuple[int, Any]:
    if ctx.method != "GET" or parts:
        raise NotFound()
    return listing(ctx, "Currencies", _filtered(ctx, list(ctx.org.currencies)))


def tax_rates(ctx: Ctx, parts: list[str]) -> tuple[int, Any]:
    if ctx.method != "GET" or len(parts) > 1:
        raise NotFound()
    if parts:
        rate = ctx.org.tax_rate(parts[0])
        if rate is None:
            raise NotFound()
        return listing(ctx, "TaxRates", [rate])
    return listing(ctx, "TaxRates", _filtered(ctx, list(ctx.org.tax_rates)))


def accounts(ctx: Ctx, parts: list[str]) -> tuple[int, Any]:
    if ctx.method != "GET" or len(parts) > 1:
        raise NotFound()
    org = ctx.org
    records = [{**a, "UpdatedDateUTC": org.created} for a in org.accounts]
    if parts:
        match = [a for a in records if a["AccountID"] == parts[0].lower()]
        if not match:
            raise NotFound()
        return listing(ctx, "Accounts", match)
    records = query.modified_since(records, ctx.if_modified_since)
    return listing(ctx, "Accounts", _filtered(ctx, records, "Code"))


def _item(ctx: Ctx, raw: dict, existing: dict | None) -> dict:
    org = ctx.org
    merged = dict(existing or {})
    for key in ("Code", "Name", "Description", "PurchaseDescription", "IsSold", "IsPurchased"):
        if key in raw:
            merged[key] = raw[key]
    errors = []
    code = str(merged.get("Code") or "")
    if not code:
        errors.append("Item code must be specified")
    elif len(code) > 30:
        errors.append("Item code must not exceed 30 characters")  # [S acc]
    elif any(i["Code"].lower() == code.lower() and i["ItemID"] != merged.get("ItemID") for i in org.items.values()):
        errors.append(f"Item code '{code}' already exists")
    if merged.get("Name") and len(str(merged["Name"])) > 50:
        errors.append("Item name must not exceed 50 characters")
    for key in ("SalesDetails", "PurchaseDetails"):
        if key in raw and isinstance(raw[key], dict):
            details = {}
            price = number(raw[key].get("UnitPrice"), f"{key}.UnitPrice")
            if price is not None:
                details["UnitPrice"] = money(price)
            code_ = raw[key].get("AccountCode")
            if code_ is not None:
                if org.account_by_code(code_) is None:
                    errors.append(f"Account code '{code_}' is not valid")
                details["AccountCode"] = code_
            tax = raw[key].get("TaxType")
            if tax is not None:
                if org.tax_rate(tax) is None:
                    errors.append(f"The TaxType code '{tax}' does not exist")
                details["TaxType"] = tax
            merged[key] = details
    if errors:
        raise Invalid(*errors)
    merged.setdefault("ItemID", str(uuid.uuid4()))
    merged.setdefault("Name", code)
    merged.setdefault("IsSold", "SalesDetails" in merged)
    merged.setdefault("IsPurchased", "PurchaseDetails" in merged)
    merged["IsTrackedAsInventory"] = False
    merged["UpdatedDateUTC"] = org.stamp(ctx.now)
    org.items[merged["ItemID"]] = merged
    return dict(merged)


def items(ctx: Ctx, parts: list[str]) -> tuple[int, Any]:
    org = ctx.org
    if ctx.method == "GET" and not parts:
        records = query.modified_since(list(org.items.values()), ctx.if_modified_since)
        return listing(ctx, "Items", _filtered(ctx, records, "Code"))
    if len(parts) == 1:
        key = parts[0].lower()
        item = org.items.get(key) or next((i for i in org.items.values() if i["Code"].lower() == key), None)
        if item is None:
            raise NotFound()
        if ctx.method == "GET":
            return listing(ctx, "Items", [item])
        if ctx.method == "DELETE":
            del org.items[item["ItemID"]]
            return 204, None
        if ctx.method == "POST":
            return run_batch(ctx, "Items", elements(ctx.body, "Items")[:1], lambda raw: _item(ctx, raw, item))
    if ctx.method in ("PUT", "POST") and not parts:
        def upsert(raw: dict) -> dict:
            existing = org.items.get(str(raw.get("ItemID", "")).lower())
            if existing is None and ctx.method == "POST" and raw.get("Code"):
                existing = next((i for i in org.items.values() if i["Code"].lower() == str(raw["Code"]).lower()), None)
            return _item(ctx, raw, existing)
        return run_batch(ctx, "Items", elements(ctx.body, "Items"), upsert)
    raise NotFound()
