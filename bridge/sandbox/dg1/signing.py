"""The two signatures DG1 computes: webhook deliveries and admin-panel launch URLs.

Both are documented with worked examples in docs/dg1.md; the strings signed here are
the contract, so change them only together with that page.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlencode

LAUNCH_PAGES = ("orders", "products", "settings")


def webhook_signature(secret: str, timestamp: int, raw_body: bytes) -> str:
    """``X-DG1-Signature``: base64(HMAC-SHA256(secret, "<timestamp>.<raw body>"))."""
    message = str(timestamp).encode() + b"." + raw_body
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def launch_string(tenant: str, site: str, user: str, ts: int, page: str, lang: str = "") -> str:
    """The exact string a launch URL signs: ``tenant|site|user|ts|page``, and ``|lang`` when
    the link names the admin's language."""
    return f"{tenant}|{site}|{user}|{ts}|{page}" + (f"|{lang}" if lang else "")


def launch_signature(secret: str, tenant: str, site: str, user: str, ts: int, page: str, lang: str = "") -> str:
    """``sig``: lowercase hex HMAC-SHA256(launch secret, launch_string(...))."""
    message = launch_string(tenant, site, user, ts, page, lang).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def launch_url(app_url: str, secret: str, tenant: str, site: str, user: str, ts: int, page: str,
               lang: str = "") -> str:
    """``<app>/dg1/launch?tenant=..&site=..&user=..&ts=..&page=..[&lang=..]&sig=..``."""
    sig = launch_signature(secret, tenant, site, user, ts, page, lang)
    query = urlencode({"tenant": tenant, "site": site, "user": user, "ts": ts, "page": page,
                       **({"lang": lang} if lang else {}), "sig": sig})
    return f"{app_url}/dg1/launch?{query}"
