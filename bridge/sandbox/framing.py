"""Sign-in and consent pages that refuse to be framed, as Xero's and Bexio's real ones do.

Both vendors send ``X-Frame-Options`` / ``frame-ancestors`` on their login pages
(clickjacking protection), so an app must leave the portal's iframe for the consent step.
The sandbox's pages do the same, so a connect flow that tries it inside a frame fails in
the sandbox and in the browser tests exactly as it would against the real systems.
"""
from __future__ import annotations

from flask import Response


def refuse_framing(response: Response) -> Response:
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    return response
