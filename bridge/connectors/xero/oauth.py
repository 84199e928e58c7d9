"""Xero's identity server: authorise, exchange, refresh, revoke, and the connections list.

OAuth 2.0 authorisation code flow for a confidential web app (NOTES section 1). The
authorize URL and the code exchange go through requests-oauthlib; the refresh is a plain
form POST so that ``invalid_grant`` (the authorisation is gone) and an outage (try again)
become different typed errors. Tokens go straight to the vault; nothing here stores them.
"""
from __future__ import annotations

import base64
import json
import logging
import os
from dataclasses import dataclass
from typing import Any, Callable

import requests
from oauthlib.oauth2.rfc6749.errors import OAuth2Error
from requests_oauthlib import OAuth2Session

from ...errors import NeedsReconnect, PermanentError, RetryableError, SyncError
from ...http import ApiClient
from ...vault import TokenData, Tokens, Vault
from ...messages import N_
from .errors import RECONNECT_FIX, XERO_ERRORS

log = logging.getLogger(__name__)

# Granular scopes (NOTES 1, "Scopes (2026 change)"): the broad accounting.transactions is
# refused for apps created after 2 March 2026, and the spec's own scope list is outdated.
# Payments are written (record_payment), bank transactions only read (dashboard).
SCOPES = ("openid", "profile", "email", "offline_access", "accounting.invoices", "accounting.contacts",
          "accounting.payments", "accounting.banktransactions.read", "accounting.settings.read")


@dataclass(frozen=True)
class XeroConnection:
    """One organisation the token may act on (a row of GET /connections)."""

    id: str  # the connection id: what DELETE /connections/{id} takes (NOTES 1)
    tenant_id: str
    tenant_name: str
    tenant_type: str = "ORGANISATION"


def auth_event_id(access_token: str) -> str | None:
    """The ``authentication_event_id`` claim of the access-token JWT.

    Read without verifying the signature: the token came straight from Xero's token
    endpoint over TLS, and the claim only narrows /connections to this flow (NOTES 1).
    """
    try:
        payload = access_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    return claims.get("authentication_event_id") if isinstance(claims, dict) else None


def make_session() -> requests.Session:
    """Every HTTP session this connector uses comes from here (one place to add hooks)."""
    return requests.Session()


