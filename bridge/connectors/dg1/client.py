"""The DG1 REST client: auth, paging, the shared budget, typed errors. No business rules.

DG1 publishes no API; this is the contract of docs/dg1.md,
which the DG1 team is asked to provide. Everything the wire does that a caller must know
is said on the method that meets it.
"""
from __future__ import annotations

import hashlib
import json
import time
from decimal import Decimal
from typing import Any, Callable, Iterator
from urllib.parse import quote

import requests

from ...errors import RetryableError
from ...http import ApiClient
from ...ratelimit import Limiter, Limits
from .errors import DG1_ERRORS

# docs/dg1.md section 2: 10 requests per second per tenant in a *sliding* one-second
# window. A token bucket lets ``burst + rate`` calls into any one-second window, so
# 1 + 8 = 9 stays under it with a margin for network jitter.
DG1_LIMITS = Limits(rate=8.0, burst=1, max_wait=10.0, name="DG1's limit of 10 requests a second per shop")
PAGE_LIMIT = 100  # docs/dg1.md section 4: limit is 1-100
STOCK_BATCH = 100  # docs/dg1.md section 4.6: at most 100 items per PUT
# A 429 (Retry-After: 1) or a 503 with a short Retry-After is waited out in place, a few
# times; a longer wait goes back to the job engine as a typed error.
INLINE_WAIT = 2.0
INLINE_RETRIES = 3

Json = dict[str, Any]


def budget_key(tenant_id: str) -> str:
    """The shared budget of one tenant: every process's calls count against it."""
    return f"dg1:{tenant_id}"


