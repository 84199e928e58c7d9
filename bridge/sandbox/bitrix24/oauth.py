"""``/oauth.bitrix.info/oauth/token/``: code exchange and refresh with rotation (NOTES s3)."""
from __future__ import annotations

from flask import Blueprint, request

from .core import OAUTH_ALIAS_HOSTS, OAUTH_HOST, Bitrix24Cloud
from .wire import json_response


def _error(code: str, text: str, status: int = 400):
    return json_response({"error": code, "error_description": text}, status)


def register(bp: Blueprint, cloud: Bitrix24Cloud) -> None:
    def token_endpoint():
        args = request.values
        with cloud.host.lock:
            if args.get("client_id") != cloud.app.client_id or args.get("client_secret") != cloud.app.client_secret:
                return _error("invalid_client", "Invalid client credentials", 401)
            grant = args.get("grant_type")
            now = cloud.host.clock.time()
            if grant == "refresh_token":
                stored = cloud.refresh.get(args.get("refresh_token") or "")
                if stored is None or now >= stored.expires_at:
                    return _error("invalid_grant", "Invalid grant", 400)
                portal = cloud.by_member(stored.member_id)
                # An uninstalled app's tokens: the app is not installed (settings/oauth/error-codes).
                if portal is None or portal.deleted or portal.installation is None or portal.installation.removed:
                    return _error("invalid_client", "Application not installed", 401)
                # Each refresh returns a new pair and spends the old refresh token (NOTES s3, s13);
                # an uninstall revoked the tokens of before, also for a re-install.
                if stored.used or stored.revoked:
                    return _error("invalid_grant", "Invalid grant", 400)
                stored.used = True
                return json_response(cloud.mint(portal, stored.user_id))
            if grant == "authorization_code":
                entry = cloud.codes.pop(args.get("code") or "", None)
                if entry is None or now >= entry[2]:
                    return _error("invalid_grant", "Invalid authorization code", 400)
                portal = cloud.by_member(entry[0])
                if portal is None:
                    return _error("invalid_grant", "Portal not found", 400)
                return json_response(cloud.mint(portal, entry[1]))
            return _error("invalid_request", "Unsupported grant_type", 400)

    for host in (OAUTH_HOST, *OAUTH_ALIAS_HOSTS):
        bp.add_url_rule(f"/{host}/oauth/token/", "oauth_token_" + host.replace(".", "_"), token_endpoint, methods=["GET", "POST"])
