"""Which portal or shop may frame an error answered during this request.

A framed page (a Bitrix24 portal's, a DG1 shop's admin) learns whose frame it is in as soon
as its launch or form token is checked, in the connector; an error answered afterwards
(a refusal, an unexpected failure: ``bridge/web/error_pages.py``) lets that origin frame it,
so the frame shows the words instead of a blank. The request context (``g``) holds it, so
nothing outlives the request.
"""
from __future__ import annotations

from flask import g


def remember_frame(origin: str | None) -> None:
    """The origin (``https://portal.example``) framing this request's page."""
    if origin:
        g.error_frame_origin = origin


def error_frame_policy() -> str | None:
    """``frame-ancestors`` for an error answered now: the remembered origin only, else None."""
    origin = g.get("error_frame_origin")
    return f"frame-ancestors 'self' {origin}" if origin else None
