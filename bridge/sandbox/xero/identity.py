"""login.xero.com, identity.xero.com and api.xero.com/connections (NOTES section 1)."""
from __future__ import annotations

import base64
import json
import secrets
import uuid
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlparse

from flask import Blueprint, Response, redirect, request

from ..framing import refuse_framing
from . import tokens
from .store import AuthCode, Grant
from .wire import plain_iso, problem

if TYPE_CHECKING:
    from . import System


def _json(body: dict | list, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _oauth_error(error: str, status: int = 400) -> Response:
    # Token endpoint errors are {"error": "..."} (NOTES sections 1 and 8).
    return _json({"error": error}, status)


def _error_page(message: str) -> Response:
    # Xero shows its own error page (never redirects) when client_id or redirect_uri is wrong.
    html = f"<!doctype html><title>Xero | Error</title><h1>Sorry, something went wrong</h1><p>{escape(message)}</p>"
    return Response(html, status=400, mimetype="text/html")


def redirect_allowed(uri: str, allow_http: bool) -> bool:
    """https, or http only on localhost, unless the named demo relaxation is on (NOTES 1)."""
    parsed = urlparse(uri)
    if parsed.scheme == "https":
        return bool(parsed.netloc)
    if parsed.scheme == "http":
        return parsed.hostname == "localhost" or allow_http
    return False


def _with_query(uri: str, params: dict) -> str:
    sep = "&" if urlparse(uri).query else "?"
    return uri + sep + urlencode({k: v for k, v in params.items() if v is not None})


def make_blueprint(system: "System") -> Blueprint:
    bp = Blueprint("xero_identity", __name__)
    state = _CurrentIdentity(system)  # a reset replaces system.identity; follow it

    def check_authorize(args) -> tuple[dict | None, Response | None]:
        client_id = args.get("client_id", "")
        redirect_uri = args.get("redirect_uri", "")
        if client_id != system.settings.client_id:
            return None, _error_page("unauthorized_client: unknown client_id")
        if redirect_uri not in system.redirect_uris():
            return None, _error_page("invalid redirect_uri: not registered for this app")
        if not redirect_allowed(redirect_uri, system.settings.allow_http_redirects):
            return None, _error_page("invalid redirect_uri: must be https (http only on localhost)")
        state_param = args.get("state")
        if args.get("response_type") != "code":
            return None, redirect(_with_query(redirect_uri, {"error": "unsupported_response_type", "state": state_param}))
        scopes, error = tokens.check_scopes(args.get("scope", ""))
        if error:
            return None, redirect(_with_query(redirect_uri, {"error": error, "state": state_param}))
        return {"client_id": client_id, "redirect_uri": redirect_uri, "state": state_param, "scopes": scopes}, None

    def approve(request_data: dict, tenant_ids: list[str]) -> Response:
        now = system.host.clock.time()
        grant = Grant(user_id=tokens.DEMO_USER_ID, client_id=request_data["client_id"],
                      auth_event_id=str(uuid.uuid4()), scopes=request_data["scopes"])
        with system.host.lock:
            for tenant_id in tenant_ids:
                state.connect(grant, tenant_id, system.host.clock.now())
            code = secrets.token_hex(24)
            state.codes[code] = AuthCode(grant=grant, redirect_uri=request_data["redirect_uri"],
                                         expires=now + tokens.CODE_TTL, tenant_ids=tenant_ids)
        return redirect(_with_query(request_data["redirect_uri"], {"code": code, "scope": " ".join(grant.scopes),
                                                                 "state": request_data["state"]}))

    @bp.get("/login.xero.com/identity/connect/authorize")
    def authorize():
        data, error = check_authorize(request.args)
        if error is not None:
            return error
        orgs = list(system.orgs.values())
        if system.settings.auto_approve:
            return approve(data, [o.tenant_id for o in orgs])
        consent = secrets.token_urlsafe(16)
        with system.host.lock:
            state.pending_consents[consent] = data
        boxes = "".join(
            f'<li><label><input type="checkbox" name="tenant" value="{o.tenant_id}"> {escape(o.name)}</label></li>'
            for o in orgs)
        html = (f"<!doctype html><title>Xero | Authorise {escape(system.settings.app_name)}</title>"
                f"<h1>{escape(system.settings.app_name)} wants access to your Xero organisations</h1>"
                f"<p>Signed in as {tokens.DEMO_USER_EMAIL}. Scopes: {escape(' '.join(data['scopes']))}</p>"
                f'<form method="post"><input type="hidden" name="consent" value="{consent}">'
                f"<p>Tick the organisations {escape(system.settings.app_name)} may use.</p><ul>{boxes}</ul>"
                f'<button type="submit" name="action" value="allow">Allow access</button> '
                f'<button type="submit" name="action" value="deny">Cancel</button></form>')
        return refuse_framing(Response(html, mimetype="text/html"))

    @bp.post("/login.xero.com/identity/connect/authorize")
    def consent():
        with system.host.lock:
            data = state.pending_consents.pop(request.form.get("consent", ""), None)
        if data is None:
            return _error_page("This authorisation request has expired. Start again from the app.")
        if request.form.get("action", "allow") != "allow":
            return redirect(_with_query(data["redirect_uri"], {"error": "access_denied", "state": data["state"]}))
        known = set(system.orgs)
        return approve(data, [t for t in request.form.getlist("tenant") if t in known])

    def client_from_request() -> str | None:
        """Client auth by HTTP Basic (Xero's docs) or in the body (what the SDK does)."""
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
        else:
            client_id, secret = request.form.get("client_id", ""), request.form.get("client_secret", "")
        if client_id == system.settings.client_id and secrets.compare_digest(secret, system.settings.client_secret):
            return client_id
        return None

    @bp.post("/identity.xero.com/connect/token")
    def token():
        client_id = client_from_request()
        if client_id is None:
            return _oauth_error("invalid_client")
        grant_type = request.form.get("grant_type", "")
        now = system.host.clock.time()
        with system.host.lock:
            if grant_type == "authorization_code":
                code = state.codes.get(request.form.get("code", ""))
                if (code is None or code.used or now > code.expires or code.grant.client_id != client_id
                        or code.redirect_uri != request.form.get("redirect_uri")):
                    return _oauth_error("invalid_grant")
                code.used = True  # single use [N]
                issued = tokens.issue(state, code.grant, now)
            elif grant_type == "refresh_token":
                issued = tokens.refresh(state, request.form.get("refresh_token", ""), client_id, now)
                if issued is None:
                    return _oauth_error("invalid_grant")
            else:
                return _oauth_error("unsupported_grant_type")
        resp = _json(issued.body)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @bp.post("/identity.xero.com/connect/revocation")
    def revocation():
        client_id = client_from_request()
        if client_id is None:
            return _oauth_error("invalid_client")
        with system.host.lock:
            tokens.revoke(state, request.form.get("token", ""), client_id)
        return Response(status=200)

    return bp


class _CurrentIdentity:
    """``system.identity`` as it is now, not as it was when the routes were made: without
    this, after a sandbox reset the sign-in and token routes kept the old state and every
    new token was unknown to the API (401)."""

    def __init__(self, system: "System") -> None:
        self._system = system

    def __getattr__(self, name: str):
        return getattr(self._system.identity, name)


def connections_endpoint(system: "System", method: str, parts: list[str]) -> Response:
    """GET /connections (+?authEventId=) and DELETE /connections/{id}: no tenant header."""
    state = system.identity
    with system.host.lock:
        grant, error = tokens.authenticate(state, request.headers.get("Authorization", ""), system.host.clock.time())
        if grant is None:
            return _json(problem(401, "Unauthorized", error or "AuthenticationUnsuccessful"), 401)
        mine = state.connections_for(grant.user_id, grant.client_id)
        if method == "GET" and len(parts) == 1:
            event = request.args.get("authEventId")
            rows = [c for c in mine if event is None or c.auth_event_id == event]
            return _json([{
                "id": c.id, "authEventId": c.auth_event_id, "tenantId": c.tenant_id,
                "tenantType": "ORGANISATION",
                "tenantName": system.orgs[c.tenant_id].name if c.tenant_id in system.orgs else "",
                "createdDateUtc": plain_iso(c.created), "updatedDateUtc": plain_iso(c.updated),
            } for c in rows])
        if method == "DELETE" and len(parts) == 2:
            # By connection id, not tenantId (NOTES section 1).
            conn = next((c for c in mine if c.id == parts[1].lower()), None)
            if conn is None:
                return Response(status=404)
            del state.connections[conn.id]
            return Response(status=204)
    return Response(status=405 if len(parts) <= 2 else 404)
