"""Xero pages: the settings page, connect (OAuth), callback, organisation choice, disconnect.
(The webhook receiver is the connector's: ``connectors/xero/hooks.py``.)

Who may act for an installation: a link signed with SECRET_KEY (``signed_settings_url``),
which the platform's iframe pages hand out. The signature also serves as the forms' CSRF
token, so the pages work inside an iframe where third-party cookies are blocked. The OAuth
round trip itself runs in a top-level window (Xero's pages refuse framing) and binds its
``state`` to that browser with a nonce in the session cookie (NOTES 1: always check state).
"""
from __future__ import annotations

import logging
import secrets
from typing import Any

import click
from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from ...errors import NeedsReconnect, SyncError
from ...extensions import db
from ...models import Installation, LedgerConnection, utcnow
from ...vault import vault_for_app
from ...connectors.xero.connection import (active_connection, attach_organisation, drop_unused_credential,
                                          oauth_for_app)
from ...connectors.xero.oauth import XeroConnection, auth_event_id

log = logging.getLogger(__name__)

bp = Blueprint("xero", __name__)

ACCESS_SALT = "bridge.xero.installation"
STATE_SALT = "bridge.xero.oauth-state"
BACK_SALT = "bridge.xero.back"
ACCESS_MAX_AGE = 12 * 3600
STATE_MAX_AGE = 15 * 60
PENDING = "xero_pending_choice"
NONCE = "xero_oauth_nonce"


# --------------------------------------------------------------------------------------
# Signed access to one installation
# --------------------------------------------------------------------------------------


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def installation_token(installation_id: int) -> str:
    """A signature granting the holder the Xero pages of one installation for 12 hours."""
    return _serializer(ACCESS_SALT).dumps(int(installation_id))


def signed_settings_url(installation_id: int, **kwargs: Any) -> str:
    return url_for("xero.settings", installation=installation_id, sig=installation_token(installation_id), **kwargs)


def signed_connect_url(installation_id: int, back: str | None = None) -> str:
    """Where "Connect Xero" goes. ``back``: the platform page to return to when done, so the
    whole round trip (the portal's frame -> Xero's consent page -> the portal) happens in one
    window (Xero's pages refuse framing); signed, so the link cannot send anyone elsewhere."""
    extra = {"back": _serializer(BACK_SALT).dumps(back)} if back else {}
    return url_for("xero.connect", installation=installation_id, sig=installation_token(installation_id), **extra)


def _back_from_request() -> str | None:
    try:
        return _serializer(BACK_SALT).loads(request.args.get("back", ""), max_age=ACCESS_MAX_AGE)
    except (BadSignature, SignatureExpired):
        return None


def _installation_from_request() -> Installation:
    values = request.form if request.method == "POST" else request.args
    try:
        installation_id = int(values.get("installation", ""))
        signed = _serializer(ACCESS_SALT).loads(values.get("sig", ""), max_age=ACCESS_MAX_AGE)
    except SignatureExpired:
        abort(403, "This link has expired; open the settings page again from your portal.")
    except (BadSignature, ValueError):
        abort(403)
    if signed != installation_id:
        abort(403)
    installation = db.session.get(Installation, installation_id)
    if installation is None or installation.state != "active":
        abort(404)
    speak(installation)
    return installation


def speak(installation: Installation) -> None:
    """The page in the portal's language (kept from the launch that installed the app)."""
    g.bridge_lang = installation.language or "en"


def _redirect_uri() -> str:
    # Must be registered in Xero's developer portal exactly; https, or http only on localhost (NOTES 1).
    return current_app.config["PUBLIC_URL"] + "/oauth/xero/callback"


# --------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------


@bp.get("/xero/settings")
def settings():
    installation = _installation_from_request()
    return _render_settings(installation, message=request.args.get("message"))


def _render_settings(installation: Installation, message: str | None = None, error: str | None = None,
                     status: int = 200):
    pending = session.get(PENDING)
    if pending and pending.get("installation") != installation.id:
        pending = None
    connection = active_connection(installation.id)
    configured = bool(current_app.config.get("XERO_CLIENT_ID") and current_app.config.get("XERO_CLIENT_SECRET"))
    return render_template("xero/settings.html", installation=installation, connection=connection,
                           pending=pending, message=message, error=error, configured=configured,
                           sig=installation_token(installation.id), connect_url=signed_connect_url(installation.id),
                           redirect_uri=_redirect_uri(), now=utcnow()), status


@bp.get("/oauth/xero/connect")
def connect():
    """Start the authorisation at Xero's identity server with the granular scopes."""
    installation = _installation_from_request()
    try:
        oauth = oauth_for_app()
    except SyncError as exc:
        return _render_settings(installation, error=f"{exc.message} {exc.fix or ''}", status=503)
    nonce = secrets.token_urlsafe(16)
    session[NONCE] = nonce
    state = _serializer(STATE_SALT).dumps({"i": installation.id, "n": nonce, "b": _back_from_request()})
    return redirect(oauth.authorization_url(_redirect_uri(), state))


