"""Trust for the pages Bitrix24 frames (install page, main page, placements).

Each launch is a POST from the portal
(https://apidocs.bitrix24.com/settings/app-installation/installation-finish.html): DOMAIN,
LANG... in the query string; AUTH_ID, member_id, APPLICATION_TOKEN, PLACEMENT,
PLACEMENT_OPTIONS in the form. A launch is trusted when:

1. its APPLICATION_TOKEN matches the one stored for its member_id (NOTES s5), and
2. the portal confirms AUTH_ID belongs to one of its users (``profile``), once per access
   token; the answer is remembered until the token expires.

No cookie is involved: Safari blocks third-party cookies inside the iframe (NOTES s13).
The app's own forms carry a signed, short-lived token naming the installation, the user
and the object instead; it is both the CSRF token and the session.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Response, current_app, g, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ...error_frame import remember_frame
from ...messages import N_
from ...errors import SyncError
from ...extensions import db
from ...models import Installation, utcnow
from . import store
from .mapper import portal_url
from .models import Bitrix24Viewer

FORM_TOKEN_MAX_AGE = 3600  # seconds; a placement left open longer is reloaded by the user
SECRET_PARAMS = ("AUTH_ID", "REFRESH_ID", "APPLICATION_TOKEN")


class LaunchRefused(Exception):
    """An iframe request bridge will not serve; ``status`` 400 (malformed) or 401 (untrusted)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Viewer:
    installation: Installation
    user_id: int
    is_admin: bool
    name: str
    placement: str = "DEFAULT"
    options: dict[str, Any] = field(default_factory=dict)
    lang: str = "en"


def launch_params() -> dict[str, str]:
    """NOTES s2: some parameters come in the query string, the rest in the form body."""
    params = {k: v for k, v in request.args.items()}
    params.update({k: v for k, v in request.form.items()})
    return params


def require(params: dict[str, str], *names: str) -> None:
    for name in names:
        if not params.get(name):
            raise LaunchRefused(400, N_("The request from Bitrix24 lacks %(name)s.", name=name))


def authenticate(params: dict[str, str]) -> Viewer:
    require(params, "member_id", "APPLICATION_TOKEN", "AUTH_ID")
    installation = store.verify(params["member_id"], params["APPLICATION_TOKEN"])
    named = installation or store.find(params["member_id"])
    remember_frame(frame_source(named) if named is not None and named.state == "active" else None)
    if installation is None:
        raise LaunchRefused(401, N_("This page was not opened by a Bitrix24 portal that has the app installed."))
    user = confirm_user(installation, params["AUTH_ID"], params.get("AUTH_EXPIRES"))
    raw_options = params.get("PLACEMENT_OPTIONS") or "{}"
    try:
        options = json.loads(raw_options)  # NOTES s2: a JSON *string*
    except ValueError:
        raise LaunchRefused(400, N_("PLACEMENT_OPTIONS from Bitrix24 is not valid JSON."))
    g.bridge_lang = (params.get("LANG") or "en")[:5]  # the pages' language (bridge/web/i18n.py)
    return Viewer(installation, user.user_id, user.is_admin, user.name, params.get("PLACEMENT") or "DEFAULT",
                  options if isinstance(options, dict) else {}, g.bridge_lang)


def confirm_user(installation: Installation, auth_id: str, expires: str | None) -> Bitrix24Viewer:
    token_hash = store.hash_token(auth_id)
    known = db.session.get(Bitrix24Viewer, token_hash)
    if known is not None and known.installation_id == installation.id and known.expires_at > utcnow():
        return known
    try:
        profile = store.user_client(installation, auth_id).call("profile").result
    except SyncError as exc:
        if exc.status in (401, 403) or exc.code in ("NO_AUTH_FOUND", "invalid_token", "expired_token"):
            raise LaunchRefused(401, N_("Bitrix24 did not confirm your session. Reload the page.")) from exc
        raise
    try:
        ttl = min(max(int(expires or 3600), 60), 3600)
    except ValueError:
        ttl = 3600
    viewer = known or Bitrix24Viewer(token_hash=token_hash)
    viewer.installation_id = installation.id
    viewer.user_id = int(profile.get("ID") or 0)
    viewer.is_admin = bool(profile.get("ADMIN"))
    viewer.name = " ".join(filter(None, [profile.get("NAME"), profile.get("LAST_NAME")]))[:255]
    viewer.expires_at = utcnow() + timedelta(seconds=ttl)
    db.session.add(viewer)
    db.session.commit()
    return viewer


