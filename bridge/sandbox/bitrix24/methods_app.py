"""App-level methods: app.info, profile, scope, placement.*, event.*, userfieldconfig.*, im.notify."""
from __future__ import annotations

import re
from typing import Any

from . import legacy, methods_legacy
from .errors import RestError, bad_argument, not_found
from .filters import as_list
from .registry import METHODS, method

# NOTES s5: codes the portal supports, by the scope that unlocks them.
PLACEMENTS = {
    "placement": ["LEFT_MENU"],
    "crm": ["CRM_SMART_INVOICE_DETAIL_TAB", "CRM_SMART_INVOICE_DETAIL_TOOLBAR", "CRM_SMART_INVOICE_LIST_MENU",
            "CRM_SMART_INVOICE_LIST_TOOLBAR", "CRM_SMART_INVOICE_DETAIL_ACTIVITY", "CRM_ANALYTICS_MENU",
            "CRM_INVOICE_DETAIL_TOOLBAR", "CRM_INVOICE_LIST_TOOLBAR", "CRM_CONTACT_DETAIL_TAB", "CRM_COMPANY_DETAIL_TAB"],
}
EVENTS = ["ONAPPINSTALL", "ONAPPUNINSTALL", "ONAPPUPDATE", "ONAPPTEST", "ONOFFLINEEVENT",
          "ONCRMDYNAMICITEMADD", "ONCRMDYNAMICITEMUPDATE", "ONCRMDYNAMICITEMDELETE",
          "ONCRMDYNAMICITEMADD_31", "ONCRMDYNAMICITEMUPDATE_31", "ONCRMDYNAMICITEMDELETE_31",
          "ONCRMCONTACTADD", "ONCRMCONTACTUPDATE", "ONCRMCONTACTDELETE",
          "ONCRMCOMPANYADD", "ONCRMCOMPANYUPDATE", "ONCRMCOMPANYDELETE"]


def _user(portal, user_id: int) -> dict[str, Any]:
    u = portal.users[user_id]
    return {"ID": str(u.id), "ACTIVE": True, "EMAIL": u.email, "NAME": u.name, "LAST_NAME": u.last_name,
            "SECOND_NAME": "", "PERSONAL_GENDER": "", "TIME_ZONE": "", "IS_ONLINE": "Y", "ADMIN": u.admin}


@method("app.info")
def app_info(cloud, ctx, params):
    inst = ctx.portal.installation
    return {"ID": 7, "CODE": cloud.app.client_id, "VERSION": cloud.app.version, "STATUS": ctx.portal.status,
            "INSTALLED": bool(inst and inst.installed), "PAYMENT_EXPIRED": "N", "DAYS": None,
            "LANGUAGE_ID": "en", "LICENSE": "en_project", "LICENSE_TYPE": "project",
            "LICENSE_FAMILY": ctx.portal.plan}


@method("profile")
def profile(cloud, ctx, params):
    u = ctx.portal.users[ctx.user_id]
    return {"ID": u.id, "ADMIN": u.admin, "NAME": u.name, "LAST_NAME": u.last_name, "PERSONAL_GENDER": "",
            "TIME_ZONE": "", "TIME_ZONE_OFFSET": ctx.portal.tz_minutes * 60}


@method("user.current", scope="user_brief")
def user_current(cloud, ctx, params):
    return _user(ctx.portal, ctx.user_id)


@method("scope")
def scope(cloud, ctx, params):
    if str(params.get("full", "")).lower() in ("1", "true", "y"):
        return sorted({m.scope for m in METHODS.values()} | {"basic"})
    return ctx.scopes


@method("methods")
def methods_list(cloud, ctx, params):
    wanted = params.get("scope")
    return sorted(m.name for m in METHODS.values()
                  if ((wanted is None and (m.scope == "basic" or m.scope in ctx.scopes)) or m.scope == wanted)
                  and (legacy.legacy_enabled(ctx.portal) or not m.name.startswith("crm.invoice."))) + ["batch"]


