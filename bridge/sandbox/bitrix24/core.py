"""The simulated Bitrix24 cloud: portals, the registered app, tokens, and event emission."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from .errors import RestError, expired_token, invalid_credentials, invalid_token, no_auth, portal_deleted
from .events import Dispatcher
from .state import (ACCESS_TOKEN_TTL, DEFAULT_PORTALS, REFRESH_TOKEN_TTL, AccessToken, AppRegistration,
                    Installation, Portal, RefreshToken, env, make_portal, new_token)

OAUTH_HOST = "oauth.bitrix.info"            # NOTES s3
OAUTH_ALIAS_HOSTS = ("oauth.bitrix24.tech",)  # b24pysdk's hard-coded refresh host (NOTES s3)


@dataclass
class CallContext:
    portal: Portal
    user_id: int
    auth_type: str          # "oauth" | "webhook"
    scopes: list[str]
    auth_connector: str | None = None


class Bitrix24Cloud:
    def __init__(self, host: Any) -> None:
        self.host = host
        self.dispatcher = Dispatcher()
        self.reset()

    # ---- lifecycle -------------------------------------------------------------------
    def reset(self) -> None:
        app_url = self.host.app_url
        self.app = AppRegistration(
            client_id=env("CLIENT_ID", "local.bridge-demo.000001"),
            client_secret=env("CLIENT_SECRET", "bridge-demo-secret"),
            handler_url=env("HANDLER_URL", f"{app_url}/bitrix24/app"),
            install_url=env("INSTALL_URL", f"{app_url}/bitrix24/install"),
        )
        # Demo relaxation (DESIGN "The sandbox"): real portals refuse http:// and localhost handlers.
        self.allow_insecure_handlers = env("ALLOW_INSECURE_HANDLERS", "0") == "1"
        self.portals: dict[str, Portal] = {}
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}
        self.codes: dict[str, tuple[str, int, float]] = {}
        for domain, member_id, plan, category, tz, secret in DEFAULT_PORTALS:
            self.add_portal(make_portal(domain, member_id, plan, category, tz, secret))
        self.dispatcher.reset()

    def add_portal(self, portal: Portal) -> Portal:
        self.portals[portal.domain] = portal
        return portal

    def portal(self, domain: str) -> Portal:
        portal = self.portals.get(domain)
        if portal is None:
            raise RestError("NOT_FOUND", "Portal not found", 404)
        if portal.deleted:
            raise portal_deleted()
        return portal

    def by_member(self, member_id: str) -> Portal | None:
        return next((p for p in self.portals.values() if p.member_id == member_id), None)

    # ---- URLs ------------------------------------------------------------------------
    def client_endpoint(self, portal: Portal) -> str:
        return f"{self.host.url_for_host(portal.domain)}/rest/"

    def server_endpoint(self) -> str:
        return f"{self.host.url_for_host(OAUTH_HOST)}/rest/"

    def protocol(self) -> str:
        return "1" if self.host.public_url.startswith("https") else "0"

    def handler_allowed(self, url: str) -> bool:
        parsed = urlparse(url or "")
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            return False
        if self.allow_insecure_handlers:
            return True
        local = (parsed.hostname or "") in ("localhost", "127.0.0.1", "::1") or (parsed.hostname or "").endswith(".local")
        return parsed.scheme == "https" and not local

    # ---- tokens ----------------------------------------------------------------------
    def install(self, portal: Portal) -> Installation:
        """Install (or re-install) the app: new application_token; bindings of an old version go (NOTES s2)."""
        portal.installation = Installation(application_token=new_token()[:32])
        portal.placements.clear()
        portal.handlers.clear()
        return portal.installation

    def mint(self, portal: Portal, user_id: int = 1) -> dict[str, Any]:
        """A fresh token pair as the OAuth server hands it out (NOTES s3 refresh reply)."""
        if portal.installation is None or portal.installation.removed:
            raise RestError("invalid_client", "Application not installed", 401)
        now = self.host.clock.time()
        access = AccessToken(new_token(), portal.member_id, user_id, now + ACCESS_TOKEN_TTL)
        refresh = RefreshToken(new_token(), portal.member_id, user_id, now + REFRESH_TOKEN_TTL)
        self.access[access.token] = access
        self.refresh[refresh.token] = refresh
        return {
            "access_token": access.token, "expires": int(access.expires_at), "expires_in": ACCESS_TOKEN_TTL,
            "scope": ",".join(self.app.scopes), "domain": OAUTH_HOST,
            "server_endpoint": self.server_endpoint(), "status": portal.status,
            "client_endpoint": self.client_endpoint(portal), "member_id": portal.member_id,
            "user_id": user_id, "refresh_token": refresh.token,
        }

    def authenticate(self, portal: Portal, token: str | None) -> CallContext:
        if not token:
            raise no_auth()
        access = self.access.get(token)
        if access is None or access.member_id != portal.member_id:
            raise invalid_token()
        if self.host.clock.time() >= access.expires_at:
            raise expired_token()
        if portal.installation is None or portal.installation.removed:
            raise invalid_token()
        return CallContext(portal, access.user_id, "oauth", list(self.app.scopes))

    def authenticate_webhook(self, portal: Portal, user_id: str, secret: str) -> CallContext:
        hook = portal.webhooks.get(secret)
        if hook is None or str(hook.user_id) != str(user_id):
            raise invalid_credentials()  # error-codes.html: no active webhook with that user id and secret
        if hook.expires_at is not None and self.host.clock.time() >= hook.expires_at:
            raise invalid_credentials()
        return CallContext(portal, hook.user_id, "webhook", list(hook.scopes))

    # ---- events ----------------------------------------------------------------------
    def emit(self, portal: Portal, event: str, data: dict[str, Any], user_id: int | None,
             auth_connector: str | None = None, extra_auth: dict[str, Any] | None = None,
             handlers: list[dict[str, Any]] | None = None) -> int:
        """Fire ``event`` to every handler bound for it; returns the number of online deliveries."""
        inst = portal.installation
        if inst is None or (not inst.installed and event != "ONAPPUNINSTALL"):
            return 0  # NOTES s2: events are not delivered before installFinish
        sent = 0
        for binding in handlers if handlers is not None else list(portal.handlers):
            if binding["event"] != event.upper():
                continue
            if binding["offline"]:
                self._queue_offline(portal, binding, event, data, user_id, auth_connector)
                continue
            payload = {"event": event.upper(), "event_handler_id": binding["id"], "data": data,
                       "ts": int(self.host.clock.time()), "auth": self._event_auth(portal, binding, user_id, event, extra_auth)}
            self.dispatcher.submit(event.upper(), binding["handler"], payload, portal.member_id)
            sent += 1
        return sent

    def _event_auth(self, portal: Portal, binding: dict[str, Any], user_id: int | None, event: str,
                    extra: dict[str, Any] | None) -> dict[str, Any]:
        """The ``auth`` block (NOTES s4 callback payload; s2 ONAPPINSTALL/ONAPPUNINSTALL)."""
        inst = portal.installation
        auth: dict[str, Any] = {}
        token_user = int(binding.get("auth_type") or 0) or user_id
        if event.upper() != "ONAPPUNINSTALL" and token_user:
            pair = self.mint(portal, token_user)
            auth = {"access_token": pair["access_token"], "expires": pair["expires"], "expires_in": pair["expires_in"],
                    "scope": pair["scope"]}
            if event.upper() in ("ONAPPINSTALL", "ONOFFLINEEVENT"):
                auth["refresh_token"] = pair["refresh_token"]  # NOTES s4: only these carry it
                auth["scope"] = " ".join(self.app.scopes)       # NOTES s2: space-separated here
        auth.update({"domain": portal.domain, "server_endpoint": self.server_endpoint()})
        if auth.get("access_token"):
            auth["status"] = portal.status
        auth.update({"client_endpoint": self.client_endpoint(portal), "member_id": portal.member_id})
        if auth.get("access_token"):
            auth["user_id"] = token_user
        auth["application_token"] = inst.application_token if inst else ""
        auth.update(extra or {})
        return auth

    def _queue_offline(self, portal: Portal, binding: dict[str, Any], event: str, data: dict[str, Any],
                       user_id: int | None, auth_connector: str | None) -> None:
        """NOTES s4 offline events: one record per changed object; own writes skipped via auth_connector."""
        if auth_connector and binding.get("auth_connector") == auth_connector:
            return
        fields = data.get("FIELDS", {})
        key = (event.upper(), str(fields.get("ENTITY_TYPE_ID", "")), str(fields.get("ID", "")))
        portal.offline_queue[:] = [r for r in portal.offline_queue
                                   if r["_key"] != key or r["_process_id"] is not None]
        from .invoices import now
        from .wire import format_date
        portal.offline_queue.append({
            "ID": str(portal.next_id("offline")), "TIMESTAMP_X": format_date(now(portal, self.host.clock.time())),
            "EVENT_NAME": event.upper(), "EVENT_DATA": data, "EVENT_ADDITIONAL": {"user_id": str(user_id or 0)},
            "MESSAGE_ID": new_token()[:32], "_key": key, "_process_id": None, "_connector": binding.get("auth_connector"),
        })
