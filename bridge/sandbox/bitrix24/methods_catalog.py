"""Catalog reads for "sales account per product or product section" (catalog scope)."""
from __future__ import annotations

from .errors import RestError
from .filters import as_list, matches, order_rows, page, select_fields
from .registry import Listed, method


def _lower_filter(params):
    return params.get("filter") or {}


@method("catalog.catalog.list", scope="catalog")
def catalog_list(cloud, ctx, params):
    return Listed({"catalogs": [{"id": 1, "iblockId": 25, "iblockTypeId": "CRM_PRODUCT_CATALOG",
                                 "lid": "s1", "name": "CRM product catalog", "productIblockId": None,
                                 "skuPropertyId": None, "subscription": "N", "vatId": 1, "yandexExport": "N"}]},
                  {"total": 1})


def _list(rows, params, key):
    rows = [r for r in rows if matches(r, _lower_filter(params))]
    rows = order_rows(rows, params.get("order"))
    chunk, extra = page(rows, params.get("start"))
    select = as_list(params.get("select"))
    return Listed({key: [select_fields(r, select, always=("id",)) for r in chunk]}, extra)


@method("catalog.product.list", scope="catalog")
def product_list(cloud, ctx, params):
    if "iblockId" not in _lower_filter(params):
        # The real method insists on filter.iblockId.
        raise RestError("", "Required filter field iblockId is missing", 400)
    return _list(ctx.portal.products.values(), params, "products")


@method("catalog.product.get", scope="catalog")
def product_get(cloud, ctx, params):
    product = ctx.portal.products.get(int(params.get("id") or 0))
    if product is None:
        raise RestError("", "Product is not exists", 400)
    return {"product": product}


@method("catalog.section.list", scope="catalog")
def section_list(cloud, ctx, params):
    return _list(ctx.portal.sections.values(), params, "sections")


@method("catalog.section.get", scope="catalog")
def section_get(cloud, ctx, params):
    section = ctx.portal.sections.get(int(params.get("id") or 0))
    if section is None:
        raise RestError("", "Section is not exists", 400)
    return {"section": section}
