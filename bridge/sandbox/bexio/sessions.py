"""Token life at auth.bexio.com: codes, sessions, access and refresh tokens.

NOTES §1: tokens come from the Keycloak token endpoint; ``offline_access`` gives a refresh
token whose offline session idles out after one year; the refresh token is replaced on
every refresh; scopes cannot change on refresh. Every time read comes from the sandbox
clock so tests can age tokens.
"""
from __future__ import annotations

import base64
import hashlib
import os
import secrets
import uuid
from typing import Any

from . import jwt
from .state import BexioState, Company

# NOTES §1 "Lifetimes": the access-token lifetime is not documented [M]; this is the
# value the sandbox uses and announces in ``expires_in``.
ACCESS_TOKEN_SECONDS = int(os.environ.get("SANDBOX_BEXIO_ACCESS_TOKEN_SECONDS", "3600"))
OFFLINE_IDLE_SECONDS = 365 * 24 * 3600          # NOTES §1: offline session idle 1 year [D]
SESSION_IDLE_SECONDS = 30 * 60                  # [M] Keycloak default SSO idle, no offline_access
SESSION_MAX_SECONDS = 10 * 3600                 # [M] Keycloak default SSO max, no offline_access
CODE_SECONDS = 60                               # [M] Keycloak default code lifespan

# NOTES §1 "Scopes" and [OIDC]: what the realm accepts (a subset of its 71 scopes).
OIDC_SCOPES = {"openid", "profile", "email", "offline_access", "company_profile"}
API_SCOPES = {
    "accounting", "article_show", "article_edit", "bank_account_show", "bank_account_edit",
    "bank_payment_show", "bank_payment_edit", "contact_show", "contact_edit", "file",
    "kb_invoice_show", "kb_invoice_edit", "kb_offer_show", "kb_offer_edit", "kb_order_show",
    "kb_order_edit", "kb_delivery_show", "kb_delivery_edit", "monitoring_show",
    "monitoring_edit", "note_show", "note_edit", "kb_article_order_show", "kb_article_order_edit",
    "project_show", "project_edit", "stock_edit", "task_show", "task_edit", "kb_bill_show",
    "kb_expense_show", "kb_credit_voucher_show", "kb_credit_voucher_edit", "additional_company"}
SUPPORTED_SCOPES = OIDC_SCOPES | API_SCOPES
# The scope set the integration asks for (NOTES §1 "Scope set for this app").
APP_SCOPES = ("openid offline_access company_profile email contact_edit kb_invoice_edit "
              "article_edit stock_edit accounting bank_account_show")


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def _token() -> str:
    return secrets.token_urlsafe(24)


def new_code(state: BexioState, now: float, company: Company, user: dict, client_id: str,
             redirect_uri: str, scopes: list[str], nonce: str | None,
             challenge: str | None, challenge_method: str | None) -> str:
    code = f"{uuid.uuid4()}.{_token()}"
    state.codes[code] = {"company_id": company.company_id, "user_id": user["id"],
                         "client_id": client_id, "redirect_uri": redirect_uri, "scopes": scopes,
                         "nonce": nonce, "expires": now + CODE_SECONDS, "challenge": challenge,
                         "challenge_method": challenge_method or "plain"}
    return code


def start_session(state: BexioState, now: float, company: Company, user: dict, client_id: str,
                  scopes: list[str]) -> dict:
    session = {"id": str(uuid.uuid4()), "company_id": company.company_id, "user_id": user["id"],
               "client_id": client_id, "scopes": scopes, "offline": "offline_access" in scopes,
               "started": now, "last_used": now, "alive": True}
    state.sessions[session["id"]] = session
    return session


def issue(state: BexioState, now: float, issuer: str, session: dict, nonce: str | None = None) -> dict:
    """A Keycloak-shaped token response for ``session``; rotates its refresh token."""
    company = state.companies[session["company_id"]]
    user = company.user(session["user_id"]) or {}
    scopes: list[str] = session["scopes"]
    base = {"iss": issuer, "sub": user.get("login_id"), "azp": session["client_id"],
            "sid": session["id"], "iat": int(now)}
    access_claims = {**base, "exp": int(now) + ACCESS_TOKEN_SECONDS, "typ": "Bearer",
                     "jti": str(uuid.uuid4()), "scope": " ".join(scopes), "aud": "bexio-api"}
    access = jwt.sign(access_claims)
    state.access_tokens[access] = {"session_id": session["id"], "company_id": company.company_id,
                                   "user_id": user.get("id"), "scopes": set(scopes),
                                   "expires": now + ACCESS_TOKEN_SECONDS}
    refresh = jwt.sign({**base, "exp": int(now + _refresh_lifetime(session, now)),
                        "jti": str(uuid.uuid4()),
                        "typ": "Offline" if session["offline"] else "Refresh"})
    for record in state.refresh_tokens.values():  # rotation: older ones become stale
        if record["session_id"] == session["id"]:
            record["current"] = False
    state.refresh_tokens[refresh] = {"session_id": session["id"], "current": True}
    body: dict[str, Any] = {
        "access_token": access, "expires_in": ACCESS_TOKEN_SECONDS,
        "refresh_expires_in": int(_refresh_lifetime(session, now)), "refresh_token": refresh,
        "token_type": "Bearer", "not-before-policy": 0, "session_state": session["id"],
        "scope": " ".join(scopes)}
    if "openid" in scopes:
        body["id_token"] = jwt.sign({**base, **id_claims(company, user, scopes),
                                     "aud": session["client_id"], "typ": "ID",
                                     "exp": int(now) + ACCESS_TOKEN_SECONDS,
                                     **({"nonce": nonce} if nonce else {})})
    return body


