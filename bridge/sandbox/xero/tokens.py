"""Issuing and checking OAuth tokens the way Xero's identity server does (NOTES section 1).

Access tokens look like Xero's: a JWT (three base64url parts) whose payload carries
``authentication_event_id`` and ``exp``. The signature is random: nothing verifies it, the
sandbox looks tokens up in memory.
"""
from __future__ import annotations

import base64
import json
import secrets
import uuid
from dataclasses import dataclass

from .store import AccessToken, Grant, IdentityState, RefreshToken

ACCESS_TTL = 1800          # 30 minutes [D /faq/oauth2]
REFRESH_GRACE = 1800       # the previous refresh token works 30 more minutes [D /faq/oauth2]
REFRESH_UNUSED_TTL = 60 * 24 * 3600   # 60 days if unused [D /faq/oauth2]
CODE_TTL = 300             # authorization code: single use, 5 minutes [N]

# NOTES section 1: granular scopes (2026) plus the OpenID ones. The broad ones are refused.
GRANULAR = {
    "accounting.invoices", "accounting.payments", "accounting.banktransactions",
    "accounting.manualjournals", "accounting.contacts", "accounting.settings",
    "accounting.attachments",
}
ALLOWED_SCOPES = GRANULAR | {s + ".read" for s in GRANULAR} | {"openid", "profile", "email", "offline_access"}
DEPRECATED_SCOPES = {"accounting.transactions", "accounting.transactions.read", "accounting.reports.read"}
DEFAULT_SCOPES = ["openid", "profile", "email", "offline_access", "accounting.invoices",
                  "accounting.contacts", "accounting.payments", "accounting.banktransactions",
                  "accounting.settings"]

DEMO_USER_ID = "5b8ed1a4-6f6e-4e2a-9d1c-2a4f0b9d7e11"
DEMO_USER_EMAIL = "demo@bridge.example"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(payload: dict) -> str:
    header = {"alg": "RS256", "kid": "1CAF8E66772D6DC028D6726FD0261581570EFC19", "typ": "JWT"}
    return ".".join([_b64(json.dumps(header).encode()), _b64(json.dumps(payload).encode()),
                     _b64(secrets.token_bytes(32))])


def check_scopes(scope: str) -> tuple[list[str], str | None]:
    """Split a scope string; return the error code Xero gives for a bad one, if any."""
    scopes = [s for s in scope.split() if s]
    if not scopes:
        return scopes, "invalid_scope"
    for s in scopes:
        if s in DEPRECATED_SCOPES or s not in ALLOWED_SCOPES:
            # Apps created after 2 Mar 2026 get invalid_scope for the broad scopes (NOTES 1).
            return scopes, "invalid_scope"
    return scopes, None


@dataclass
class Issued:
    access_token: str
    refresh_token: str | None
    body: dict


def issue(state: IdentityState, grant: Grant, now: float) -> Issued:
    """A new access token (and a refresh token only when offline_access was granted)."""
    access = jwt({
        "nbf": int(now), "exp": int(now) + ACCESS_TTL, "iss": "https://identity.xero.com",
        "aud": "https://identity.xero.com/resources", "client_id": grant.client_id,
        "sub": grant.user_id.replace("-", ""), "auth_time": int(now), "xero_userid": grant.user_id,
        "global_session_id": uuid.uuid4().hex, "sid": uuid.uuid4().hex, "jti": uuid.uuid4().hex,
        "authentication_event_id": grant.auth_event_id, "scope": grant.scopes,
    })
    state.access[access] = AccessToken(grant=grant, expires=now + ACCESS_TTL)
    body: dict = {"access_token": access, "expires_in": ACCESS_TTL, "token_type": "Bearer",
                  "scope": " ".join(grant.scopes)}
    refresh = None
    if "offline_access" in grant.scopes:  # no offline_access, no refresh token (NOTES 1)
        refresh = secrets.token_hex(32)
        state.refresh[refresh] = RefreshToken(grant=grant, last_used=now)
        body["refresh_token"] = refresh
    if "openid" in grant.scopes:
        body["id_token"] = jwt({
            "nbf": int(now), "exp": int(now) + 300, "iss": "https://identity.xero.com",
            "aud": grant.client_id, "iat": int(now), "auth_time": int(now),
            "xero_userid": grant.user_id, "global_session_id": uuid.uuid4().hex,
            "sub": grant.user_id.replace("-", ""), "email": DEMO_USER_EMAIL,
            "given_name": "Demo", "family_name": "User", "preferred_username": DEMO_USER_EMAIL,
        })
    return Issued(access, refresh, body)


def refresh(state: IdentityState, token: str, client_id: str, now: float) -> Issued | None:
    """Rotate: every refresh returns a NEW refresh token; the old one has a grace period."""
    record = state.refresh.get(token)
    if record is None or record.revoked or record.grant.client_id != client_id:
        return None
    if record.rotated_at is not None and now > record.rotated_at + REFRESH_GRACE:
        return None
    if record.rotated_at is None and now > record.last_used + REFRESH_UNUSED_TTL:
        return None
    if record.rotated_at is None:
        record.rotated_at = now
    return issue(state, record.grant, now)


def authenticate(state: IdentityState, authorization: str, now: float) -> tuple[Grant | None, str | None]:
    """The grant behind a Bearer header, or why it was refused (an expired token is a 401)."""
    if not authorization.lower().startswith("bearer "):
        return None, "AuthenticationUnsuccessful"
    token = authorization[7:].strip()
    record = state.access.get(token)
    if record is None or record.revoked:
        return None, "AuthenticationUnsuccessful"
    if now >= record.expires:
        return None, "TokenExpired: token expired"
    return record.grant, None


def revoke(state: IdentityState, token: str, client_id: str) -> bool:
    """Revoking a refresh token removes all the user's connections to the app [SDK; N]."""
    record = state.refresh.get(token)
    if record is None or record.grant.client_id != client_id:
        return False
    user, client = record.grant.user_id, record.grant.client_id
    for rt in state.refresh.values():
        if rt.grant.user_id == user and rt.grant.client_id == client:
            rt.revoked = True
    for at in state.access.values():
        if at.grant.user_id == user and at.grant.client_id == client:
            at.revoked = True
    for conn in state.connections_for(user, client):
        del state.connections[conn.id]
    return True