class XeroOAuth(ApiClient):
    system = "Xero"
    errors = XERO_ERRORS

    def __init__(self, *, client_id: str, client_secret: str, authorize_url: str, token_url: str,
                 revoke_url: str, connections_url: str, timeout: float = 30.0,
                 session: requests.Session | None = None,
                 session_factory: Callable[[], requests.Session] | None = None) -> None:
        self._session_factory = session_factory or make_session
        super().__init__(timeout=timeout, session=session or self._session_factory())
        self.client_id = client_id
        self.client_secret = client_secret
        self.authorize_url = authorize_url
        self.token_url = token_url
        self.revoke_url = revoke_url
        self.connections_url = connections_url

    @classmethod
    def from_config(cls, config: dict[str, Any], **kwargs: Any) -> "XeroOAuth":
        missing = [n for n in ("XERO_CLIENT_ID", "XERO_CLIENT_SECRET") if not config.get(n)]
        if missing:
            raise PermanentError(N_("Xero is not configured on this server."), code="not_configured",
                                 fix=N_("Set %(names)s (see docs/xero.md).", names=" and ".join(missing)))
        if config.get("BRIDGE_ENV") in ("demo", "test") and str(config["XERO_TOKEN_URL"]).startswith("http://"):
            # The sandbox listens on plain http; oauthlib refuses that unless told. Never
            # set in development or production, where Xero's URLs are https.
            os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
        return cls(client_id=config["XERO_CLIENT_ID"], client_secret=config["XERO_CLIENT_SECRET"],
                   authorize_url=config["XERO_AUTHORIZE_URL"], token_url=config["XERO_TOKEN_URL"],
                   revoke_url=config["XERO_REVOKE_URL"], connections_url=config["XERO_CONNECTIONS_URL"],
                   timeout=float(config.get("HTTP_TIMEOUT_SECONDS", 30)), **kwargs)

    # -- error reading (token endpoint errors are {"error": "..."}, NOTES 8) --------------
    def error_code(self, response: requests.Response, body: Any) -> str | None:
        if isinstance(body, dict):
            return body.get("error") or body.get("Type") or body.get("Detail")
        return None

    def error_details(self, response: requests.Response, body: Any) -> list[str]:
        if isinstance(body, dict):
            return [str(v) for k, v in body.items() if k in ("error", "error_description", "Detail") and v]
        return []

    # -- the connect flow -----------------------------------------------------------------
    def _oauth_session(self, redirect_uri: str, state: str | None = None,
                       scope: list[str] | None = None) -> OAuth2Session:
        oauth = OAuth2Session(self.client_id, redirect_uri=redirect_uri, scope=scope, state=state)
        template = self._session_factory()
        oauth.hooks = template.hooks  # keep hooks (e.g. traffic checks) of the session factory
        return oauth

    def authorization_url(self, redirect_uri: str, state: str) -> str:
        url, _ = self._oauth_session(redirect_uri, state, list(SCOPES)).authorization_url(self.authorize_url)
        return url

    def exchange_code(self, code: str, redirect_uri: str) -> TokenData:
        """The code is single use and lives 5 minutes (NOTES 1): exchange at once.

        Client authentication by HTTP Basic, as Xero documents it."""
        # No scope on this session: Xero may answer the granted scopes in another order, which
        # oauthlib would otherwise report as a changed scope.
        oauth = self._oauth_session(redirect_uri)
        try:
            token = oauth.fetch_token(self.token_url, code=code, client_secret=self.client_secret,
                                      include_client_id=False, timeout=self.timeout)
        except OAuth2Error as exc:
            raise PermanentError(N_("Xero did not accept the authorisation; please connect again."),
                                 code=exc.error or "oauth_error", fix=RECONNECT_FIX,
                                 ledger_messages=[exc.description or exc.error or str(exc)]) from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetryableError(N_("Xero could not be reached to finish connecting."), retry_after=5,
                                 code="network") from exc
        return _token_data(dict(token))

    def refresh(self, data: TokenData) -> TokenData:
        """A new access token, and a NEW refresh token that must be saved before use
        (NOTES 1). The vault calls this single-flight and stores the result.

        invalid_grant -> NeedsReconnect; a lost response -> RetryableError, after which the
        same (previous) refresh token still works for 30 minutes (NOTES 1, grace period).
        """
        refresh_token = data.get("refresh_token")
        if not refresh_token:
            raise NeedsReconnect(N_("Xero gave no refresh token (offline_access missing)."), fix=RECONNECT_FIX)
        response = self.request("POST", self.token_url, expect=(200,),
                                data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                                auth=(self.client_id, self.client_secret),
                                headers={"Accept": "application/json"})
        return _token_data(response.json())

    def revoke(self, refresh_token: str) -> None:
        """Revoking removes all of the user's connections to this app (NOTES 1)."""
        self.request("POST", self.revoke_url, expect=(200,), data={"token": refresh_token},
                     auth=(self.client_id, self.client_secret))

    # -- connections (no tenant header; NOTES 1) ------------------------------------------
    def connections(self, access_token: str, event_id: str | None = None) -> list[XeroConnection]:
        params = {"authEventId": event_id} if event_id else None
        response = self.request("GET", self.connections_url, expect=(200,), params=params,
                                headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"})
        return [XeroConnection(id=c["id"], tenant_id=c["tenantId"], tenant_name=c.get("tenantName") or "",
                               tenant_type=c.get("tenantType") or "ORGANISATION")
                for c in response.json() if (c.get("tenantType") or "ORGANISATION") == "ORGANISATION"]

    def delete_connection(self, access_token: str, connection_id: str) -> bool:
        """DELETE /connections/{id} by connection id, not tenantId (NOTES 1). False if gone."""
        response = self.request("DELETE", f"{self.connections_url}/{connection_id}", expect=(204, 200, 404),
                                headers={"Authorization": f"Bearer {access_token}"})
        return response.status_code != 404


def _token_data(token: dict[str, Any]) -> TokenData:
    keep = ("access_token", "refresh_token", "expires_in", "expires_at", "token_type", "scope", "id_token")
    data = {k: token[k] for k in keep if token.get(k) is not None}
    if isinstance(data.get("scope"), list):
        data["scope"] = " ".join(data["scope"])
    return data


class TokenSource:
    """Fresh access tokens of one credential, refreshed single-flight through the vault."""

    def __init__(self, vault: Vault, credential_id: int, oauth: XeroOAuth) -> None:
        self.vault = vault
        self.credential_id = credential_id
        self.oauth = oauth

    def current(self) -> Tokens:
        return self.vault.fresh(self.credential_id, self.oauth.refresh)

    def after_unauthorised(self, version: int) -> Tokens:
        """Xero said 401 to tokens of ``version``: refresh once unless someone already did."""
        return self.vault.fresh(self.credential_id, self.oauth.refresh, stale_version=version)


def is_reconnect(error: SyncError) -> bool:
    return isinstance(error, NeedsReconnect)
