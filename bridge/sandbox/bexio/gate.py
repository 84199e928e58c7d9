"""What every call to api.bexio.com passes through before its handler runs.

Order: bearer token (401), injected faults (control endpoint), the per-company per-minute
rate limit (429 with RateLimit-Reset, NOTES §2 "Rate limiting"), then header rules
(Accept / Content-Length / Content-Type; NOTES §2 "Headers" and "Status codes").
"""
from __future__ import annotations

import math
import os
from functools import wraps
from typing import TYPE_CHECKING, Any, Callable

from flask import Response, g, request

from .state import Company
from .wire import ApiError, error

if TYPE_CHECKING:
    from . import System

WINDOW_SECONDS = 60  # NOTES §2: the limit is per company per minute.
# NOTES §2: the number is not published [M]; this default is the sandbox's choice.
DEFAULT_RATE_LIMIT = int(os.environ.get("SANDBOX_BEXIO_RATE_LIMIT", "300"))

FAULT_MESSAGES = {429: "Too Many Requests", 503: "Service Unavailable: bexio is in maintenance"}


def has_scope(granted: set[str], needed: str) -> bool:
    """A write scope implies the read scope (``contact_edit`` => ``contact_show``, NOTES §1)."""
    return needed in granted or (needed.endswith("_show") and needed[:-5] + "_edit" in granted)


def requires(*needed: str) -> Callable:
    """Guard a handler with scopes; 403 "Missing rights" when the token lacks one (NOTES §2)."""
    def wrap(fn: Callable) -> Callable:
        @wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            for scope in needed:
                if not has_scope(g.bexio_scopes, scope):
                    return error(403, f"Missing rights: the token lacks the scope {scope}")
            return fn(*args, **kwargs)
        return inner
    return wrap


def company() -> Company:
    return g.bexio_company


def user_id() -> int:
    return g.bexio_user_id


def before(system: "System") -> Response | None:
    host = system.host
    token = request.headers.get("Authorization", "")
    if not token.startswith("Bearer "):
        return error(401, "Unauthorized: missing bearer token")
    with host.lock:
        record = system.state.access_tokens.get(token[7:].strip())
        now = host.clock.time()
        if record is None or record["expires"] <= now:
            return error(401, "Unauthorized: the access token is invalid or expired")
        current = system.state.companies.get(record["company_id"])
        if current is None:
            return error(401, "Unauthorized: the company no longer exists")
        g.bexio_company, g.bexio_user_id = current, record["user_id"]
        g.bexio_scopes = record["scopes"]
        limit = system.rate_limit
        if now >= current.window_start + WINDOW_SECONDS:
            current.window_start, current.window_count = now, 0
        reset = max(1, math.ceil(current.window_start + WINDOW_SECONDS - now))
        if current.faults:
            status = current.faults[0][0]
            current.faults[0][1] -= 1
            if current.faults[0][1] <= 0:
                current.faults.pop(0)
            g.bexio_limit = (limit, max(0, limit - current.window_count), reset)
            if status == 429:
                g.bexio_limit = (limit, 0, reset)
            return error(status, FAULT_MESSAGES.get(status, "Server error"))
        if current.window_count >= limit:
            g.bexio_limit = (limit, 0, reset)
            return error(429, "Too Many Requests")
        current.window_count += 1
        g.bexio_limit = (limit, limit - current.window_count, reset)
    return _header_rules()


def _header_rules() -> Response | None:
    accept = request.headers.get("Accept", "")
    if not any(part.split(";")[0].strip() in {"application/json", "application/*", "*/*"}
               for part in accept.split(",")):
        return error(415, "Unsupported Media Type: send Accept: application/json")
    if request.method in {"POST", "PUT", "PATCH"}:
        if request.headers.get("Content-Length") is None:
            # NOTES §2 "Headers": requests with a body must send Content-Length; a chunked
            # body has none and is answered 411 like a missing header.
            return error(411, "Length Required")
        if request.content_length and not (request.mimetype or "").endswith("json"):
            return error(415, "Unsupported Media Type: send the body as application/json")
    return None


def after(response: Response) -> Response:
    limits = g.get("bexio_limit")
    if limits:
        limit, remaining, reset = limits
        response.headers["RateLimit-Limit"] = str(limit)
        response.headers["RateLimit-Remaining"] = str(remaining)
        response.headers["RateLimit-Reset"] = str(reset)
    return response


def handle_api_error(exc: ApiError) -> Response:
    return error(exc.status, exc.message)