def offered_events(portal) -> list[str]:
    """Smart-invoice events where the portal has smart invoices, onCrmInvoice* where it has old ones."""
    events = [e for e in EVENTS if legacy.smart_enabled(portal) or not e.startswith("ONCRMDYNAMICITEM")]
    return events + list(methods_legacy.EVENTS) if legacy.legacy_enabled(portal) else events


@method("events")
def events_list(cloud, ctx, params):
    return offered_events(ctx.portal)


@method("feature.get")
def feature_get(cloud, ctx, params):
    # NOTES s4: confirm-mode offline events depend on the plan (rest_offline_extended).
    if params.get("CODE") == "rest_offline_extended":
        return {"value": "Y" if ctx.portal.plan in ("professional", "enterprise") else "N"}
    raise not_found("Feature not found")


# ---- placements (NOTES s5) -------------------------------------------------------------

@method("placement.list", scope="placement")
def placement_list(cloud, ctx, params):
    return sorted(code for scope_, codes in PLACEMENTS.items() if scope_ in ctx.scopes for code in codes
                  if legacy.smart_enabled(ctx.portal) or not code.startswith("CRM_SMART_INVOICE"))


@method("placement.bind", scope="placement", app_only=True, admin_only=True)
def placement_bind(cloud, ctx, params):
    p = {k.upper(): v for k, v in params.items()}
    code, handler = str(p.get("PLACEMENT") or "").upper(), str(p.get("HANDLER") or "")
    if code not in placement_list(cloud, ctx, params):
        raise RestError("ERROR_PLACEMENT_NOT_FOUND", "Placement not found", 400)
    if not cloud.handler_allowed(handler):
        raise RestError("ERROR_WRONG_HANDLER_URL", "Wrong handler URL", 400)
    if any(b["placement"] == code and b["handler"] == handler for b in ctx.portal.placements):
        # NOTES s13 (b24phpsdk#446): re-running the installer gets this error.
        raise RestError("ERROR_CORE", "Unable to set placement handler: Handler already binded", 400)
    ctx.portal.placements.append({
        "id": ctx.portal.next_id("placement"), "placement": code, "handler": handler,
        "title": str(p.get("TITLE") or ""), "description": str(p.get("DESCRIPTION") or ""),
        "groupName": str(p.get("GROUP_NAME") or ""), "options": p.get("OPTIONS") or {}, "langAll": p.get("LANG_ALL") or {},
    })
    return True


@method("placement.get", scope="placement", app_only=True)
def placement_get(cloud, ctx, params):
    return [{"placement": b["placement"], "handler": b["handler"], "title": b["title"],
             "description": b["description"], "options": b["options"] or [], "langAll": b["langAll"] or []}
            for b in ctx.portal.placements]


@method("placement.unbind", scope="placement", app_only=True, admin_only=True)
def placement_unbind(cloud, ctx, params):
    p = {k.upper(): v for k, v in params.items()}
    code = str(p.get("PLACEMENT") or "").upper()
    if not code:
        raise RestError("ERROR_PLACEMENT_NOT_FOUND", "Placement not found", 400)
    handler = p.get("HANDLER")
    keep = [b for b in ctx.portal.placements if not (b["placement"] == code and (not handler or b["handler"] == handler))]
    count = len(ctx.portal.placements) - len(keep)
    ctx.portal.placements[:] = keep
    return {"count": count}


# ---- events (NOTES s4) ------------------------------------------------------------------

