"""``/_sandbox/bitrix24/...``: what a portal admin or user would do, and state for assertions."""
from __future__ import annotations

from typing import Any

import requests
from flask import Blueprint, request

from . import invoices, legacy, parties
from .bucket import bucket_for_plan
from .core import Bitrix24Cloud
from .errors import RestError
from .events import Delivery
from .methods_crm import fire_item, fire_party
from .methods_legacy import fire as fire_legacy
from .state import AUTH_CODE_TTL, Webhook, make_portal, new_token
from .wire import json_response


def install_params(cloud: Bitrix24Cloud, portal, user_id: int, placement: str = "DEFAULT",
                   options: dict[str, Any] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """Query string and form body of an iframe page POST (NOTES s2 "What every iframe page receives")."""
    import json
    pair = cloud.mint(portal, user_id)
    query = {"DOMAIN": portal.domain, "PROTOCOL": cloud.protocol(), "LANG": portal.language, "APP_SID": new_token()[:32]}
    form = {"AUTH_ID": pair["access_token"], "AUTH_EXPIRES": str(pair["expires_in"]), "REFRESH_ID": pair["refresh_token"],
            "SERVER_ENDPOINT": cloud.server_endpoint(), "APPLICATION_TOKEN": portal.installation.application_token,
            "APPLICATION_SCOPE": ",".join(cloud.app.scopes), "member_id": portal.member_id, "status": portal.status,
            "PLACEMENT": placement, "PLACEMENT_OPTIONS": json.dumps(options or {})}
    return query, form


def finish_install(cloud: Bitrix24Cloud, portal, user_id: int) -> None:
    """BX24.installFinish(): the app counts as installed, then ONAPPINSTALL goes out (NOTES s2)."""
    if portal.installation.installed:
        return
    portal.installation.installed = True
    cloud.emit(portal, "ONAPPINSTALL", {"VERSION": str(cloud.app.version), "ACTIVE": "Y", "INSTALLED": "Y",
                                         "LANGUAGE_ID": portal.language}, user_id)


def uninstall(cloud: Bitrix24Cloud, portal, clean: bool) -> None:
    """The app's REST access goes first, then ONAPPUNINSTALL (NOTES s2: "the API is already
    revoked"; OnAppUninstall: all the app's access rights are removed). Access tokens stop
    working (REST: invalid_token); refresh tokens are refused with invalid_client while the
    app is not installed, and stay dead after a re-install (invalid_grant)."""
    handlers = list(portal.handlers)
    portal.installation.removed = True
    portal.installation.installed = False
    portal.placements.clear()
    portal.handlers.clear()
    for token in [t for t, a in cloud.access.items() if a.member_id == portal.member_id]:
        del cloud.access[token]
    for refresh in cloud.refresh.values():
        if refresh.member_id == portal.member_id:
            refresh.revoked = True
    cloud.emit(portal, "ONAPPUNINSTALL", {"CLEAN": 1 if clean else 0, "LANGUAGE_ID": "en"}, None, handlers=handlers)


def blueprint(cloud: Bitrix24Cloud) -> Blueprint:
    bp = Blueprint("bitrix24_control", __name__)
    lock = cloud.host.lock

    def body() -> dict[str, Any]:
        return request.get_json(silent=True) or {}

    @bp.errorhandler(RestError)
    def rest_error(err: RestError):
        return json_response(err.body(), err.status)

    @bp.get("/")
    def overview():
        with lock:
            return json_response({"app": vars(cloud.app), "allow_insecure_handlers": cloud.allow_insecure_handlers,
                                  "portals": [{"domain": p.domain, "member_id": p.member_id, "plan": p.plan,
                                               "deleted": p.deleted, "category_id": p.category_id,
                                               "installed": bool(p.installation and p.installation.installed),
                                               "webhooks": [f"{w.user_id}/{w.secret}" for w in p.webhooks.values()]}
                                              for p in cloud.portals.values()]})

    @bp.post("/portals")
    def create_portal():
        b = body()
        with lock:
            portal = make_portal(b["domain"], b.get("member_id") or new_token()[:32], b.get("plan", "professional"),
                                 int(b.get("category_id", 1)), int(b.get("tz_minutes", 180)), b.get("webhook_secret"))
            legacy.set_mode(portal, str(b.get("invoices", "smart")))
            cloud.add_portal(portal)
            return json_response({"domain": portal.domain, "member_id": portal.member_id,
                                  "invoices": portal.invoice_mode}, 201)

    @bp.post("/portals/<domain>/settings")
    def portal_settings(domain: str):
        b = body()
        with lock:
            portal = cloud.portals[domain]
            if "plan" in b:
                portal.plan = b["plan"]
                portal.bucket = bucket_for_plan(portal.plan)
            if "language" in b:  # "de": the app's pages open with LANG=de
                portal.language = str(b["language"])
            if "deleted" in b:
                portal.deleted = bool(b["deleted"])  # then every call answers PORTAL_DELETED
            if "rest_unavailable" in b:  # a plan without the REST API: every call answers ACCESS_DENIED
                portal.rest_unavailable = bool(b["rest_unavailable"])
            if "invoices" in b:  # "smart" (default), "legacy" (crm.invoice.* only) or "both"
                legacy.set_mode(portal, str(b["invoices"]))
            if "operation_time_limit" in b:  # {"method": "crm.item.update", "seconds": 600}
                spec = b["operation_time_limit"]
                portal.operating_blocked[spec["method"].lower()] = cloud.host.clock.time() + float(spec.get("seconds", 600))
            return json_response({"plan": portal.plan, "deleted": portal.deleted, "language": portal.language,
                                  "invoices": portal.invoice_mode,
                                  "bucket": {"capacity": portal.bucket.capacity, "drain": portal.bucket.drain_per_second}})

    @bp.post("/app")
    def register_app():
        b = body()
        with lock:
            for key in ("client_id", "client_secret", "handler_url", "install_url", "version", "scopes"):
                if key in b:
                    setattr(cloud.app, key, b[key])
            return json_response(vars(cloud.app))

    @bp.post("/settings")
    def settings():
        b = body()
        with lock:
            if "allow_insecure_handlers" in b:
                cloud.allow_insecure_handlers = bool(b["allow_insecure_handlers"])
            return json_response({"allow_insecure_handlers": cloud.allow_insecure_handlers})

    @bp.post("/portals/<domain>/install")
    def install(domain: str):
        """mode=page (default): POST the install page as the portal's iframe would, then installFinish;
        mode=tokens: no page, just install + installFinish and hand back tokens."""
        b = body()
        user_id = int(b.get("user_id", 1))
        with lock:
            portal = cloud.portal(domain)
            inst = cloud.install(portal)
            query, form = install_params(cloud, portal, user_id)
        page_status = None
        if b.get("mode", "page") == "page":
            response = requests.post(cloud.app.install_url, params=query, data=form, timeout=30)
            page_status = response.status_code
        with lock:
            if b.get("finish", True):
                finish_install(cloud, portal, user_id)
            return json_response({"application_token": inst.application_token, "page_status": page_status,
                                  "auth": {"access_token": form["AUTH_ID"], "refresh_token": form["REFRESH_ID"],
                                           "expires_in": 3600, "member_id": portal.member_id, "domain": portal.domain,
                                           "client_endpoint": cloud.client_endpoint(portal),
                                           "server_endpoint": cloud.server_endpoint()},
                                  "query": query, "form": form})

    @bp.post("/portals/<domain>/install-finish")
    def install_finish(domain: str):
        with lock:
            portal = cloud.portal(domain)
            finish_install(cloud, portal, int(body().get("user_id", 1)))
            return json_response({"installed": True})

    @bp.post("/portals/<domain>/uninstall")
    def do_uninstall(domain: str):
        with lock:
            uninstall(cloud, cloud.portal(domain), bool(body().get("clean", False)))
            return json_response({"installed": False})

    @bp.post("/portals/<domain>/tokens")
    def tokens(domain: str):
        with lock:
            return json_response(cloud.mint(cloud.portal(domain), int(body().get("user_id", 1))))

    @bp.post("/portals/<domain>/auth-code")
    def auth_code(domain: str):
        with lock:
            portal = cloud.portal(domain)
            code = new_token()[:32]
            cloud.codes[code] = (portal.member_id, int(body().get("user_id", 1)), cloud.host.clock.time() + AUTH_CODE_TTL)
            return json_response({"code": code, "domain": portal.domain, "member_id": portal.member_id})

    @bp.post("/portals/<domain>/webhooks")
    def webhook(domain: str):
        b = body()
        with lock:
            portal = cloud.portal(domain)
            hook = Webhook(int(b.get("user_id", 1)), b.get("secret") or new_token()[:16],
                           b.get("scopes") or ["crm", "user_brief", "catalog", "im", "placement"])
            portal.webhooks[hook.secret] = hook
            return json_response({"url": f"{cloud.host.url_for_host(domain)}/rest/{hook.user_id}/{hook.secret}/"}, 201)

    # ---- CRM changes as a portal user makes them (fire events) ---------------------------
    def actor(b) -> int | None:
        # A robot/automation change carries no user tokens in the event (NOTES s4).
        return None if b.get("as_robot") else int(b.get("user_id", 1))

    @bp.post("/portals/<domain>/invoices")
    def add_invoice(domain: str):
        b = body()
        with lock:
            portal = cloud.portal(domain)
            item = invoices.add(portal, b.get("fields") or {}, actor(b) or 1, cloud.host.clock.time())
            if b.get("rows"):
                invoices.set_rows(portal, item["id"], b["rows"])
            fire_item(cloud, portal, "ADD", item["id"], actor(b))
            return json_response({"item": invoices.render(portal, item),
                                  "rows": invoices.rows_of(portal, item["id"])}, 201)

    @bp.post("/portals/<domain>/legacy-invoices")
    def add_legacy_invoice(domain: str):
        """An old invoice made by a portal user (events fire as for a REST call)."""
        b = body()
        with lock:
            portal = cloud.portal(domain)
            if not legacy.legacy_enabled(portal):
                raise RestError("ERROR_ARGUMENT", "The portal uses smart invoices only (settings: invoices)", 400)
            invoice = legacy.add(portal, b.get("fields") or {}, actor(b) or 1, cloud.host.clock.time())
            fire_legacy(cloud, portal, "ADD", invoice["ID"], actor(b))
            return json_response(legacy.render(invoice), 201)

    @bp.post("/portals/<domain>/legacy-invoices/<int:invoice_id>")
    def update_legacy_invoice(domain: str, invoice_id: int):
        b = body()
        with lock:
            portal = cloud.portal(domain)
            invoice, status_changed = legacy.update(portal, invoice_id, b.get("fields") or {}, actor(b) or 1,
                                                    cloud.host.clock.time())
            fire_legacy(cloud, portal, "UPDATE", invoice_id, actor(b))
            if status_changed:
                fire_legacy(cloud, portal, "SETSTATUS", invoice_id, actor(b))
            return json_response(legacy.render(invoice))

    @bp.delete("/portals/<domain>/legacy-invoices/<int:invoice_id>")
    def delete_legacy_invoice(domain: str, invoice_id: int):
        with lock:
            portal = cloud.portal(domain)
            legacy.delete(portal, invoice_id)
            fire_legacy(cloud, portal, "DELETE", invoice_id, actor(body()))
            return json_response({"deleted": invoice_id})

    @bp.post("/portals/<domain>/invoices/<int:item_id>")
    def update_invoice(domain: str, item_id: int):
        b = body()
        with lock:
            portal = cloud.portal(domain)
            changed = invoices.update(portal, item_id, b.get("fields") or {}, actor(b) or 1, cloud.host.clock.time())
            if "rows" in b:
                invoices.set_rows(portal, item_id, b["rows"])
                invoices.touch(portal, invoices.get(portal, item_id), actor(b) or 1, cloud.host.clock.time())
                changed = True
            if changed:
                fire_item(cloud, portal, "UPDATE", item_id, actor(b))
            return json_response({"item": invoices.render(portal, invoices.get(portal, item_id)), "changed": changed})

    @bp.delete("/portals/<domain>/invoices/<int:item_id>")
    def delete_invoice(domain: str, item_id: int):
        with lock:
            portal = cloud.portal(domain)
            invoices.delete(portal, item_id)
            fire_item(cloud, portal, "DELETE", item_id, 1)
            return json_response({"deleted": item_id})

    def party_routes(path: str, kind: int) -> None:
        def add():
            b = body()
            with lock:
                portal = cloud.portal(request.view_args["domain"])
                row = parties.add(portal, kind, b.get("fields") or {}, actor(b) or 1, cloud.host.clock.time())
                fire_party(cloud, portal, kind, "ADD", int(row["ID"]), actor(b))
                return json_response(parties.render(portal, kind, row), 201)

        def update(entity_id: int):
            b = body()
            with lock:
                portal = cloud.portal(request.view_args["domain"])
                if parties.update(portal, kind, entity_id, b.get("fields") or {}, actor(b) or 1, cloud.host.clock.time()):
                    fire_party(cloud, portal, kind, "UPDATE", entity_id, actor(b))
                return json_response(parties.render(portal, kind, parties.get(portal, kind, entity_id)))

        def delete(entity_id: int):
            with lock:
                portal = cloud.portal(request.view_args["domain"])
                parties.delete(portal, kind, entity_id)
                fire_party(cloud, portal, kind, "DELETE", entity_id, 1)
                return json_response({"deleted": entity_id})

        bp.add_url_rule(f"/portals/<domain>/{path}", f"add_{path}", lambda domain: add(), methods=["POST"])
        bp.add_url_rule(f"/portals/<domain>/{path}/<int:entity_id>", f"update_{path}",
                        lambda domain, entity_id: update(entity_id), methods=["POST"])
        bp.add_url_rule(f"/portals/<domain>/{path}/<int:entity_id>", f"delete_{path}",
                        lambda domain, entity_id: delete(entity_id), methods=["DELETE"])

    party_routes("contacts", parties.CONTACT)
    party_routes("companies", parties.COMPANY)

    @bp.get("/portals/<domain>/state")
    def state(domain: str):
        with lock:
            p = cloud.portals[domain]
            inst = p.installation
            return json_response({
                "domain": p.domain, "member_id": p.member_id, "plan": p.plan,
                "installation": vars(inst) if inst else None,
                "placements": p.placements, "handlers": p.handlers, "userfields": p.userfields,
                "invoices": [invoices.render(p, i) for i in p.items[31].values()],
                "product_rows": list(p.product_rows.values()),
                "invoice_mode": p.invoice_mode, "legacy_invoices": [legacy.render(i) for i in p.legacy_invoices.values()],
                "legacy_userfields": p.legacy_userfields,
                "contacts": [parties.render(p, 3, c) for c in p.items[3].values()],
                "companies": [parties.render(p, 4, c) for c in p.items[4].values()],
                "stages": p.stages, "notifications": p.notifications, "timeline": p.timeline,
                "offline_queue": [{k: v for k, v in r.items() if not k.startswith("_")} for r in p.offline_queue],
                "bucket": {"level": p.bucket.level, "capacity": p.bucket.capacity}, "requests": p.requests,
            })

    # ---- event delivery switches ------------------------------------------------------
    @bp.post("/events/drop")
    def drop():
        with lock:
            cloud.dispatcher.drop_next = int(body().get("count", 1))
            return json_response({"drop_next": cloud.dispatcher.drop_next})

    @bp.post("/events/auto")
    def auto():
        cloud.dispatcher.auto_deliver = bool(body().get("on", True))
        released = cloud.dispatcher.release_held() if cloud.dispatcher.auto_deliver else 0
        return json_response({"auto_deliver": cloud.dispatcher.auto_deliver, "released": released})

    @bp.post("/events/release")
    def release():
        """Deliver held events: all, or ``{"count": N}`` the first N (the rest stay held, in
        order); ``{"duplicate": true}`` delivers each of them twice (a repeated call)."""
        b = body()
        dispatcher = cloud.dispatcher
        if b.get("count") is None and not b.get("duplicate"):
            return json_response({"released": dispatcher.release_held()})
        with dispatcher._lock:
            count = len(dispatcher.held) if b.get("count") is None else int(b["count"])
            chosen, rest = dispatcher.held[:count], dispatcher.held[count:]
            copies = [Delivery(d.event, d.handler, list(d.pairs), d.member_id) for d in chosen] \
                if b.get("duplicate") else []
            dispatcher.log.extend(copies)
            dispatcher.held = [x for pair in zip(chosen, copies) for x in pair] if copies else chosen
        released = dispatcher.release_held()
        with dispatcher._lock:
            dispatcher.held = rest + dispatcher.held
        return json_response({"released": released, "held": len(rest)})

    @bp.post("/events/replay")
    def replay():
        """Send every event delivered so far once more, in order (a queue server that
        repeats itself): each reaches the app as a copy of what it already had."""
        dispatcher = cloud.dispatcher
        with dispatcher._lock:
            copies = [Delivery(d.event, d.handler, list(d.pairs), d.member_id)
                      for d in dispatcher.log if d.status == "delivered"]
            dispatcher.log.extend(copies)
            held, dispatcher.held = dispatcher.held, copies
        released = dispatcher.release_held()
        with dispatcher._lock:
            dispatcher.held = held + dispatcher.held
        return json_response({"replayed": released})

    @bp.post("/events/discard")
    def discard():
        """``{"count": N}``: lose the first N held events (all by default); a handler that
        failed loses its event too, since Bitrix24 never retries (NOTES s4)."""
        b = body()
        dispatcher = cloud.dispatcher
        with dispatcher._lock:
            count = len(dispatcher.held) if b.get("count") is None else int(b["count"])
            lost, dispatcher.held = dispatcher.held[:count], dispatcher.held[count:]
            for delivery in lost:
                delivery.status = "dropped"
        return json_response({"discarded": len(lost), "held": len(dispatcher.held)})

    @bp.get("/events/held")
    def held():
        with cloud.dispatcher._lock:
            return json_response([d.public() for d in cloud.dispatcher.held])

    @bp.post("/events/wait")
    def wait():
        return json_response({"idle": cloud.dispatcher.wait_idle(float(body().get("timeout", 5)))})

    @bp.get("/events/log")
    def log():
        with lock:
            return json_response([d.public() for d in cloud.dispatcher.log])

    return bp
