"""The default framing rule: a page that does not say who may frame it may be framed by no one.

The pages a portal or a shop frames set ``frame-ancestors`` to that portal's or shop's
origin themselves (``bitrix24/iframe.py framed``, ``web/dg1/admin.py``). Everything else - the
Xero and Bexio connection pages, which open in a window of their own, error pages, the
landing page, and any route added later - gets ``frame-ancestors 'none'``, so no other
site can frame a page that holds a signed link and trick a click on its buttons
(Disconnect, Connect).
"""
from __future__ import annotations

from flask import Flask, Response

DEFAULT_POLICY = "frame-ancestors 'none'"


def deny_framing_by_default(response: Response) -> Response:
    if "Content-Security-Policy" not in response.headers:
        response.headers["Content-Security-Policy"] = DEFAULT_POLICY
        response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def init_framing(app: Flask) -> None:
    app.after_request(deny_framing_by_default)
