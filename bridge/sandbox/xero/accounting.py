"""The accounting API at api.xero.com/api.xro/2.0: auth, tenant, limits, idempotency, routing.

Paths are matched in any letter case (NOTES, last section): ``/Invoices`` and ``/invoices``.
"""
from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable

from flask import Response, request

from . import banking, branding, contacts, creditnotes, invoices, payments, query, reference, tokens
from .common import Ctx, Invalid, NotFound
from .idempotency import MAX_KEY_LENGTH, Stored, fingerprint
from .wire import not_found, problem, query_parse_exception, respond, simple_validation

if TYPE_CHECKING:
    from . import System

Handler = Callable[[Ctx, list[str]], tuple[int, Any]]

# resource -> (handler, scope family, extra family that also grants it)
RESOURCES: dict[str, tuple[Handler, str, str | None]] = {
    "contacts": (contacts.handle, "accounting.contacts", None),
    "invoices": (invoices.handle, "accounting.invoices", None),
    "creditnotes": (creditnotes.handle, "accounting.invoices", None),
    "payments": (payments.handle, "accounting.payments", None),
    "banktransactions": (banking.handle, "accounting.banktransactions", None),
    "items": (reference.items, "accounting.invoices", "accounting.settings"),
    "taxrates": (reference.tax_rates, "accounting.settings", None),
    "brandingthemes": (branding.themes, "accounting.settings", None),
    "trackingcategories": (branding.tracking, "accounting.settings", None),
    "accounts": (reference.accounts, "accounting.settings", None),
    "organisation": (reference.organisation, "accounting.settings", None),
    "currencies": (reference.currencies, "accounting.settings", None),
}


def _scope_ok(scopes: list[str], family: str, extra: str | None, write: bool) -> bool:
    for fam in filter(None, (family, extra)):
        if fam in scopes or (not write and fam + ".read" in scopes):
            return True
    return False


def _forbidden() -> Response:
    # NOTES section 1 and 8: missing/wrong tenant, disconnected tenant or missing scope.
    return respond(problem(403, "Forbidden", "AuthenticationUnsuccessful"), 403, force_json=True)


def handle(system: "System", parts: list[str]) -> Response:
    """Everything after /api.xro/2.0/ ; ``parts`` keep their case (IDs, ContactNumbers)."""
    state = system.identity
    now_ts = system.host.clock.time()
    with system.host.lock:
        grant, error = tokens.authenticate(state, request.headers.get("Authorization", ""), now_ts)
        if grant is None:
            resp = respond(problem(401, "Unauthorized", error or "AuthenticationUnsuccessful"), 401, force_json=True)
            resp.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return resp
        tenant_id = request.headers.get("xero-tenant-id", "").strip().lower()
        connected = any(c.tenant_id == tenant_id for c in state.connections_for(grant.user_id, grant.client_id))
        org = system.orgs.get(tenant_id)
        if not tenant_id or not connected or org is None:
            return _forbidden()
        resource = parts[0].lower() if parts else ""
        entry = RESOURCES.get(resource)
        if entry is not None and not _scope_ok(grant.scopes, entry[1], entry[2], request.method != "GET"):
            return _forbidden()
        day_limit = org.day_limit
    outage = system.outage_now()
    if outage is not None:  # a fault a test injected (control: POST /outage); refused calls do not count
        return _outage_response(outage)
    decision = system.limiter.acquire(grant.client_id, tenant_id, day_limit)
    if not decision.allowed:
        return respond(problem(429, "Too Many Requests", f"Rate limit exceeded: {decision.problem}"), 429,
                       decision.headers, force_json=True)
    try:
        system.wait_if_held()
        resp = _idempotent(system, grant.client_id, tenant_id,
                           lambda: _dispatch(system, org, grant, entry, parts[1:]))
    finally:
        system.limiter.release(grant.client_id, tenant_id)
    for key, value in decision.headers.items():
        resp.headers[key] = value
    return resp


def _outage_response(outage: dict) -> Response:
    headers = {}
    if outage["retry_after"] is not None:
        headers["Retry-After"] = str(outage["retry_after"])
    if outage["status"] == 429:
        headers["X-Rate-Limit-Problem"] = "minute"
        return respond(problem(429, "Too Many Requests", "Rate limit exceeded: minute"), 429, headers,
                       force_json=True)
    # NOTES section 8: an outage answers plain text, not JSON.
    return Response("Organisation offline", status=outage["status"], mimetype="text/plain", headers=headers)


def _idempotent(system: "System", client_id: str, tenant_id: str, run: Callable[[], Response]) -> Response:
    """Idempotency-Key on PUT/POST (NOTES section 2): replay, refuse a changed body, or run."""
    key = request.headers.get("Idempotency-Key")
    if key is None or request.method not in ("PUT", "POST"):
        return run()
    if len(key) > MAX_KEY_LENGTH or not key.strip():
        return respond(simple_validation(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters"), 400)
    scope = (client_id, tenant_id)
    mark = fingerprint(request.method, request.path, request.query_string.decode(), request.get_data())
    with system.key_lock(scope, key):
        now = system.host.clock.time()
        with system.host.lock:
            stored = system.idempotency.lookup(scope, key, now)
        if stored is not None:
            if stored.fingerprint != mark:
                return respond(simple_validation(
                    "The Idempotency-Key has already been used with a different request."), 400)  # [N]
            resp = Response(stored.body, status=stored.status, mimetype=stored.mimetype)
            resp.headers["Idempotency-Replayed"] = "true"  # [M] a hint for people debugging
            return resp
        resp = run()
        with system.host.lock:
            system.idempotency.save(scope, key, Stored(mark, resp.status_code, resp.get_data(), resp.mimetype, now))
        return resp


def _dispatch(system: "System", org, grant, entry, rest: list[str]) -> Response:
    if entry is None:
        return not_found()
    body = None
    if request.method in ("PUT", "POST"):
        raw = request.get_data()
        try:
            body = json.loads(raw, parse_float=Decimal) if raw.strip() else {}
        except ValueError:
            # [M] Xero's answer to a body it cannot read.
            return respond({"ErrorNumber": 14, "Type": "PostDataInvalidException",
                            "Message": "The request body could not be parsed as JSON"}, 400)
    args = request.args
    with system.host.lock:
        ctx = Ctx(system=system, org=org, grant=grant, method=request.method, args=args, body=body,
                  now=system.host.clock.now(),
                  summarize_errors=args.get("summarizeErrors", "true").lower() != "false",
                  unitdp=4 if args.get("unitdp") == "4" else 2,
                  if_modified_since=query.parse_if_modified_since(request.headers.get("If-Modified-Since")))
        try:
            status, payload = entry[0](ctx, rest)
        except NotFound:
            return not_found()
        except query.QueryError as exc:
            return respond(query_parse_exception(str(exc)), 400)
        except Invalid as exc:
            return respond(simple_validation("; ".join(exc.messages)), 400)
    ctx.publish()
    if status == 204:
        return Response(status=204)
    return respond(payload, status)
