"""The two signatures DG1 makes for bridge, verified here (docs/dg1.md sections 5 and 6).

- webhooks: base64(HMAC-SHA256(webhook secret, "<timestamp>.<raw body>"));
- admin launch URLs: hex(HMAC-SHA256(launch secret, "tenant|site|user|ts|page")).

Both carry a timestamp; anything further than ``WINDOW`` seconds from bridge's clock is
refused, so a captured request cannot be replayed later. The clock is the app's
(``now_seconds``); tests that move a simulated DG1's clock inject the same clock through
``DG1_CLOCK`` in the app config instead of turning the check off.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import time

from flask import current_app

from ...numbers import whole_number

WINDOW = 300  # seconds: the 5-minute replay window of docs/dg1.md


def now_seconds() -> float:
    """bridge's clock for DG1 freshness checks: ``DG1_CLOCK`` (a callable) if configured."""
    clock = current_app.config.get("DG1_CLOCK")
    return float(clock()) if callable(clock) else time.time()


def fresh(timestamp: str | None, now: float, window: int = WINDOW) -> bool:
    """Whether a unix-seconds timestamp lies within ``window`` of ``now`` (either side:
    a timestamp from the future is as suspect as an old one)."""
    seconds = whole_number(timestamp)  # "²" or 5,000 digits: a forged launch, refused (was a 500)
    return seconds is not None and abs(now - seconds) <= window


def webhook_signature(secret: str, timestamp: str, raw_body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def webhook_valid(secret: str, timestamp: str, raw_body: bytes, signature: str | None) -> bool:
    """Constant-time check against the raw bytes, before any JSON parsing."""
    if not signature:
        return False
    return hmac.compare_digest(webhook_signature(secret, timestamp, raw_body).encode(), signature.strip().encode())


def webhook_valid_any(secrets: list[str], timestamp: str, raw_body: bytes,
                      signatures: tuple[str | None, ...]) -> bool:
    """During a secret rotation DG1 may sign with either secret, and may send a second
    signature (``X-DG1-Signature-Previous``) made with the old one: any pair that matches
    is enough. Every pair is compared, so the time taken says nothing about which."""
    results = [webhook_valid(secret, timestamp, raw_body, signature)
               for secret in secrets for signature in signatures if signature]
    return any(results)


def launch_signature(secret: str, tenant: str, site: str, user: str, ts: str, page: str, lang: str = "") -> str:
    """docs/dg1.md section 6: ``tenant|site|user|ts|page``, and ``|lang`` when the link names
    the admin's language (signed, so a link cannot be re-worded into another language)."""
    message = "|".join((tenant, site, user, ts, page) + ((lang,) if lang else ())).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def launch_valid(secret: str, tenant: str, site: str, user: str, ts: str, page: str, sig: str | None,
                 lang: str = "") -> bool:
    if not sig:
        return False
    expected = launch_signature(secret, tenant, site, user, ts, page, lang)
    return hmac.compare_digest(expected.encode(), sig.strip().lower().encode())
