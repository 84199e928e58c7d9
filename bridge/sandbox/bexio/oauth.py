"""auth.bexio.com: the Keycloak realm ``bexio`` (NOTES §1 "OpenID Connect / OAuth 2.0").

Authorize shows a sign-in-and-consent page (one form: pick the user, press Allow) unless
the ``auto_approve`` demo setting is on. Redirect URIs must be one of the app's
registered URLs, compared exactly; the ``any_loopback_redirect`` demo setting relaxes that.
The token endpoint reads its parameters from the POST body only (NOTES §1 "Breaking
changes": query parameters are no longer accepted).
"""
from __future__ import annotations

import base64
import html
import secrets
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, jsonify, redirect, request

from ..framing import refuse_framing
from . import jwt, sessions
from .sessions import OAuthError

if TYPE_CHECKING:
    from . import System

REALM = "/auth.bexio.com/realms/bexio"
OIDC = REALM + "/protocol/openid-connect"


def issuer() -> str:
    """Keycloak derives the issuer from the URL it is reached at."""
    return request.host_url.rstrip("/") + REALM


def _redirect_allowed(system: "System", uri: str) -> bool:
    if uri in system.app.redirect_uris:
        return True
    if system.demo.any_loopback_redirect:
        parts = urlsplit(uri)
        return parts.scheme in {"http", "https"} and parts.hostname in {"127.0.0.1", "localhost", "::1"}
    return False


def _error_page(message: str, status: int = 400) -> Response:
    # Keycloak answers a bad client or redirect URI with its own error page, never a redirect.
    return Response(f"<!doctype html><title>bexio - Error</title><h1>We are sorry...</h1>"
                    f"<p id='kc-error-message'>{html.escape(message)}</p>", status=status,
                    mimetype="text/html")


def _back(uri: str, **params: str | None) -> Response:
    sep = "&" if "?" in uri else "?"
    return redirect(uri + sep + urlencode({k: v for k, v in params.items() if v is not None}), 302)


