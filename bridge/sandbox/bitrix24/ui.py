"""The portal's pages: invoice list and card, app pages that frame the app's placements,
and the applications page that runs the install flow (NOTES s2, s5, s11).

Plain server-rendered HTML. The signed-in user is the portal admin (user 1).
"""
from __future__ import annotations

import json
from html import escape
from typing import Any

from flask import Blueprint, Response, redirect, request

from . import card, invoices, legacy, legacy_card, parties
from .bx24js import BX24_JS
from .control import finish_install, install_params
from .core import Bitrix24Cloud
from .errors import RestError
from .methods_crm import fire_item
from .methods_legacy import fire as fire_legacy
from .state import new_token
from .wire import json_response

USER_ID = 1
# The languages a user picks in the portal's footer (as in Bitrix24): LANG of every app page.
LANGUAGES = {"en": "English", "de": "Deutsch"}
CSS = ("body{font:14px sans-serif;margin:0}header{background:#2fc6f6;color:#fff;padding:8px 16px}"
       "nav a{margin-right:12px}main{padding:16px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}"
       ".tabs a{padding:6px 12px;border:1px solid #ccc;margin-right:4px;text-decoration:none}.tabs a.on{background:#eef}"
       "footer{padding:8px 16px;border-top:1px solid #ccc}iframe{width:100%;border:1px solid #ccc;min-height:400px}.stage{padding:2px 6px;border-radius:3px;color:#fff}")

PARENT_JS = r"""
var FRAMES = %s, PORTAL = %s;
function frameOf(win) {
  var list = document.querySelectorAll('iframe[data-frame]');
  for (var i = 0; i < list.length; i++) if (list[i].contentWindow === win) return list[i];
  return null;
}
function bracket(obj, prefix, out) {
  out = out || [];
  Object.keys(obj).forEach(function (k) {
    var v = obj[k], name = prefix ? prefix + '[' + k + ']' : k;
    if (v !== null && typeof v === 'object') bracket(v, name, out);
    else out.push(encodeURIComponent(name) + '=' + encodeURIComponent(v === null || v === undefined ? '' : v));
  });
  return out;
}
function rest(method, params, auth) {
  return fetch('/' + PORTAL + '/rest/' + method, {method: 'POST', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify(Object.assign({}, params, {auth: auth}))}).then(function (r) { return r.json(); });
}
window.addEventListener('message', function (e) {
  var m = e.data || {}; if (!m.bx24) return;
  var frame = frameOf(e.source); if (!frame) return;
  var data = FRAMES[frame.getAttribute('data-frame')];
  function reply(payload) { e.source.postMessage({bx24reply: true, id: m.id, data: payload}, '*'); }
  if (m.cmd === 'getInitData') reply(data);
  else if (m.cmd === 'callMethod') rest(m.args.method, m.args.params, data.AUTH_ID).then(reply);
  else if (m.cmd === 'callBatch') {
    var cmd = {}, calls = m.args.calls;
    Object.keys(calls).forEach(function (k) {
      var c = calls[k], method = Array.isArray(c) ? c[0] : c.method, params = Array.isArray(c) ? c[1] : c.params;
      cmd[k] = method + '?' + bracket(params || {}).join('&');
    });
    rest('batch', {halt: m.args.halt ? 1 : 0, cmd: cmd}, data.AUTH_ID).then(function (r) {
      var out = {}, res = r.result || {};
      Object.keys(calls).forEach(function (k) {
        out[k] = (res.result_error || {})[k] ? (res.result_error[k]) : {result: (res.result || {})[k],
                 next: (res.result_next || {})[k], total: (res.result_total || {})[k]};
      });
      reply(out);
    });
  }
  else if (m.cmd === 'installFinish') fetch('/' + PORTAL + '/_portal/install-finish', {method: 'POST',
      headers: {'Content-Type': 'application/json'}, body: JSON.stringify({auth: data.AUTH_ID})})
      .then(function () { var s = document.getElementById('install-status'); if (s) s.textContent = 'installed'; reply(true); });
  else if (m.cmd === 'refreshAuth') fetch('/' + PORTAL + '/_portal/refresh-auth', {method: 'POST',
      headers: {'Content-Type': 'application/json'}, body: JSON.stringify({auth: data.AUTH_ID})})
      .then(function (r) { return r.json(); }).then(function (d) { data.AUTH_ID = d.AUTH_ID; data.REFRESH_ID = d.REFRESH_ID; reply(d); });
  else if (m.cmd === 'resizeWindow') { frame.style.height = (parseInt(m.args.height, 10) || 400) + 'px'; reply({}); }
  else if (m.cmd === 'openPath') { window.location = '/' + PORTAL + m.args.path; }
  else if (m.cmd === 'reloadWindow') { frame.src = frame.src; }
  else reply({});
});
"""