# --------------------------------------------------------------------------------------
# Forms without cookies
# --------------------------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="bitrix24-iframe-form")


def form_token(viewer: Viewer, obj: str = "") -> str:
    return _serializer().dumps({"i": viewer.installation.id, "u": viewer.user_id, "a": viewer.is_admin, "o": obj,
                                "l": viewer.lang})


# The object a form token names for the app-wide pages (settings, sync log, dashboard): one token,
# handed out by the main page, opens them all for that user for an hour.
APP_PAGES = "app"


def pages_token(installation: Installation, lang: str = "en") -> str:
    """An administrator's token for the app-wide pages of an installation no launch can open:
    a portal in webhook mode has no app in Bitrix24 (``flask bitrix24 pages-link``). Whoever runs
    the server's commands is trusted with the installation's settings already."""
    return form_token(Viewer(installation, 0, True, "", lang=lang), APP_PAGES)


def check_form_token(token: str | None, obj: str = "") -> Viewer:
    if not token:
        raise LaunchRefused(400, N_("The form lacks its security token. Reload the page."))
    try:
        data = _serializer().loads(token, max_age=FORM_TOKEN_MAX_AGE)
    except SignatureExpired:
        _remember_expired(token)
        raise LaunchRefused(401, N_("This page was open too long. Reload it in Bitrix24."))
    except BadSignature:
        raise LaunchRefused(401, N_("The form's security token is not valid. Reload the page."))
    installation = db.session.get(Installation, data.get("i"))
    if installation is None or installation.state != "active" or data.get("o", "") != obj:
        raise LaunchRefused(401, N_("The form's security token is not valid here. Reload the page."))
    g.bridge_lang = str(data.get("l") or "en")[:5]  # the language of the launch that issued the token
    remember_frame(frame_source(installation))
    return Viewer(installation, int(data.get("u") or 0), bool(data.get("a")), "", lang=g.bridge_lang)


def _remember_expired(token: str) -> None:
    """An expired token was still signed by us: its portal may frame the refusal, which is
    worded in the token's language (the user reads "Reload it" inside that portal)."""
    data = _serializer().loads(token)  # the signature checked, the age not
    installation = db.session.get(Installation, data.get("i")) if isinstance(data, dict) else None
    if installation is not None and installation.state == "active":
        g.bridge_lang = str(data.get("l") or "en")[:5]
        remember_frame(frame_source(installation))


# --------------------------------------------------------------------------------------
# Framing headers
# --------------------------------------------------------------------------------------


def frame_source(installation: Installation | None) -> str | None:
    """The portal's origin for ``frame-ancestors``.

    Only the origin: browsers match frame-ancestors against the ancestor's *origin*, so a
    source with a path (a portal served under a path prefix) would match nothing and the
    page would be refused inside its own portal (seen in Chromium)."""
    endpoint = ((installation.endpoints or {}) if installation else {}).get("client_endpoint")
    if not endpoint:
        return None
    parts = urlsplit(portal_url(endpoint))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def framed(response: Response, installation: Installation | None) -> Response:
    """CSP frame-ancestors for that portal only; never X-Frame-Options (NOTES s5)."""
    source = frame_source(installation)
    ancestors = f"'self' {source}" if source else "'none'"
    response.headers["Content-Security-Policy"] = f"frame-ancestors {ancestors}"
    response.headers.pop("X-Frame-Options", None)
    response.headers["Referrer-Policy"] = "no-referrer"  # AUTH_ID must not leak through links
    response.headers["Cache-Control"] = "no-store"
    return response
