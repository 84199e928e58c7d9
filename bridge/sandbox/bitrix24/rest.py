"""``/<portal>/rest/<method>``: auth, limits, envelope and batch (NOTES s1, s9, s10)."""
from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from flask import Blueprint, request

from . import company_fields, methods_app, methods_catalog, methods_crm, methods_legacy, methods_timeline  # noqa: F401  (register methods)
from .core import Bitrix24Cloud, CallContext
from .errors import RestError, access_denied, insufficient_scope, method_not_found, operation_time_limit, query_limit, \
    rest_unavailable
from .params import parse_query, unflatten
from .registry import METHODS, Listed
from .wire import json_response, loads, portal_tz, time_block

BATCH_MAX = 50                      # NOTES s9
OPERATING_WINDOW = 600              # NOTES s9: 10 one-minute baskets


def request_params() -> dict[str, Any]:
    """Query string, then JSON or form body; both may carry ``auth`` (NOTES s1)."""
    params: dict[str, Any] = unflatten(parse_qsl(request.query_string.decode(), keep_blank_values=True))
    body = request.get_data(cache=True)
    if body:
        if (request.mimetype or "").endswith("json") or body.lstrip()[:1] in (b"{", b"["):
            try:
                parsed = loads(body)
            except ValueError:
                raise RestError("INVALID_REQUEST", "Invalid JSON in request body", 400)
            if isinstance(parsed, dict):
                params.update(parsed)
        else:
            params.update(unflatten(request.form.items(multi=True)))
    return params


def strip_method(name: str) -> str:
    name = name.lower()
    return name[:-5] if name.endswith(".json") else name


def register(bp: Blueprint, cloud: Bitrix24Cloud) -> None:
    def respond(domain: str, method_name: str, ctx_for) -> Any:
        start = cloud.host.clock.time()
        tz = portal_tz(180)
        try:
            with cloud.host.lock:
                portal = cloud.portal(domain)
                tz = portal_tz(portal.tz_minutes)
                # NOTES s9: every HTTP request counts, the failing ones too.
                portal.requests += 1
                if not portal.bucket.admit(start):
                    raise query_limit()
                params = request_params()
                ctx = ctx_for(portal, params)
                if portal.rest_unavailable:
                    raise rest_unavailable(ctx.auth_type == "webhook")
                result = run(cloud, ctx, strip_method(method_name), params)
            finish = max(cloud.host.clock.time(), start + 0.0001)
            body: dict[str, Any] = {"result": result.result if isinstance(result, Listed) else result}
            if isinstance(result, Listed):
                body.update(result.extra)
            body["time"] = time_block(start, finish, tz, operating=0.0001, operating_reset_at=finish + OPERATING_WINDOW)
            return json_response(body)
        except RestError as err:
            return json_response(err.body(), err.status)

    def oauth_ctx(portal, params):
        return cloud.authenticate(portal, params.pop("auth", None) or request.headers.get("X-Auth-Token"))

    @bp.route("/<domain>/rest/<method_name>", methods=["GET", "POST"])
    def rest_oauth(domain: str, method_name: str):
        return respond(domain, method_name, oauth_ctx)

    @bp.route("/<domain>/rest/<user_id>/<secret>/<method_name>", methods=["GET", "POST"])
    def rest_webhook(domain: str, user_id: str, secret: str, method_name: str):
        def hook_ctx(portal, params):
            params.pop("auth", None)
            return cloud.authenticate_webhook(portal, user_id, secret)
        return respond(domain, method_name, hook_ctx)


def run(cloud: Bitrix24Cloud, ctx: CallContext, name: str, params: dict[str, Any]) -> Any:
    if name == "batch":
        return run_batch(cloud, ctx, params)
    spec = METHODS.get(name)
    if spec is None:
        raise method_not_found()
    if spec.app_only and ctx.auth_type != "oauth":
        # NOTES s1: webhooks cannot call placement.bind / event.bind.
        raise RestError("WRONG_AUTH_TYPE", "Current authorization type is denied for this method", 403)
    if spec.scope != "basic" and spec.scope not in ctx.scopes:
        raise insufficient_scope(ctx.auth_type == "webhook")
    if spec.admin_only and not ctx.portal.users[ctx.user_id].admin:
        raise access_denied("Access denied! Application administrator rights required")
    reset_at = ctx.portal.operating_blocked.get(name)
    if reset_at is not None:
        if cloud.host.clock.time() < reset_at:
            raise operation_time_limit(name)
        del ctx.portal.operating_blocked[name]
    ctx.auth_connector = params.get("auth_connector") or None
    return spec.handler(cloud, ctx, params)


def _substitute(text: str, results: dict[str, Any]) -> str:
    """``$result[key][field]`` references to earlier commands (NOTES s9)."""
    import re

    def lookup(match: "re.Match[str]") -> str:
        path = re.findall(r"\[([^\]]*)\]", match.group(0))
        node: Any = results
        for part in path:
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                return ""
        return str(node)
    from urllib.parse import unquote
    return re.sub(r"\$result(\[[^\]]*\])+", lookup, unquote(text)) if "$result" in unquote(text) else text


def run_batch(cloud: Bitrix24Cloud, ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    commands = params.get("cmd") or {}
    if isinstance(commands, list):
        commands = {str(i): c for i, c in enumerate(commands)}
    if len(commands) > BATCH_MAX:
        raise RestError("ERROR_BATCH_LENGTH_EXCEEDED", f"Max batch length exceeded {BATCH_MAX}", 400)
    halt = str(params.get("halt", "0")) not in ("0", "", "false", "False")
    out: dict[str, Any] = {"result": {}, "result_error": {}, "result_total": {}, "result_next": {}, "result_time": {}}
    tz = portal_tz(ctx.portal.tz_minutes)
    for key, command in commands.items():
        command = str(command)
        name, _, query = command.partition("?")
        name = strip_method(name.strip())
        if name == "batch":
            raise RestError("ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage", 405)
        started = cloud.host.clock.time()
        try:
            sub = parse_query(_substitute(query, out["result"]))
            sub.pop("auth", None)
            result = run(cloud, ctx, name, sub)
        except RestError as err:
            out["result_error"][key] = err.body()
            if halt:
                break
            continue
        finished = max(cloud.host.clock.time(), started + 0.0001)
        if isinstance(result, Listed):
            out["result"][key] = result.result
            if "total" in result.extra:
                out["result_total"][key] = result.extra["total"]
            if "next" in result.extra:
                out["result_next"][key] = result.extra["next"]
        else:
            out["result"][key] = result
        out["result_time"][key] = time_block(started, finished, tz, operating=0.0001,
                                             operating_reset_at=finished + OPERATING_WINDOW)
    # PHP renders empty arrays as [] (not {}), which clients see in real replies.
    return {k: (v if v else []) for k, v in out.items()}
