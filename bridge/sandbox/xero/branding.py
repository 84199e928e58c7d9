"""What shapes the customer's document: branding themes and tracking categories (official
spec: /BrandingThemes, /TrackingCategories, /TrackingCategories/{id}/Options; LineItemTracking).

A new organisation has the theme "Standard" (SortOrder 0, the default) and one more; themes
are made in Xero's web app only (the API reads them). Tracking categories: at most 2 active
per organisation, option names unique within a category [N]. A line's ``Tracking`` names a
category and option by name (or ID) and must match an active one; Xero answers with both
names and IDs [M: the message wording].
"""
from __future__ import annotations

import uuid
from typing import Any

from .common import Ctx, Invalid, NotFound, elements, listing, run_batch
from .store import Org

MAX_ACTIVE = 2


def themes(ctx: Ctx, parts: list[str]) -> tuple[int, Any]:
    org = ctx.org
    if ctx.method != "GET" or len(parts) > 1:
        raise NotFound()
    found = org.branding_themes
    if parts:
        found = [t for t in found if t["BrandingThemeID"] == parts[0].lower()]
        if not found:
            raise NotFound()
    return listing(ctx, "BrandingThemes", found)


def theme_exists(org: Org, theme_id: Any) -> bool:
    return any(t["BrandingThemeID"] == str(theme_id).lower() for t in org.branding_themes)


def _render(category: dict) -> dict:
    return {**{k: v for k, v in category.items() if k != "Options"},
            "Options": [dict(o) for o in category["Options"] if o["Status"] != "DELETED"]}


def _create_category(org: Org, raw: dict) -> dict:
    name = str(raw.get("Name") or "").strip()
    if not name:
        raise Invalid("Tracking category name must be specified")
    active = [c for c in org.tracking_categories.values() if c["Status"] == "ACTIVE"]
    if len(active) >= MAX_ACTIVE:
        raise Invalid("You can only have 2 active tracking categories")  # [N] the limit; [M] wording
    if any(c["Name"].lower() == name.lower() for c in active):
        raise Invalid("A tracking category with this name already exists")
    category = {"TrackingCategoryID": str(uuid.uuid4()), "Name": name, "Status": "ACTIVE", "Options": []}
    org.tracking_categories[category["TrackingCategoryID"]] = category
    return _render(category)


def _add_option(category: dict, raw: dict) -> dict:
    name = str(raw.get("Name") or "").strip()
    if not name:
        raise Invalid("Tracking option name must be specified")
    if any(o["Name"].lower() == name.lower() and o["Status"] != "DELETED" for o in category["Options"]):
        raise Invalid("A tracking option with this name already exists")
    option = {"TrackingOptionID": str(uuid.uuid4()), "Name": name, "Status": "ACTIVE",
              "TrackingCategoryID": category["TrackingCategoryID"]}
    category["Options"].append(option)
    return dict(option)


def tracking(ctx: Ctx, parts: list[str]) -> tuple[int, Any]:
    org = ctx.org
    if ctx.method == "GET" and not parts:
        archived = ctx.args.get("includeArchived", "").lower() == "true"
        found = [c for c in org.tracking_categories.values()
                 if c["Status"] == "ACTIVE" or (archived and c["Status"] == "ARCHIVED")]
        return listing(ctx, "TrackingCategories", [_render(c) for c in found])
    if ctx.method == "PUT" and not parts:
        return run_batch(ctx, "TrackingCategories", elements(ctx.body, "TrackingCategories"),
                         lambda raw: _create_category(org, raw))
    category = org.tracking_categories.get(parts[0].lower()) if parts else None
    if category is None:
        raise NotFound()
    if ctx.method == "GET" and len(parts) == 1:
        return listing(ctx, "TrackingCategories", [_render(category)])
    if ctx.method == "PUT" and len(parts) == 2 and parts[1].lower() == "options":
        return run_batch(ctx, "Options", elements(ctx.body, "Options"), lambda raw: _add_option(category, raw))
    raise NotFound()


def resolve_line_tracking(org: Org, tracking: list[Any]) -> list[dict]:
    """A line's Tracking as Xero stores it: each entry names an active category and one of
    its options (by name or ID), at most one option per category."""
    out: list[dict] = []
    for entry in tracking:
        if not isinstance(entry, dict):
            raise Invalid("Tracking must be a list of objects")
        category = next((c for c in org.tracking_categories.values() if c["Status"] == "ACTIVE" and (
            c["TrackingCategoryID"] == str(entry.get("TrackingCategoryID") or "").lower()
            or c["Name"].lower() == str(entry.get("Name") or "").lower())), None)
        if category is None:
            raise Invalid(f"Tracking category '{entry.get('Name') or entry.get('TrackingCategoryID')}' "
                          "does not exist or is not active")
        option = next((o for o in category["Options"] if o["Status"] == "ACTIVE" and (
            o["TrackingOptionID"] == str(entry.get("TrackingOptionID") or "").lower()
            or o["Name"].lower() == str(entry.get("Option") or "").lower())), None)
        if option is None:
            raise Invalid(f"Tracking option '{entry.get('Option') or entry.get('TrackingOptionID')}' "
                          f"is not an active option of '{category['Name']}'")
        if any(t["TrackingCategoryID"] == category["TrackingCategoryID"] for t in out):
            raise Invalid(f"Only one option of '{category['Name']}' per line")
        out.append({"TrackingCategoryID": category["TrackingCategoryID"], "TrackingOptionID": option["TrackingOptionID"],
                    "Name": category["Name"], "Option": option["Name"]})
    return out