def idempotency_key(*parts: str) -> str:
    """The same change always gets the same key, so a retried PATCH replays instead of
    applying twice, while a different change never reuses a key (DG1 answers 422
    idempotency-key-reused to that, docs/dg1.md section 4.4)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _q(value: str) -> str:
    return quote(str(value), safe="")


class DG1Client(ApiClient):
    """One tenant's view of DG1: every site of the tenant, nothing else (docs/dg1.md section 1)."""

    system = "DG1"
    errors = DG1_ERRORS

    def __init__(self, base_url: str, tenant_id: str, api_key: str, *, limiter: Limiter | None = None,
                 limits: Limits = DG1_LIMITS, timeout: float = 30.0, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(limiter=limiter, limits=limits, budget_key=budget_key(tenant_id), timeout=timeout,
                         session=session)
        self.base_url = base_url.rstrip("/")
        self.tenant_id = tenant_id
        self.session.headers["Authorization"] = f"Bearer {api_key}"
        self.session.headers["Accept"] = "application/json"
        self.sleep = sleep

    # -- errors (RFC 7807) ----------------------------------------------------------------
    def error_code(self, response: requests.Response, body: Any) -> str | None:
        """``https://api.dg1.ch/problems/invalid-transition`` -> ``invalid-transition``."""
        if isinstance(body, dict) and isinstance(body.get("type"), str):
            return body["type"].rstrip("/").rsplit("/", 1)[-1] or None
        return None

    def error_details(self, response: requests.Response, body: Any) -> list[str]:
        if not isinstance(body, dict):
            return []
        details = [str(body[k]) for k in ("detail",) if body.get(k)] or [str(body.get("title") or "")]
        if body.get("allowed") is not None:
            details.append("Allowed next statuses: " + (", ".join(body["allowed"]) or "none"))
        for item in body.get("errors") or []:  # stock refusals list each bad item
            details.append(str(item.get("message") or item) if isinstance(item, dict) else str(item))
        return [d for d in details if d]

    # -- the call ---------------------------------------------------------------------------
    def call(self, method: str, path: str, *, expect: tuple[int, ...] = (200,), **kwargs: Any) -> requests.Response:
        """One API call; short 429/503 waits are honoured here, longer ones raised."""
        url = self.base_url + path
        for attempt in range(INLINE_RETRIES + 1):
            try:
                return self.request(method, url, expect=expect, **kwargs)
            except RetryableError as exc:
                wait = exc.retry_after
                if attempt >= INLINE_RETRIES or wait is None or wait > INLINE_WAIT or exc.code == "network":
                    raise
                self.sleep(wait)
        raise AssertionError("unreachable")

    def get_json(self, path: str, **params: Any) -> Any:
        response = self.call("GET", path, params={k: v for k, v in params.items() if v is not None})
        return response.json(parse_float=Decimal)

    def paged(self, path: str, **params: Any) -> Iterator[Json]:
        """Every item of a collection: ``{"data": [...], "next_cursor": ...}``, followed
        until ``next_cursor`` is null (docs/dg1.md section 4, "Lists and pagination")."""
        cursor: str | None = None
        while True:
            page = self.get_json(path, limit=PAGE_LIMIT, cursor=cursor, **params)
            yield from page.get("data") or []
            cursor = page.get("next_cursor")
            if not cursor:
                return

    # -- sites ------------------------------------------------------------------------------
    def sites(self) -> list[Json]:
        return list(self.paged("/sites"))

    def site(self, site_id: str) -> Json:
        return self.get_json(f"/sites/{_q(site_id)}")

    # -- orders -----------------------------------------------------------------------------
    def order(self, site_id: str, order_id: str) -> Json | None:
        """The full order, or None when DG1 does not know it (also another tenant's)."""
        response = self.call("GET", f"/sites/{_q(site_id)}/orders/{_q(order_id)}", expect=(200, 404))
        if response.status_code == 404:
            return None
        return response.json(parse_float=Decimal)

    def orders(self, site_id: str, *, updated_since: str | None = None, status: str | None = None) -> Iterator[Json]:
        """Orders with ``updated_at >= updated_since`` (inclusive: a reconcile that stores
        the last ``updated_at`` it saw sees that order again, never misses one)."""
        return self.paged(f"/sites/{_q(site_id)}/orders", updated_since=updated_since, status=status)

    def patch_order(self, site_id: str, order_id: str, *, status: str | None = None,
                    external_refs: dict[str, str | None] | None = None) -> Json:
        """Change status and/or external_refs (docs/dg1.md section 4.4).

        The Idempotency-Key is derived from the change itself: a retry after a lost answer
        replays DG1's first answer instead of applying the change twice.
        """
        body: Json = {}
        if status is not None:
            body["status"] = status
        if external_refs is not None:
            body["external_refs"] = external_refs
        path = f"/sites/{_q(site_id)}/orders/{_q(order_id)}"
        key = idempotency_key(self.tenant_id, "PATCH", path, json.dumps(body, sort_keys=True))
        response = self.call("PATCH", path, json=body, headers={"Idempotency-Key": key})
        return response.json(parse_float=Decimal)

    # -- products and stock ------------------------------------------------------------------
    def products(self, site_id: str, *, updated_since: str | None = None, sku: str | None = None) -> Iterator[Json]:
        return self.paged(f"/sites/{_q(site_id)}/products", updated_since=updated_since, sku=sku)

    def put_stock(self, site_id: str, items: list[Json]) -> list[Json]:
        """Absolute stock for up to any number of items, sent in batches of 100.

        Each item has exactly one of ``sku`` / ``product_id`` and a whole ``quantity``;
        the answer is one result per item, in order (``ok``, ``unknown_sku``,
        ``unknown_product``, ``not_stock_managed``). Stock set through a site changes that
        site's product only (docs/dg1.md section 4.6).
        """
        results: list[Json] = []
        for start in range(0, len(items), STOCK_BATCH):
            batch = items[start:start + STOCK_BATCH]
            response = self.call("PUT", f"/sites/{_q(site_id)}/stock", json=batch)
            results.extend(response.json(parse_float=Decimal).get("results") or [])
        return results