@method("event.bind", app_only=True)
def event_bind(cloud, ctx, params):
    p = {k.lower(): v for k, v in params.items()}
    event = str(p.get("event") or "").upper()
    offline = str(p.get("event_type") or "online").lower() == "offline"
    handler = "" if offline else str(p.get("handler") or "")
    if event not in offered_events(ctx.portal):
        raise RestError("ERROR_EVENT_NOT_FOUND", "Event not found", 400)
    if offline and not ctx.portal.users[ctx.user_id].admin:
        raise RestError("ACCESS_DENIED", "Access denied! Admin rights required for offline events", 403)
    if not offline and not cloud.handler_allowed(handler):
        raise RestError("ERROR_WRONG_HANDLER_URL", "Wrong handler URL", 400)
    auth_type = int(p.get("auth_type") or 0)
    for b in ctx.portal.handlers:
        if b["event"] == event and b["handler"] == handler and b["auth_type"] == auth_type:
            # NOTES s4 [memory] and s13: seen in the wild as ERROR_CORE "Handler already binded".
            raise RestError("ERROR_CORE", "Unable to set event handler: Handler already binded", 400)
    ctx.portal.handlers.append({"id": ctx.portal.next_id("handler"), "event": event, "handler": handler,
                                "auth_type": auth_type, "offline": offline,
                                "auth_connector": p.get("auth_connector") or None, "options": p.get("options") or {}})
    return True


@method("event.get", app_only=True)
def event_get(cloud, ctx, params):
    return [{"event": b["event"], "handler": b["handler"], "auth_type": str(b["auth_type"]),
             "offline": 1 if b["offline"] else 0} for b in ctx.portal.handlers]


@method("event.unbind", app_only=True)
def event_unbind(cloud, ctx, params):
    p = {k.lower(): v for k, v in params.items()}
    def hit(b):
        return ((not p.get("event") or b["event"] == str(p["event"]).upper())
                and (not p.get("handler") or b["handler"] == p["handler"])
                and ("auth_type" not in p or b["auth_type"] == int(p["auth_type"] or 0))
                and (not p.get("event_type") or b["offline"] == (str(p["event_type"]).lower() == "offline")))
    keep = [b for b in ctx.portal.handlers if not hit(b)]
    count = len(ctx.portal.handlers) - len(keep)
    ctx.portal.handlers[:] = keep
    return {"count": count}


@method("event.test", app_only=True)
def event_test(cloud, ctx, params):
    cloud.emit(ctx.portal, "ONAPPTEST", {"QUERY": {k: v for k, v in params.items() if k != "auth"}}, ctx.user_id)
    return "ok"


@method("event.offline.get", admin_only=True)
def event_offline_get(cloud, ctx, params):
    from .filters import matches, order_rows
    import secrets
    clear = str(params.get("clear", "1")) != "0"
    limit = min(int(params.get("limit") or 50), 1000)
    free = [r for r in ctx.portal.offline_queue if r["_process_id"] is None
            and (not params.get("auth_connector") or r["_connector"] == params.get("auth_connector"))]
    rows = order_rows([r for r in free if matches(r, params.get("filter"))], params.get("order") or {"ID": "ASC"},
                      default="ID")[:limit]
    process_id = secrets.token_hex(16)
    if clear:
        ids = {r["ID"] for r in rows}
        ctx.portal.offline_queue[:] = [r for r in ctx.portal.offline_queue if r["ID"] not in ids]
    else:
        for r in rows:
            r["_process_id"] = process_id
    return {"process_id": None if clear else process_id,
            "events": [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]}


@method("event.offline.clear", admin_only=True)
def event_offline_clear(cloud, ctx, params):
    pid = params.get("process_id")
    if not pid:
        raise bad_argument("process_id is required")
    ids = set(as_list(params.get("message_id")))
    ctx.portal.offline_queue[:] = [r for r in ctx.portal.offline_queue
                                   if not (r["_process_id"] == pid and (not ids or r["MESSAGE_ID"] in ids))]
    return True


@method("event.offline.error", admin_only=True)
def event_offline_error(cloud, ctx, params):
    pid = params.get("process_id")
    ids = set(as_list(params.get("message_id")))
    for r in ctx.portal.offline_queue:
        if r["_process_id"] == pid and (not ids or r["MESSAGE_ID"] in ids):
            r["_process_id"] = "error"
    return True


# ---- user fields (NOTES s7) -------------------------------------------------------------

def _uf_public(u: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in u.items()}


