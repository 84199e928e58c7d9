"""The admin session that a signed launch URL starts, without cookies.

bridge's pages live in an iframe of the DG1 admin panel, on another site: browsers block
or partition third-party cookies there, so neither the session nor CSRF may rely on one.
A launch mints a signed, expiring session token (tenant, site, user) that the pages carry
in their links and forms; a form's CSRF token is an HMAC of that session token. A
cross-site attacker knows neither, and one tenant's token never opens another's data
because every page reads the tenant from the token, never from the request.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_MAX_AGE = 8 * 3600  # an admin's working day; after it DG1's menu launches anew
_SALT = "dg1-admin-session"


@dataclass(frozen=True)
class AdminSession:
    installation_id: int
    tenant: str
    site: str
    user: str
    token: str
    lang: str = ""  # the launch's signed language; "" = the browser's (bridge/web/i18n.py)

    @property
    def csrf(self) -> str:
        return csrf_for(self.token)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def start(installation_id: int, tenant: str, site: str, user: str, lang: str = "") -> AdminSession:
    token = _serializer().dumps({"i": installation_id, "t": tenant, "s": site, "u": user, "l": lang})
    return AdminSession(installation_id, tenant, site, user, token, lang)


def load(token: str | None) -> AdminSession | None:
    """The session of a token, or None when it is missing, forged or expired."""
    if not token:
        return None
    try:
        data = _serializer().loads(token, max_age=SESSION_MAX_AGE)
    except BadSignature:  # also SignatureExpired
        return None
    return AdminSession(int(data["i"]), str(data["t"]), str(data["s"]), str(data["u"]), token,
                        str(data.get("l") or ""))


def expired(token: str | None) -> AdminSession | None:
    """The session of a token signed by us but past its age, or None: only to word and frame
    the "session expired" page for the shop whose admin it was (never to serve a page)."""
    try:
        data = _serializer().loads(token or "")  # the signature checked, the age not
    except BadSignature:
        return None
    return AdminSession(int(data["i"]), str(data["t"]), str(data["s"]), str(data["u"]), token or "",
                        str(data.get("l") or ""))


def csrf_for(token: str) -> str:
    key = hashlib.sha256(("dg1-csrf|" + current_app.config["SECRET_KEY"]).encode()).digest()
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def csrf_valid(session: AdminSession, value: str | None) -> bool:
    return bool(value) and hmac.compare_digest(session.csrf.encode(), value.encode())
