"""The Bexio connection pages: connect (OAuth code flow), callback, disconnect.

``/oauth/bexio/connect?installation=<id>&sig=<signature>`` is opened from the
installation's settings page (``connect_url`` makes the link; the signature proves the
settings page made it, so nobody can bind their Bexio company to someone else's shop).
The OAuth ``state`` is signed and bound to this browser's session with a nonce; the
code is bound to us with PKCE (S256). Tokens go straight into the vault and never to the
browser.

A link made with a ``return_to`` (the DG1 admin's Bexio settings page) brings the user back
there after Bexio, whatever happened: the outcome (connected, refused with Bexio's reason,
failed) is kept per installation and shown by the page they land on. Without one, the
outcome is shown on a page of its own.
"""
from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, session
from sqlalchemy import select
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ...errors import SyncError
from ...extensions import db
from ...messages import N_
from ...stored_messages import from_stored, to_stored
from ...models import Cursor, Installation, utcnow
from ...connectors.bexio.auth import pkce_pair
from ...connectors.bexio.connection import active_connection, disconnect, oauth_for_app, store_connection

bp = Blueprint("bexio", __name__)

CONNECT_LINK_SECONDS = 24 * 3600
STATE_SECONDS = 15 * 60  # time to sign in at Bexio and approve
SESSION_KEY = "bexio_oauth"
OUTCOME = "bexio_connect"  # Cursor name of the last connection attempt's result


def _signer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"bexio-{purpose}")


def connect_url(installation_id: int, return_to: str | None = None) -> str:
    """The link the settings page shows as "Authenticate with Bexio".

    ``return_to`` is where the browser goes back to after Bexio, whatever the outcome
    (e.g. the Bexio settings page inside the DG1 admin panel); it is part of the signed
    link, so nobody can turn the callback into a redirect to a site of their choosing."""
    payload: Any = {"i": installation_id, "r": return_to} if return_to else installation_id
    sig = _signer("connect").dumps(payload)
    return f"{current_app.config['PUBLIC_URL']}/oauth/bexio/connect?installation={installation_id}&sig={sig}"


def disconnect_token(installation_id: int) -> str:
    """The hidden field of the settings page's "Disconnect" form."""
    return _signer("disconnect").dumps(installation_id)


def redirect_uri() -> str:
    """Must be registered exactly on developer.bexio.com (NOTES §1)."""
    return f"{current_app.config['PUBLIC_URL']}/oauth/bexio/callback"


def _page(title: str, message: str, *, status: int = 200, ok: bool = False, fix: str | None = None,
          details: list[str] | None = None, **context: Any):
    return render_template("bexio/connection.html", title=title, message=message, ok=ok, fix=fix,
                           details=details or [], **context), status


def _signed(raw: str | None, sig: str | None, purpose: str, max_age: int) -> tuple[Installation | None, str | None]:
    """The installation a signed link names (None if the link is bad) and its return URL."""
    try:
        signed = _signer(purpose).loads(sig or "", max_age=max_age)
    except (BadSignature, SignatureExpired):
        return None, None
    signed_id, return_to = (signed.get("i"), signed.get("r")) if isinstance(signed, dict) else (signed, None)
    if str(signed_id) != str(raw):
        return None, None
    installation = db.session.get(Installation, int(signed_id))
    return (installation if installation is not None and installation.state == "active" else None), return_to


def _installation(raw: str | None, sig: str | None, purpose: str, max_age: int) -> Installation | None:
    return _signed(raw, sig, purpose, max_age)[0]


def last_outcome(installation_id: int) -> dict[str, Any] | None:
    """The result of the installation's last connection attempt (read only), for the page
    the user returns to: {"ok", "message", "fix", "details", "at"}."""
    row = db.session.scalar(select(Cursor).where(Cursor.scope == f"installation:{installation_id}",
                                                 Cursor.name == OUTCOME))
    if row is None or not row.value:
        return None
    return {name: from_stored(value) for name, value in row.value.items()}  # message and fix in the reader's language


def _back(installation_id: int, return_to: str, *, ok: bool, message: str, fix: str | None = None,
          details: list[str] | None = None):
    """Remember the outcome for the page at ``return_to``, and send the browser there."""
    row = db.session.scalar(select(Cursor).where(Cursor.scope == f"installation:{installation_id}",
                                                 Cursor.name == OUTCOME))
    if row is None:
        row = Cursor(scope=f"installation:{installation_id}", name=OUTCOME, value={})
        db.session.add(row)
    row.value = {"ok": ok, "message": to_stored(message), "fix": to_stored(fix), "details": details or [],
                 "at": utcnow().isoformat(timespec="seconds")}
    db.session.commit()
    return redirect(return_to, 303)