def blueprint(system: "System") -> Blueprint:
    bp = Blueprint("bexio_auth", __name__)
    host = system.host

    @bp.get(REALM + "/.well-known/openid-configuration")
    def discovery():
        iss = issuer()
        return jsonify({
            "issuer": iss,
            "authorization_endpoint": f"{iss}/protocol/openid-connect/auth",
            "token_endpoint": f"{iss}/protocol/openid-connect/token",
            "userinfo_endpoint": f"{iss}/protocol/openid-connect/userinfo",
            "jwks_uri": f"{iss}/protocol/openid-connect/certs",
            "end_session_endpoint": f"{iss}/protocol/openid-connect/logout",
            "revocation_endpoint": f"{iss}/protocol/openid-connect/revoke",
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["plain", "S256"],
            "scopes_supported": sorted(sessions.SUPPORTED_SCOPES)})

    @bp.get(OIDC + "/certs")
    def certs():
        return jsonify(jwt.jwks())

    @bp.get(OIDC + "/auth")
    def authorize():
        args = request.args
        if args.get("client_id") != system.app.client_id:
            return _error_page("Client not found.")
        uri = args.get("redirect_uri", "")
        if not uri or not _redirect_allowed(system, uri):
            return _error_page("Invalid parameter: redirect_uri")
        state = args.get("state")
        if args.get("response_type") != "code":
            return _back(uri, error="unsupported_response_type",
                         error_description="Client is not allowed to initiate browser login with given response_type.",
                         state=state)
        scopes = args.get("scope", "").split()
        unknown = [s for s in scopes if s not in sessions.SUPPORTED_SCOPES]
        if unknown:
            return _back(uri, error="invalid_scope", error_description="Invalid scopes: " + " ".join(scopes),
                         state=state)
        request_data = {"redirect_uri": uri, "state": state, "scopes": scopes,
                        "nonce": args.get("nonce"), "challenge": args.get("code_challenge"),
                        "challenge_method": args.get("code_challenge_method")}
        with host.lock:
            if system.demo.auto_approve:
                company, user = system.login_hint_user(args.get("login_hint"))
                return _approve(request_data, company, user)
            consent_id = secrets.token_urlsafe(16)
            system.state.pending_consents[consent_id] = request_data
            choices = [(c, u) for c in system.state.companies.values() for u in c.users]
        hint = args.get("login_hint")
        options = "".join(
            f"<option value='{html.escape(c.company_id)}:{u['id']}'"
            f"{' selected' if hint and hint == u['email'] else ''}>"
            f"{html.escape(u['email'])} - {html.escape(c.name)}</option>" for c, u in choices)
        page = (f"<!doctype html><title>bexio - Sign in</title><h1>Sign in to bexio</h1>"
                f"<form method='post' action='{OIDC}/auth/consent'>"
                f"<input type='hidden' name='consent_id' value='{consent_id}'>"
                f"<label>User <select name='login'>{options}</select></label>"
                f"<p>The app <b>{html.escape(system.app.client_id)}</b> asks for: "
                f"<code>{html.escape(' '.join(scopes))}</code></p>"
                f"<button name='action' value='allow'>Allow</button> "
                f"<button name='action' value='deny'>Deny</button></form>")
        return refuse_framing(Response(page, mimetype="text/html"))

    def _approve(data: dict, company, user) -> Response:
        code = sessions.new_code(system.state, host.clock.time(), company, user, system.app.client_id,
                                 data["redirect_uri"], data["scopes"], data["nonce"],
                                 data["challenge"], data["challenge_method"])
        return _back(data["redirect_uri"], state=data["state"], session_state=secrets.token_hex(8),
                     iss=issuer(), code=code)

    @bp.post(OIDC + "/auth/consent")
    def consent():
        with host.lock:
            data = system.state.pending_consents.pop(request.form.get("consent_id", ""), None)
            if data is None:
                return _error_page("Your login attempt timed out. Login will start from the beginning.")
            if request.form.get("action") != "allow":
                return _back(data["redirect_uri"], error="access_denied",
                             error_description="User denied consent", state=data["state"])
            company_id, _, user_id = request.form.get("login", "").rpartition(":")
            company = system.state.companies.get(company_id)
            user = company.user(int(user_id)) if company and user_id.isdigit() else None
            if user is None:
                return _error_page("Invalid username or password.")
            return _approve(data, company, user)

    @bp.post(OIDC + "/token")
    def token():
        try:
            with host.lock:
                return jsonify(_token_grant(system))
        except OAuthError as exc:
            return jsonify(error=exc.error, error_description=exc.description), exc.status

    @bp.route(OIDC + "/userinfo", methods=["GET", "POST"])
    def userinfo():
        token_value = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        with host.lock:
            record = system.state.access_tokens.get(token_value)
            if record is None or record["expires"] <= host.clock.time():
                return jsonify(error="invalid_token", error_description="Token verification failed"), 401
            company = system.state.companies[record["company_id"]]
            user = company.user(record["user_id"]) or {}
            return jsonify(sessions.id_claims(company, user, sorted(record["scopes"])))

    @bp.post(OIDC + "/revoke")
    def revoke():
        _client_credentials(system)
        with host.lock:
            record = system.state.refresh_tokens.get(request.form.get("token", ""))
            if record:
                sessions.end_session(system.state, record["session_id"])
        return Response(status=200)

    @bp.route(OIDC + "/logout", methods=["GET", "POST"])
    def logout():
        target = request.values.get("post_logout_redirect_uri")
        if target and _redirect_allowed(system, target):
            return redirect(target, 302)
        return Response("<!doctype html><title>bexio</title><p>You are logged out.</p>", mimetype="text/html")

    return bp


def _client_credentials(system: "System") -> str:
    """client_secret_post or client_secret_basic, both advertised (NOTES §1)."""
    client_id, secret = request.form.get("client_id"), request.form.get("client_secret")
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Basic "):
        try:
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            client_id = secret = None
    if client_id != system.app.client_id or not secret or \
            not secrets.compare_digest(secret, system.app.client_secret):
        raise OAuthError("invalid_client", "Invalid client or Invalid client credentials", 401)
    return client_id


def _token_grant(system: "System") -> dict:
    form = request.form  # body only: query parameters are not read (NOTES §1)
    grant = form.get("grant_type")
    if not grant:
        raise OAuthError("invalid_request", "Missing form parameter: grant_type")
    client_id = _client_credentials(system)
    now = system.host.clock.time()
    if grant == "authorization_code":
        if not form.get("code"):
            raise OAuthError("invalid_request", "Missing parameter: code")
        return sessions.redeem_code(system.state, now, issuer(), form["code"], client_id,
                                    form.get("redirect_uri"), form.get("code_verifier"))
    if grant == "refresh_token":
        if not form.get("refresh_token"):
            raise OAuthError("invalid_request", "Missing parameter: refresh_token")
        return sessions.refresh(system.state, now, issuer(), form["refresh_token"], client_id,
                                form.get("scope"))
    # client_credentials is advertised but has no user and no rights (NOTES §1); the
    # sandbox does not grant it.
    raise OAuthError("unsupported_grant_type", "Unsupported grant_type")
