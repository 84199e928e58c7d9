"""Event callbacks: verify, parse and store in the inbox; the work happens in jobs.

The body is form-encoded with PHP bracket keys, never JSON
(https://apidocs.bitrix24.com/api-reference/events/index.html): Flask's ``request.form`` holds
flat keys like ``data[FIELDS][ID]``, read as they are.
Bitrix24 never re-sends an event, so the reply must be fast and must be 200 for everything
that was stored or deliberately ignored; a wrong application_token gets 401 and leaves no
trace (NOTES s4 "Authenticity"). The application_token authenticates nothing destructive:
ONAPPUNINSTALL only asks for a check with Bitrix24 (uninstall.py), ONAPPINSTALL of an unknown
portal is proven by refreshing its tokens, and object events only say "read this id again".
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Mapping

from flask import Blueprint, Response, current_app, request

from ...errors import SyncError
from ...extensions import db
from ...installations import request_uninstall
from ...engine import record_inbound, store_callback
from . import store, uninstall
from .client import refresh_tokens
from .inbox import asks_nothing
from .mapper import LEGACY, SMART_INVOICE

SOURCE = "bitrix24"
_EVENT = re.compile(r"^[A-Z0-9_]{3,100}$")
_DIGITS = re.compile(r"^\d{1,20}$")
_SECRET_KEYS = ("auth[access_token]", "auth[refresh_token]", "auth[application_token]")

# event prefix -> (object kind, entity type for the dedup key)
FAMILIES: dict[str, tuple[str, str]] = {
    "ONCRMDYNAMICITEM": ("invoice", str(SMART_INVOICE)),
    "ONCRMINVOICE": ("legacy_invoice", "5"),
    "ONCRMCONTACT": ("contact", "3"),
    "ONCRMCOMPANY": ("company", "4"),
}


class CallbackRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Callback:
    event: str
    member_id: str
    ts: str
    kind: str  # invoice | legacy_invoice | contact | company
    entity_type: str
    entity_id: str

    @property
    def object_key(self) -> str:
        return object_key(self.kind, self.entity_id)

    @property
    def dedup_key(self) -> str:
        return f"b24:{self.member_id}:{self.event}:{self.entity_type}:{self.entity_id}:{self.ts}"


def object_key(kind: str, entity_id: str) -> str:
    if kind == "invoice":
        return f"invoice:{entity_id}"
    if kind == "legacy_invoice":
        return f"invoice:{LEGACY}{entity_id}"
    return f"{kind}:{entity_id}"


def family(event: str) -> tuple[str, str] | None:
    for prefix, spec in FAMILIES.items():
        if event.startswith(prefix):
            return spec
    return None


def _field(form: Mapping[str, str], name: str, pattern: re.Pattern[str] | None = None) -> str:
    value = (form.get(name) or "").strip()
    if not value:
        raise CallbackRefused(400, f"missing field {name}")
    if pattern is not None and not pattern.match(value):
        raise CallbackRefused(400, f"malformed field {name}")
    return value


def receive(form: Mapping[str, str]) -> tuple[int, str]:
    """Handle one callback; returns (HTTP status, short text). Raises CallbackRefused."""
    event = _field(form, "event").upper()
    if not _EVENT.match(event):
        raise CallbackRefused(400, "malformed field event")
    member_id = _field(form, "auth[member_id]")
    application_token = _field(form, "auth[application_token]")
    callback = _entity_callback(form, event, member_id)
    if callback is not None and asks_nothing(callback.kind, event):
        callback = None  # verified below like any callback, and not stored: it asks for no work
    if callback is not None:
        # The hot path: verify and store in one statement (bridge/engine/intake.py store_callback).
        payload = json.dumps({k: v for k, v in form.items() if k not in _SECRET_KEYS}, sort_keys=True)
        if store_callback(SOURCE, callback.dedup_key, store.owner(member_id, application_token), topic=event,
                          object_key=callback.object_key, payload=payload) is not None:
            return 200, "stored"
    installation = store.verify(member_id, application_token)
    if installation is None:
        if event == "ONAPPINSTALL" and form.get("auth[refresh_token]"):
            return _install_from_event(form, member_id, application_token)
        raise CallbackRefused(401, "unknown portal or wrong application_token")
    if event == "ONAPPUNINSTALL":
        # NOTES s2: no tokens come with it; CLEAN=1 asks to delete the app's data. The
        # application_token proves nothing (every app page shows it to its user): the event
        # only asks for a check with Bitrix24 in a job (uninstall.py); nothing changes here.
        clean = (form.get("data[CLEAN]") or "0").strip() == "1"
        request_uninstall(installation, clean=clean, flow=uninstall.FLOW)
        return 200, "uninstall to be confirmed"
    if event == "ONAPPINSTALL":
        return 200, "installed"
    if callback is None:
        return 200, "ignored"
    # Verified, and not stored above: a duplicate (record_inbound may reopen it).
    payload = json.dumps({k: v for k, v in form.items() if k not in _SECRET_KEYS}, sort_keys=True)
    stored = record_inbound(SOURCE, callback.dedup_key, installation_id=installation.id, topic=event,
                            object_key=callback.object_key, payload=payload)
    return 200, "stored" if stored else "duplicate"


def _entity_callback(form: Mapping[str, str], event: str, member_id: str) -> Callback | None:
    """The object event a callback reports, or None for events that store nothing
    (install, uninstall, other smart processes, families bridge does not follow).
    Malformed fields of an object event are refused before anything is looked up."""
    spec = family(event)
    if spec is None:
        return None
    kind, entity_type = spec
    ts = _field(form, "ts", _DIGITS)
    entity_id = _field(form, "data[FIELDS][ID]", _DIGITS)
    if kind == "invoice":
        # NOTES s4: ONCRMDYNAMICITEM* fire for every smart process; keep invoices (31) only.
        entity_type = _field(form, "data[FIELDS][ENTITY_TYPE_ID]", _DIGITS)
        if entity_type != str(SMART_INVOICE):
            return None
    return Callback(event, member_id, ts, kind, entity_type, entity_id)


def _install_from_event(form: Mapping[str, str], member_id: str, application_token: str) -> tuple[int, str]:
    """ONAPPINSTALL before (or instead of) the install page (NOTES s13: it may come late or
    never). Its tokens are proven by refreshing them at the portal's OAuth server, whose
    reply names the member_id with authority."""
    config = current_app.config
    try:
        token_url = store.check_server_endpoint(form.get("auth[server_endpoint]"))
        tokens = refresh_tokens(token_url, config["BITRIX24_CLIENT_ID"] or "", config["BITRIX24_CLIENT_SECRET"] or "",
                                form["auth[refresh_token]"], timeout=config["HTTP_TIMEOUT_SECONDS"])
    except SyncError as exc:
        raise CallbackRefused(401, "the install event's tokens were not confirmed") from exc
    if tokens.get("member_id") != member_id:
        raise CallbackRefused(401, "the install event's tokens belong to another portal")
    store.save_oauth(member_id=member_id, domain=form.get("auth[domain]") or "", tokens=tokens,
                     application_token=application_token, language=form.get("data[LANGUAGE_ID]") or "en")
    return 200, "installed"


# The receiver Bitrix24 posts events to (``setup.HOOK_PATH``); no page, only a status and a word.
bp = Blueprint("bitrix24_hooks", __name__)


@bp.post("/hooks/bitrix24")
def event_callback():
    try:
        status, text = receive(request.form)
    except CallbackRefused as exc:
        db.session.rollback()
        return Response(exc.message, status=exc.status, mimetype="text/plain")
    return Response(text, status=status, mimetype="text/plain")