@bp.get("/oauth/bexio/connect")
def connect():
    installation, return_to = _signed(request.args.get("installation"), request.args.get("sig"), "connect",
                                      CONNECT_LINK_SECONDS)
    if installation is None:
        return _page("Bexio", N_("This connection link is not valid or has expired."), status=403,
                     fix=N_("Open the Bexio settings again and press Authenticate with Bexio."))
    try:
        oauth = oauth_for_app()
    except SyncError as exc:
        if return_to:
            return _back(installation.id, return_to, ok=False, message=exc.message, fix=exc.fix)
        return _page("Bexio", exc.message, status=500, fix=exc.fix)
    nonce = secrets.token_urlsafe(16)
    verifier, challenge = pkce_pair()
    state = _signer("state").dumps({"i": installation.id, "n": nonce})
    session[SESSION_KEY] = {"nonce": nonce, "verifier": verifier, "installation": installation.id,
                            "return_to": return_to}
    return redirect(oauth.authorize_url(redirect_uri=redirect_uri(), state=state, nonce=nonce,
                                        code_challenge=challenge), 302)


@bp.get("/oauth/bexio/callback")
def callback():
    pending = session.pop(SESSION_KEY, None)
    try:
        state = _signer("state").loads(request.args.get("state", ""), max_age=STATE_SECONDS)
    except (BadSignature, SignatureExpired):
        state = None
    if not state or not pending or pending.get("nonce") != state.get("n") or pending.get("installation") != state.get("i"):
        return _page("Bexio", N_("This answer from Bexio does not belong to a connection started in this browser, "
                                 "or it took too long."), status=400,
                     fix=N_("Start again from the Bexio settings page."))
    return_to = pending.get("return_to")
    if request.args.get("error"):
        denied = request.args.get("error") == "access_denied"
        message = N_("The connection was not approved in Bexio.") if denied else N_("Bexio did not grant the connection.")
        details = [request.args.get("error_description") or request.args["error"]]
        if return_to:
            return _back(int(state["i"]), return_to, ok=False, message=message,
                         fix=N_("Press Authenticate with Bexio again and allow the access."), details=details)
        return _page("Bexio", message, status=400, fix=N_("Start again and press Allow in Bexio."), details=details)
    installation = db.session.get(Installation, int(state["i"]))
    if installation is None or installation.state != "active":
        return _page("Bexio", N_("The shop this connection was for is no longer installed."), status=400)
    oauth = oauth_for_app()
    try:
        token = oauth.exchange(code=request.args.get("code", ""), redirect_uri=redirect_uri(),
                               code_verifier=pending["verifier"])
        identity = oauth.identity(token, nonce=pending["nonce"])
    except SyncError as exc:
        if return_to:
            return _back(installation.id, return_to, ok=False, message=exc.message, fix=exc.fix,
                         details=exc.ledger_messages)
        return _page("Bexio", exc.message, status=502, fix=exc.fix, details=exc.ledger_messages)
    connection = store_connection(installation, identity, token)
    message = N_("Connected to the Bexio company %(company)s.",
                 company=connection.organisation_name or connection.organisation_id)
    if return_to:
        return _back(installation.id, return_to, ok=True, message=message)
    return _page(N_("Bexio connected"), message, ok=True, company=connection.organisation_name)


@bp.post("/oauth/bexio/disconnect")
def disconnect_view():
    installation = _installation(request.form.get("installation"), request.form.get("token"), "disconnect",
                                 CONNECT_LINK_SECONDS)
    if installation is None:
        return _page("Bexio", N_("This request is not valid or has expired."), status=403,
                     fix=N_("Open the Bexio settings again."))
    connection = active_connection(installation.id)
    if connection is None:
        return _page("Bexio", N_("Bexio was not connected."), ok=True)
    name = connection.organisation_name or connection.organisation_id
    try:
        oauth = oauth_for_app()
    except SyncError:
        oauth = None
    disconnect(connection, oauth)
    return _page(N_("Bexio disconnected"), N_("The Bexio company %(company)s is disconnected. Nothing more is synced "
                                              "until you connect again.", company=name), ok=True)