def register(bp: Blueprint, cloud: Bitrix24Cloud) -> None:
    frames: dict[str, dict[str, Any]] = {}   # frame key -> {url, query, form}

    def page(portal, title: str, body: str, frame_data: dict[str, Any] | None = None) -> Response:
        base = f"/{portal.domain}"
        menu = "".join(f'<a href="{base}/marketplace/placement/{p["id"]}/">{escape(p["title"] or "App")}</a>'
                       for p in portal.placements if p["placement"] == "LEFT_MENU")
        script = f"<script>{PARENT_JS % (json.dumps(frame_data or {}), json.dumps(portal.domain))}</script>"
        html = (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)} - {portal.domain}</title>"
                f"<style>{CSS}</style></head><body><header><b>{portal.domain}</b> Bitrix24 (sandbox)</header>"
                f"<nav><a href='{base}/crm/type/31/list/'>Invoices</a>"
                + (f"<a href='{base}/crm/invoice/list/'>Invoices (old)</a>" if legacy.legacy_enabled(portal) else "")
                + f"<a href='{base}/crm/company/list/'>Companies</a>"
                f"<a href='{base}/crm/analytics/'>CRM analytics</a>"
                f"<a href='{base}/marketplace/local/'>Applications</a>{menu}</nav><main><h1>{escape(title)}</h1>{body}</main>"
                f"{language_footer(portal)}{script}</body></html>")
        return Response(html, mimetype="text/html")

    def language_footer(portal) -> str:
        """Bitrix24's footer language choice: the user's language, which app pages get as LANG."""
        options = "".join(f"<option value='{code}'{' selected' if code == portal.language else ''}>{name}</option>"
                          for code, name in LANGUAGES.items())
        return (f"<footer><form method='post' action='/{portal.domain}/_portal/language'>"
                f"<label for='portal-language'>Language</label> <select id='portal-language' name='language'>{options}"
                f"</select> <button>Change</button></form></footer>")

    @bp.post("/<domain>/_portal/language")
    def choose_language(domain: str):
        with cloud.host.lock:
            portal = cloud.portal(domain)
            if request.form.get("language") in LANGUAGES:
                portal.language = request.form["language"]
        back = request.referrer or ""
        return redirect(back if back.startswith(request.host_url) else f"/{domain}/")

    def frame(portal, url: str, placement: str, options: dict[str, Any] | None, frame_data: dict) -> str:
        """An iframe whose document auto-POSTs the launch params to ``url`` (NOTES s2 and s5)."""
        query, form = install_params(cloud, portal, USER_ID, placement, options)
        key = new_token()[:20]
        frames[key] = {"url": url, "query": query, "form": form}
        frame_data[key] = {**form, "DOMAIN": portal.domain, "LANG": portal.language, "MEMBER_ID": portal.member_id,
                           "PLACEMENT_OPTIONS": options or {}, "IS_ADMIN": portal.users[USER_ID].admin}
        return f'<iframe data-frame="{key}" name="frame-{key}" src="/{portal.domain}/_portal/frame/{key}"></iframe>'

    @bp.get("/<domain>/_portal/frame/<key>")
    def frame_document(domain: str, key: str):
        spec = frames.get(key)
        if spec is None:
            return Response("frame expired", 404)
        from urllib.parse import urlencode
        action = spec["url"] + ("&" if "?" in spec["url"] else "?") + urlencode(spec["query"])
        inputs = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in spec["form"].items())
        return Response(f"<!doctype html><html><body><form id='f' method='post' action='{escape(action)}'>{inputs}</form>"
                        f"<script>document.getElementById('f').submit();</script></body></html>", mimetype="text/html")

    @bp.get("/api.bitrix24.com/api/v1/")
    def bx24_js():
        return Response(BX24_JS, mimetype="application/javascript")

    def portal_or_404(domain: str):
        try:
            return cloud.portal(domain)
        except RestError as err:
            return json_response(err.body(), err.status)

    @bp.get("/<domain>/")
    def home(domain: str):
        return redirect(f"/{domain}/crm/type/31/list/")

    @bp.get("/<domain>/crm/type/31/list/")
    def invoice_list(domain: str):
        with cloud.host.lock:
            portal = portal_or_404(domain)
            if isinstance(portal, Response):
                return portal
            names = {s["STATUS_ID"]: s for s in portal.stages}
            rows = "".join(
                f"<tr><td><a href='/{domain}/crm/type/31/details/{i['id']}/'>{i['id']}</a></td><td>{escape(str(i['title']))}</td>"
                f"<td><span class='stage' style='background:{names.get(i['stageId'], {}).get('COLOR', '#999')}'>"
                f"{escape(names.get(i['stageId'], {}).get('NAME', i['stageId']))}</span></td>"
                f"<td>{i['opportunity']} {i['currencyId']}</td><td>{escape(i['updatedTime'])}</td></tr>"
                for i in sorted(portal.items[31].values(), key=lambda i: -i["id"]))
            body = (f"<p><a class='button' href='/{domain}/crm/type/31/new/'>New invoice</a></p>"
                    f"<table><tr><th>ID</th><th>Title</th><th>Stage</th><th>Amount</th><th>Modified</th></tr>{rows}</table>")
            return page(portal, "Invoices", body)

    @bp.get("/<domain>/crm/company/list/")
    def company_list(domain: str):
        """Companies with their contacts (and people without a company), as the CRM lists them."""
        with cloud.host.lock:
            portal = portal_or_404(domain)
            if isinstance(portal, Response):
                return portal
            return page(portal, "Companies", card.party_table(portal))

    # --- old invoices (a portal whose ``invoices`` setting is legacy or both): legacy_card.py
    def old_portal(domain: str):
        portal = portal_or_404(domain)
        if not isinstance(portal, Response) and not legacy.legacy_enabled(portal):
            return page(portal, "Invoices", "<p>This portal has no old invoices.</p>")
        return portal

    @bp.get("/<domain>/crm/invoice/list/")
    def old_invoice_list(domain: str):
        with cloud.host.lock:
            portal = old_portal(domain)
            return portal if isinstance(portal, Response) else page(portal, "Invoices (old)", legacy_card.listing(portal))

    @bp.get("/<domain>/crm/invoice/edit/0/")
    def old_invoice_new_card(domain: str):
        with cloud.host.lock:
            portal = old_portal(domain)
            if isinstance(portal, Response):
                return portal
            return page(portal, "New invoice", legacy_card.form(portal, None, f"/{domain}/crm/invoice/edit/0/"))

    @bp.post("/<domain>/crm/invoice/edit/0/")
    def old_invoice_new(domain: str):
        with cloud.host.lock:
            portal = cloud.portal(domain)
            try:
                fields = {"PAY_SYSTEM_ID": legacy_card.DEFAULT_PAY_SYSTEM, **legacy_card.fields_from(request.form, portal)}
                invoice = legacy.add(portal, fields, USER_ID, cloud.host.clock.time())
            except RestError as err:
                return page(portal, "New invoice", f"<p role='alert'>{escape(err.description)}</p>"
                            + legacy_card.form(portal, None, f"/{domain}/crm/invoice/edit/0/"))
            fire_legacy(cloud, portal, "ADD", invoice["ID"], USER_ID)
        return redirect(f"/{domain}/crm/invoice/show/{invoice['ID']}/")

    @bp.get("/<domain>/crm/invoice/show/<int:invoice_id>/")
    def old_invoice_card(domain: str, invoice_id: int):
        with cloud.host.lock:
            portal = old_portal(domain)
            if isinstance(portal, Response):
                return portal
            invoice = legacy.get(portal, invoice_id)
            installed = portal.installation is not None and portal.installation.installed
            toolbar = [p for p in portal.placements if p["placement"] == "CRM_INVOICE_DETAIL_TOOLBAR"] if installed else []
            buttons = "".join(f"<a class='button' href='?app={p['id']}'>{escape(p['title'] or 'App')}</a> " for p in toolbar)
            frame_data: dict[str, Any] = {}
            bound = next((p for p in toolbar if str(p["id"]) == request.args.get("app")), None)
            app = frame(portal, bound["handler"], "CRM_INVOICE_DETAIL_TOOLBAR", {"ID": str(invoice_id)},
                        frame_data) if bound else ""
            body = (f"<p class='tabs'>{buttons}</p>{app}"
                    + legacy_card.form(portal, invoice, f"/{domain}/crm/invoice/show/{invoice_id}/"))
            return page(portal, f"Invoice {invoice['ACCOUNT_NUMBER']}", body, frame_data)

    @bp.post("/<domain>/crm/invoice/show/<int:invoice_id>/")
    def old_invoice_save(domain: str, invoice_id: int):
        with cloud.host.lock:
            portal = cloud.portal(domain)
            fields = legacy_card.fields_from(request.form, portal)
            if "PRODUCT_ROWS" in fields and legacy_card.same_rows(legacy.get(portal, invoice_id)["PRODUCT_ROWS"],
                                                                 fields["PRODUCT_ROWS"]):
                del fields["PRODUCT_ROWS"]  # unchanged rows are no change (and fire no event)
            _, changed = legacy.update(portal, invoice_id, fields, USER_ID, cloud.host.clock.time())
            if changed:
                fire_legacy(cloud, portal, "UPDATE", invoice_id, USER_ID)
        return redirect(f"/{domain}/crm/invoice/show/{invoice_id}/")

    @bp.get("/<domain>/crm/type/31/new/")
    def invoice_new_card(domain: str):
        """An empty card: nothing exists until Save (card.py)."""
        with cloud.host.lock:
            portal = portal_or_404(domain)
            if isinstance(portal, Response):
                return portal
            return page(portal, "New invoice", card.card_form(portal, None, "main", f"/{domain}/crm/type/31/new/"))

    @bp.post("/<domain>/crm/type/31/new/")
    def invoice_new(domain: str):
        with cloud.host.lock:
            portal = cloud.portal(domain)
            fields = card.fields_from(request.form, portal)
            if not fields.get("title"):
                fields.pop("title", None)  # the portal names it "Invoice #<id>"
            try:
                item = invoices.add(portal, fields, USER_ID, cloud.host.clock.time())
            except RestError as err:
                return page(portal, "New invoice", f"<p role='alert'>{escape(err.description)}</p>"
                            + card.card_form(portal, None, "main", f"/{domain}/crm/type/31/new/"))
            rows = card.rows_from(request.form)
            if rows:
                invoices.set_rows(portal, item["id"], rows)
                invoices.touch(portal, invoices.get(portal, item["id"]), USER_ID, cloud.host.clock.time())
            fire_item(cloud, portal, "ADD", item["id"], USER_ID)
        return redirect(f"/{domain}/crm/type/31/details/{item['id']}/")

    @bp.get("/<domain>/crm/type/31/details/<int:item_id>/")
    def invoice_card(domain: str, item_id: int):
        tab = request.args.get("tab", "main")
        with cloud.host.lock:
            portal = cloud.portal(domain)
            item = invoices.get(portal, item_id)
            tabs_bound = [p for p in portal.placements if p["placement"] == "CRM_SMART_INVOICE_DETAIL_TAB"]
            installed = portal.installation is not None and portal.installation.installed
            links = [f"<a class='{'on' if tab == 'main' else ''}' href='?tab=main'>General</a>",
                     f"<a class='{'on' if tab == 'products' else ''}' href='?tab=products'>Products</a>"]
            if installed:  # NOTES s2: widgets are hidden until installFinish
                links += [f"<a class='{'on' if tab == str(p['id']) else ''}' href='?tab={p['id']}'>{escape(p['title'] or 'App')}</a>"
                          for p in tabs_bound]
            frame_data: dict[str, Any] = {}
            bound = next((p for p in tabs_bound if str(p["id"]) == tab), None) if installed else None
            if bound:
                uri = f"{cloud.host.url_for_host(domain)}/crm/type/31/details/{item_id}/"
                content = frame(portal, bound["handler"], "CRM_SMART_INVOICE_DETAIL_TAB",
                                {"ID": str(item_id), "URI": uri}, frame_data)
            else:
                content = card.card_form(portal, item, tab, f"/{domain}/crm/type/31/details/{item_id}/?tab={tab}")
            heading = item["title"] if item["title"] == f"Invoice #{item_id}" else f"Invoice #{item_id}: {item['title']}"
            return page(portal, heading,
                        f"<p class='tabs'>{''.join(links)}</p>{content}", frame_data)

    @bp.post("/<domain>/crm/type/31/details/<int:item_id>/")
    def invoice_save(domain: str, item_id: int):
        form = request.form
        with cloud.host.lock:
            portal = cloud.portal(domain)
            changed = invoices.update(portal, item_id, card.fields_from(form, portal), USER_ID, cloud.host.clock.time())
            rows = card.rows_from(form)
            if rows is not None and not card.same_rows(invoices.rows_of(portal, item_id), rows):
                invoices.set_rows(portal, item_id, rows)
                invoices.touch(portal, invoices.get(portal, item_id), USER_ID, cloud.host.clock.time())
                changed = True
            if changed:
                fire_item(cloud, portal, "UPDATE", item_id, USER_ID)
        return redirect(f"/{domain}/crm/type/31/details/{item_id}/?tab={request.args.get('tab', 'main')}")

    @bp.get("/<domain>/crm/analytics/")
    def analytics(domain: str):
        with cloud.host.lock:
            portal = cloud.portal(domain)
            frame_data: dict[str, Any] = {}
            bound = [p for p in portal.placements if p["placement"] == "CRM_ANALYTICS_MENU"]
            if not (portal.installation and portal.installation.installed) or not bound:
                return page(portal, "CRM analytics", "<p>No reports.</p>")
            return page(portal, "CRM analytics", frame(portal, bound[0]["handler"], "CRM_ANALYTICS_MENU", {}, frame_data),
                        frame_data)

    @bp.get("/<domain>/marketplace/placement/<int:placement_id>/")
    def left_menu(domain: str, placement_id: int):
        with cloud.host.lock:
            portal = cloud.portal(domain)
            bound = next((p for p in portal.placements if p["id"] == placement_id), None)
            if bound is None:
                return page(portal, "Not found", "<p>No such application page.</p>")
            frame_data: dict[str, Any] = {}
            return page(portal, bound["title"] or "Application",
                        frame(portal, bound["handler"], bound["placement"], {}, frame_data), frame_data)

    @bp.get("/<domain>/marketplace/local/")
    def applications(domain: str):
        with cloud.host.lock:
            portal = cloud.portal(domain)
            inst = portal.installation
            state = "installed" if inst and inst.installed else ("not fully installed" if inst and not inst.removed else "not installed")
            body = (f"<table><tr><th>Application</th><th>client_id</th><th>Status</th><th></th></tr>"
                    f"<tr><td>bridge (local)</td><td>{escape(cloud.app.client_id)}</td><td>{state}</td>"
                    f"<td><form method='post' action='/{domain}/marketplace/local/install'><button>Install app</button></form>"
                    f"<a href='/{domain}/marketplace/app/'>Open</a></td></tr></table>")
            return page(portal, "Applications", body)

    @bp.post("/<domain>/marketplace/local/install")
    def install_app(domain: str):
        with cloud.host.lock:
            portal = cloud.portal(domain)
            cloud.install(portal)
            frame_data: dict[str, Any] = {}
            body = ("<p>Installing... status: <b id='install-status'>waiting for BX24.installFinish()</b></p>"
                    + frame(portal, cloud.app.install_url, "DEFAULT", {}, frame_data))
            return page(portal, "Install app", body, frame_data)

    @bp.get("/<domain>/marketplace/app/")
    def main_page(domain: str):
        with cloud.host.lock:
            portal = cloud.portal(domain)
            frame_data: dict[str, Any] = {}
            if not portal.installation or portal.installation.removed:
                return page(portal, "Application", "<p>The application is not installed.</p>")
            return page(portal, "bridge", frame(portal, cloud.app.handler_url, "DEFAULT", {}, frame_data), frame_data)

    def token_user(payload: dict[str, Any], portal) -> int:
        ctx = cloud.authenticate(portal, payload.get("auth"))
        return ctx.user_id

    @bp.post("/<domain>/_portal/install-finish")
    def portal_install_finish(domain: str):
        payload = request.get_json(silent=True) or {}
        with cloud.host.lock:
            portal = cloud.portal(domain)
            try:
                finish_install(cloud, portal, token_user(payload, portal))
            except RestError as err:
                return json_response(err.body(), err.status)
            return json_response({"result": True})

    @bp.post("/<domain>/_portal/refresh-auth")
    def portal_refresh(domain: str):
        payload = request.get_json(silent=True) or {}
        with cloud.host.lock:
            portal = cloud.portal(domain)
            access = cloud.access.get(payload.get("auth") or "")
            if access is None or access.member_id != portal.member_id:
                return json_response({"error": "invalid_token"}, 401)
            pair = cloud.mint(portal, access.user_id)
            return json_response({"AUTH_ID": pair["access_token"], "REFRESH_ID": pair["refresh_token"],
                                  "AUTH_EXPIRES": pair["expires_in"]})
