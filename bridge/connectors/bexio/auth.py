"""OpenID Connect with auth.bexio.com: the code flow, refresh, revoke, who connected.

NOTES §1: Bexio's identity provider is a Keycloak realm (``/realms/bexio/protocol/
openid-connect/{auth,token,revoke}``); every ``/token`` parameter goes in the POST body;
``offline_access`` gives a refresh token that lives while it is used at least once a year;
refresh tokens rotate (the stored one is replaced; if none comes back the old one stays,
which ``Vault._merge`` does); scopes cannot change on refresh. ``company_profile`` adds
the ``company_id`` claim that names the Bexio company a connection belongs to.

requests-oauthlib does the protocol; this module adds what Bexio needs around it: the
client authentication method (not documented, so configurable), typed errors, and
reading the identity claims.
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

import requests
from oauthlib.oauth2 import OAuth2Error
from requests_oauthlib import OAuth2Session

from ...errors import NeedsReconnect, PermanentError, RetryableError
from ...messages import N_
from ...numbers import whole_number

# NOTES §1 "Scope set for this app": accounting covers taxes, accounts and currencies;
# bank_account_show lets invoices and payments name a bank account; a write scope implies
# its read scope. offline_access is what gives a refresh token at all.
SCOPES = ("openid", "offline_access", "company_profile", "email", "contact_edit", "kb_invoice_edit",
          "article_edit", "stock_edit", "accounting", "bank_account_show")

RECONNECT_FIX = "Reconnect Bexio in the integration settings."


@dataclass(frozen=True)
class BexioIdentity:
    """Who approved the connection, from the ID token (``company_profile`` claims)."""

    company_id: str
    company_name: str
    user_id: int | None
    email: str
    login_id: str


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge): the realm advertises PKCE; it binds the code to us."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _raise_for_transport(response: requests.Response) -> requests.Response:
    """Compliance hook: an unavailable realm is temporary, whatever oauthlib would make of
    its HTML error page."""
    if response.status_code == 429 or response.status_code >= 500:
        raise RetryableError(N_("Bexio sign-in is temporarily unavailable (HTTP %(status)s).",
                                status=response.status_code),
                             retry_after=60, code=f"auth_http_{response.status_code}", status=response.status_code)
    return response


class BexioOAuth:
    """One registered Bexio app (client id and secret) and its realm endpoints."""

    def __init__(self, *, auth_url: str, client_id: str, client_secret: str,
                 token_auth: str = "client_secret_post", timeout: float = 30.0) -> None:
        if not client_id or not client_secret:
            raise PermanentError(N_("Bexio is not configured: BEXIO_CLIENT_ID and BEXIO_CLIENT_SECRET are missing."),
                                 code="bexio_not_configured",
                                 fix=N_("Create an app on developer.bexio.com and set both (see docs/bexio.md)."))
        self.base = auth_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        # NOTES §1: client_secret_post vs client_secret_basic is undocumented; both are advertised.
        if token_auth not in ("client_secret_post", "client_secret_basic"):
            raise PermanentError(N_("BEXIO_TOKEN_AUTH must be client_secret_post or client_secret_basic, not "
                                    "%(token_auth)s.",
                                    token_auth=repr(token_auth)), code="bexio_not_configured")
        self.token_auth = token_auth
        self.timeout = timeout

    @property
    def authorize_endpoint(self) -> str:
        return f"{self.base}/auth"

    @property
    def token_endpoint(self) -> str:
        return f"{self.base}/token"

    @property
    def issuer(self) -> str:
        return self.base.rsplit("/protocol/openid-connect", 1)[0]

    def _session(self, **kwargs: Any) -> OAuth2Session:
        # No scope on the session: Keycloak may answer with more scopes than asked (its
        # default client scopes), which oauthlib would otherwise treat as an error.
        session = OAuth2Session(self.client_id, **kwargs)
        session.register_compliance_hook("access_token_response", _raise_for_transport)
        session.register_compliance_hook("refresh_token_response", _raise_for_transport)
        return session

    def _client_auth(self) -> dict[str, Any]:
        if self.token_auth == "client_secret_basic":
            return {"auth": requests.auth.HTTPBasicAuth(self.client_id, self.client_secret)}
        # NOTES §1: all token parameters in the body, the client's credentials included.
        return {"client_id": self.client_id, "client_secret": self.client_secret}

    # -- the code flow ------------------------------------------------------------------
    def authorize_url(self, *, redirect_uri: str, state: str, nonce: str, code_challenge: str) -> str:
        session = self._session(redirect_uri=redirect_uri, scope=list(SCOPES))
        url, _ = session.authorization_url(self.authorize_endpoint, state=state, nonce=nonce,
                                           code_challenge=code_challenge, code_challenge_method="S256")
        return url

    def exchange(self, *, code: str, redirect_uri: str, code_verifier: str) -> dict[str, Any]:
        session = self._session(redirect_uri=redirect_uri)
        try:
            auth = self._client_auth()
            if "auth" in auth:
                token = session.fetch_token(self.token_endpoint, code=code, code_verifier=code_verifier,
                                            auth=auth["auth"], include_client_id=False, timeout=self.timeout)
            else:
                token = session.fetch_token(self.token_endpoint, code=code, code_verifier=code_verifier,
                                            include_client_id=True, client_secret=self.client_secret,
                                            timeout=self.timeout)
        except OAuth2Error as exc:
            raise PermanentError(N_("Bexio did not accept the approval (%(error)s).",
                                    error=exc.error), code=exc.error,
                                 fix=N_("Start the connection again from the settings page."),
                                 ledger_messages=[exc.description or exc.error]) from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetryableError(N_("Bexio sign-in could not be reached."), retry_after=30, code="network") from exc
        return dict(token)

    # -- refresh (the vault's refresher) ----------------------------------------------------
    def refresh(self, data: dict[str, Any]) -> dict[str, Any]:
        """New tokens for ``data``; invalid_grant means the user must approve again."""
        refresh_token = data.get("refresh_token")
        if not refresh_token:
            raise NeedsReconnect(N_("The Bexio connection has no refresh token."), fix=RECONNECT_FIX)
        session = self._session()
        try:
            if self.token_auth == "client_secret_basic":
                token = session.refresh_token(self.token_endpoint, refresh_token=refresh_token,
                                              auth=requests.auth.HTTPBasicAuth(self.client_id, self.client_secret),
                                              timeout=self.timeout)
            else:
                token = session.refresh_token(self.token_endpoint, refresh_token=refresh_token,
                                              client_id=self.client_id, client_secret=self.client_secret,
                                              timeout=self.timeout)
        except OAuth2Error as exc:
            if exc.error in ("invalid_grant", "invalid_scope", "unauthorized_client"):
                # NOTES §8.4: an expired offline session, a revoked consent or a stale
                # (already rotated) refresh token all end here.
                raise NeedsReconnect(N_("Bexio ended the connection's authorisation; it must be approved again."),
                                     code=exc.error, fix=RECONNECT_FIX,
                                     ledger_messages=[exc.description or exc.error]) from exc
            raise PermanentError(N_("Bexio refused to renew the connection (%(error)s).",
                                    error=exc.error), code=exc.error,
                                 fix=N_("Check BEXIO_CLIENT_ID and BEXIO_CLIENT_SECRET (see docs/bexio.md)."),
                                 ledger_messages=[exc.description or exc.error]) from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetryableError(N_("Bexio sign-in could not be reached."), retry_after=30, code="network") from exc
        return dict(token)

    def revoke(self, refresh_token: str) -> None:
        """End the offline session at Bexio (best effort: disconnecting must work offline)."""
        body: dict[str, str] = {"token": refresh_token, "token_type_hint": "refresh_token"}
        auth = None
        if self.token_auth == "client_secret_basic":
            auth = requests.auth.HTTPBasicAuth(self.client_id, self.client_secret)
        else:
            body.update(client_id=self.client_id, client_secret=self.client_secret)
        try:
            requests.post(f"{self.base}/revoke", data=body, auth=auth, timeout=self.timeout)
        except requests.RequestException:
            pass

    # -- who connected --------------------------------------------------------------------
    def identity(self, token: dict[str, Any], *, nonce: str | None = None) -> BexioIdentity:
        """The company and user from the ID token.

        The ID token came straight from the token endpoint over the server's own TLS
        connection, which OpenID Connect Core 3.1.3.7 (6) accepts in place of checking the
        signature; issuer, audience and nonce are still checked.
        """
        claims = decode_jwt_claims(token.get("id_token") or "")
        if claims.get("iss") and claims["iss"] != self.issuer:
            raise PermanentError(N_("The Bexio sign-in answered for another issuer."), code="wrong_issuer",
                                 ledger_messages=[str(claims.get("iss"))])
        audience = claims.get("aud")
        if audience and self.client_id not in (audience if isinstance(audience, list) else [audience]):
            raise PermanentError(N_("The Bexio ID token was not issued to this app."), code="wrong_audience")
        if nonce is not None and claims.get("nonce") != nonce:
            raise PermanentError(N_("The Bexio sign-in answer does not belong to this connection attempt."),
                                 code="wrong_nonce", fix=N_("Start the connection again."))
        if not claims.get("company_id"):
            raise PermanentError(N_("Bexio did not say which company was connected."), code="no_company",
                                 fix=N_("Connect again and allow the company profile permission."))
        user = claims.get("company_user_id")
        return BexioIdentity(company_id=str(claims["company_id"]), company_name=str(claims.get("company_name") or ""),
                             user_id=whole_number(user),
                             email=str(claims.get("email") or ""), login_id=str(claims.get("login_id") or
                                                                                claims.get("sub") or ""))


def decode_jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a compact JWT, unverified (see ``BexioOAuth.identity``)."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