@bp.get("/oauth/xero/callback")
def callback():
    try:
        state = _serializer(STATE_SALT).loads(request.args.get("state", ""), max_age=STATE_MAX_AGE)
    except (BadSignature, SignatureExpired):
        abort(400, "The authorisation could not be verified (it expired or was not started here). Start again.")
    expected_nonce = session.pop(NONCE, None)
    if not expected_nonce or not secrets.compare_digest(str(expected_nonce), str(state.get("n", ""))):
        abort(400, "The authorisation was started in another browser or window. Start again from Settings.")
    installation = db.session.get(Installation, int(state["i"]))
    if installation is None:
        abort(404)
    speak(installation)
    if request.args.get("error"):
        # The user cancelled at Xero (access_denied), or Xero refused the request (invalid_scope...).
        return _render_settings(installation, error=_callback_error(request.args["error"]), status=400)
    try:
        oauth = oauth_for_app()
        tokens = oauth.exchange_code(request.args.get("code", ""), _redirect_uri())
        event = auth_event_id(tokens["access_token"])
        organisations = oauth.connections(tokens["access_token"], event)
    except SyncError as exc:
        return _render_settings(installation, error=f"{exc.message} {' '.join(exc.ledger_messages)}", status=502)
    if not organisations:
        return _render_settings(installation, error=_("No Xero organisation was chosen. Connect again and pick one."),
                                status=400)
    credential_id = vault_for_app(current_app).create("xero", tokens)
    db.session.commit()
    if len(organisations) == 1:
        attach_organisation(installation, credential_id, organisations[0])
        return redirect(state.get("b") or signed_settings_url(
            installation.id, message=_("Connected to %(name)s.", name=organisations[0].tenant_name)))
    session[PENDING] = {"installation": installation.id, "credential": credential_id, "back": state.get("b"),
                        "organisations": [{"id": o.id, "tenant_id": o.tenant_id, "name": o.tenant_name}
                                          for o in organisations]}
    return redirect(signed_settings_url(installation.id))


def _callback_error(code: str) -> str:
    if code == "access_denied":
        return _("The connection was cancelled in Xero. Nothing was changed.")
    if code in ("invalid_scope", "unauthorized_client"):
        return _("Xero refused the request (%(code)s). Check the Xero app's type and scopes "
                 "(see docs/xero.md, Creating a Xero app).", code=code)
    return _("Xero did not authorise the connection (%(code)s).", code=code)


@bp.post("/oauth/xero/choose")
def choose():
    """The user picked one organisation of several authorised in one go."""
    installation = _installation_from_request()
    pending = session.get(PENDING)
    if not pending or pending.get("installation") != installation.id:
        return _render_settings(installation, error=_("That choice has expired. Connect again."), status=400)
    chosen = next((o for o in pending["organisations"] if o["tenant_id"] == request.form.get("tenant_id")), None)
    if chosen is None:
        return _render_settings(installation, error=_("Choose one of the organisations listed."), status=400)
    session.pop(PENDING, None)
    attach_organisation(installation, pending["credential"],
                        XeroConnection(chosen["id"], chosen["tenant_id"], chosen["name"]))
    return redirect(pending.get("back") or signed_settings_url(
        installation.id, message=_("Connected to %(name)s.", name=chosen["name"])))


@bp.post("/oauth/xero/disconnect")
def disconnect():
    """Remove the organisation's connection at Xero and revoke the tokens (NOTES 1).

    The local disconnect always happens; what Xero could not be told is said on the page.
    """
    installation = _installation_from_request()
    connection = active_connection(installation.id)
    if connection is None:
        return redirect(signed_settings_url(installation.id, message=_("Xero was not connected.")))
    problems = _disconnect_remote(connection)
    credential_id = connection.credential_id
    connection.active = False
    connection.health, connection.health_message = "ok", "Disconnected"
    db.session.flush()
    if credential_id:
        drop_unused_credential(credential_id)
    db.session.commit()
    message = _("Disconnected from %(name)s.", name=connection.organisation_name)
    if problems:
        message += " " + problems
    return redirect(signed_settings_url(installation.id, message=message))


def _disconnect_remote(connection: LedgerConnection) -> str:
    if connection.credential_id is None:
        return ""
    try:
        oauth = oauth_for_app()
        tokens = vault_for_app(current_app).fresh(connection.credential_id, oauth.refresh)
        if connection.connection_ref:
            oauth.delete_connection(tokens.access_token, connection.connection_ref)
        shared = db.session.scalars(select(LedgerConnection.id).where(
            LedgerConnection.credential_id == connection.credential_id, LedgerConnection.active.is_(True),
            LedgerConnection.id != connection.id)).first()
        if shared is None and tokens.data.get("refresh_token"):
            oauth.revoke(tokens.data["refresh_token"])
    except NeedsReconnect:
        return ""  # the authorisation was already gone at Xero
    except SyncError as exc:
        log.warning("Xero disconnect of %s: %s", connection.organisation_id, exc.message)
        return _("Xero could not be told (%(reason)s); remove bridge under Settings > Connected apps "
                 "in Xero if it is still listed.", reason=exc.message)
    return ""


@bp.cli.command("settings-link")
@click.argument("installation_id", type=int)
def settings_link_command(installation_id: int) -> None:
    """Print the signed link (valid 12 hours) to one installation's Xero settings page: how a
    portal in Bitrix24 webhook mode, which has no app page to start from, connects Xero."""
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_URL"]):
        click.echo(url_for("xero.settings", installation=installation_id, sig=installation_token(installation_id),
                           _external=True))