def _refresh_lifetime(session: dict, now: float) -> float:
    if session["offline"]:
        return OFFLINE_IDLE_SECONDS
    return max(0.0, min(SESSION_IDLE_SECONDS, session["started"] + SESSION_MAX_SECONDS - now))


def id_claims(company: Company, user: dict, scopes: list[str]) -> dict[str, Any]:
    """NOTES §1: sub is the login_id UUID, locale uses a hyphen, company_profile adds the
    company claims, shard_id is gone."""
    claims: dict[str, Any] = {"sub": user.get("login_id"), "login_id": user.get("login_id")}
    if "email" in scopes:
        claims.update(email=user.get("email"), email_verified=True)
    if "profile" in scopes or "openid" in scopes:
        claims.update(given_name=user.get("firstname"), family_name=user.get("lastname"),
                      name=f"{user.get('firstname')} {user.get('lastname')}", locale="de-CH")
    if "company_profile" in scopes:
        claims.update(company_id=company.company_id, company_name=company.name,
                      company_user_id=user.get("id"))
    return claims


def refresh(state: BexioState, now: float, issuer: str, token: str, client_id: str,
            scope: str | None) -> dict:
    record = state.refresh_tokens.get(token)
    if record is None:
        raise OAuthError("invalid_grant", "Invalid refresh token")
    session = state.sessions.get(record["session_id"])
    if session is None or not session["alive"]:
        raise OAuthError("invalid_grant", "Session not active")
    if session["client_id"] != client_id:
        raise OAuthError("invalid_grant", "Invalid refresh token. Token client and authorized client don't match")
    if not record["current"]:
        # NOTES §1: the stored refresh token must be replaced on refresh; a used one is stale.
        raise OAuthError("invalid_grant", "Stale token")
    idle = OFFLINE_IDLE_SECONDS if session["offline"] else SESSION_IDLE_SECONDS
    too_old = not session["offline"] and now > session["started"] + SESSION_MAX_SECONDS
    if now > session["last_used"] + idle or too_old:
        session["alive"] = False
        raise OAuthError("invalid_grant", "Offline session not active" if session["offline"]
                         else "Session not active")
    if scope:
        extra = set(scope.split()) - set(session["scopes"])
        if extra:  # NOTES §1: scopes cannot change on refresh; new scopes need consent
            raise OAuthError("invalid_scope", f"Invalid scopes: {' '.join(sorted(extra))}")
    session["last_used"] = now
    return issue(state, now, issuer, session)


def redeem_code(state: BexioState, now: float, issuer: str, code: str, client_id: str,
                redirect_uri: str | None, verifier: str | None) -> dict:
    grant = state.codes.pop(code, None)  # single use
    if grant is None or grant["expires"] < now:
        raise OAuthError("invalid_grant", "Code not valid")
    if grant["client_id"] != client_id:
        raise OAuthError("invalid_grant", "Code not valid")
    if redirect_uri != grant["redirect_uri"]:
        raise OAuthError("invalid_grant", "Incorrect redirect_uri")
    if grant["challenge"]:
        if not verifier:
            raise OAuthError("invalid_grant", "PKCE code verifier not specified")
        expected = verifier if grant["challenge_method"] == "plain" else base64.urlsafe_b64encode(
            hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if expected != grant["challenge"]:
            raise OAuthError("invalid_grant", "PKCE verification failed")
    company = state.companies[grant["company_id"]]
    user = company.user(grant["user_id"]) or {}
    session = start_session(state, now, company, user, client_id, grant["scopes"])
    return issue(state, now, issuer, session, grant["nonce"])


def end_session(state: BexioState, session_id: str) -> None:
    session = state.sessions.get(session_id)
    if session:
        session["alive"] = False
    for token, record in list(state.access_tokens.items()):
        if record["session_id"] == session_id:
            del state.access_tokens[token]