@method("userfieldconfig.add", scope="userfieldconfig")
def userfieldconfig_add(cloud, ctx, params):
    if params.get("moduleId") != "crm":
        raise RestError("", "Module not found or not supported", 400)
    field = params.get("field") or {}
    entity_id, name = str(field.get("entityId") or ""), str(field.get("fieldName") or "")
    # NOTES s10: userfieldconfig errors come with an empty code and only a description.
    if entity_id not in ("CRM_SMART_INVOICE",) and not re.match(r"^CRM_\d+$", entity_id):
        raise RestError("", "Entity not found or not supported", 400)
    if not name.startswith(f"UF_{entity_id}_") or not re.match(r"^[A-Z0-9_]+$", name) or len(name) > 50:
        raise RestError("", f"Field name must start with UF_{entity_id}_ and contain only A-Z, 0-9 and _ (max 50)", 400)
    if field.get("userTypeId") not in ("boolean", "string", "integer", "double", "enumeration", "date", "datetime", "crm"):
        raise RestError("", "User type not found", 400)
    if any(u["entityId"] == entity_id and u["fieldName"] == name for u in ctx.portal.userfields):
        raise RestError("", f"Field \"{name}\" already exists", 400)
    uf = {"id": str(ctx.portal.next_id("uf", 200)), "entityId": entity_id, "fieldName": name,
          "userTypeId": field["userTypeId"], "xmlId": field.get("xmlId"), "sort": str(field.get("sort") or 100),
          "multiple": field.get("multiple") or "N", "mandatory": field.get("mandatory") or "N",
          "showFilter": field.get("showFilter") or "N", "showInList": field.get("showInList") or "Y",
          "editInList": field.get("editInList") or "Y", "isSearchable": field.get("isSearchable") or "N",
          "settings": field.get("settings") or {}, "editFormLabel": field.get("editFormLabel") or {},
          "listColumnLabel": field.get("listColumnLabel") or {}, "listFilterLabel": field.get("listFilterLabel") or {}}
    ctx.portal.userfields.append(uf)
    return {"field": _uf_public(uf)}


@method("userfieldconfig.list", scope="userfieldconfig")
def userfieldconfig_list(cloud, ctx, params):
    from .filters import matches, page
    from .registry import Listed
    rows = [u for u in ctx.portal.userfields if matches(u, params.get("filter"))]
    chunk, extra = page(rows, params.get("start"))
    return Listed({"fields": [_uf_public(u) for u in chunk]}, extra)


@method("userfieldconfig.get", scope="userfieldconfig")
def userfieldconfig_get(cloud, ctx, params):
    uf = next((u for u in ctx.portal.userfields if u["id"] == str(params.get("id"))), None)
    if uf is None:
        raise RestError("", "Field not found", 400)
    return {"field": _uf_public(uf)}


@method("userfieldconfig.delete", scope="userfieldconfig")
def userfieldconfig_delete(cloud, ctx, params):
    before = len(ctx.portal.userfields)
    ctx.portal.userfields[:] = [u for u in ctx.portal.userfields if u["id"] != str(params.get("id"))]
    if before == len(ctx.portal.userfields):
        raise RestError("", "Field not found", 400)
    return True


# ---- notifications ----------------------------------------------------------------------

def _notify(ctx, params, kind: str):
    to = int(params.get("to") or params.get("USER_ID") or 0)
    if to not in ctx.portal.users:
        raise RestError("USER_ID_EMPTY", "Recipient user not found", 400)
    message = str(params.get("message") or params.get("MESSAGE") or "")
    if not message:
        raise RestError("MESSAGE_EMPTY", "Message can't be empty", 400)
    nid = ctx.portal.next_id("notify", 500)
    ctx.portal.notifications.append({"id": nid, "to": to, "message": message, "type": kind, "from": ctx.user_id})
    return nid


@method("im.notify", scope="im")
def im_notify(cloud, ctx, params):
    return _notify(ctx, params, str(params.get("type") or "USER").upper())


@method("im.notify.system.add", scope="im")
def im_notify_system(cloud, ctx, params):
    return _notify(ctx, params, "SYSTEM")


@method("im.notify.personal.add", scope="im")
def im_notify_personal(cloud, ctx, params):
    return _notify(ctx, params, "USER")
