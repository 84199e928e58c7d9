"""The table of REST methods the sandbox portal knows, with their scope and auth rules."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

Handler = Callable[[Any, Any, dict[str, Any]], Any]   # (cloud, ctx, params) -> result | Listed


@dataclass
class Listed:
    """A list result: ``result`` plus ``next``/``total`` next to it in the envelope (NOTES s9)."""
    result: Any
    extra: dict[str, Any]


@dataclass
class Method:
    name: str
    scope: str
    handler: Handler
    app_only: bool = False       # webhooks get WRONG_AUTH_TYPE (NOTES s1)
    admin_only: bool = False


METHODS: dict[str, Method] = {}


def method(name: str, scope: str = "basic", app_only: bool = False, admin_only: bool = False):
    def register(fn: Handler) -> Handler:
        METHODS[name.lower()] = Method(name, scope, fn, app_only, admin_only)
        return fn
    return register
