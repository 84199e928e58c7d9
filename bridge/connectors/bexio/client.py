"""api.bexio.com over HTTP: auth header, token renewal on 401, budgets, paging, search.

No business rules here: which contact or invoice is ours is ``ledger.py``'s job; what a
body looks like is ``mapper.py``'s. Quirks of the API, each from NOTES:

- resources live on their own versions (§2): contacts, invoices, articles, accounts,
  languages on 2.0; taxes, currencies, users, bank accounts on 3.0 (a wrong version is 404);
- 2.0 edits are POST to ``/{id}`` (§2, §8.5), never PUT;
- search is ``POST /2.0/<res>/search`` with an array of conditions whose criteria default
  to ``like`` (§2), so every exact lookup passes ``"="``;
- paging is ``limit`` (at most 2000) and ``offset``; 3.0 lists say ``X-Total-Count``, 2.0
  lists do not, so a 2.0 list ends at the first short page (§2);
- the limit is per company per minute with ``RateLimit-*`` headers and a 429 that carries
  ``RateLimit-Reset`` but no Retry-After (§2); both feed the shared budget of the company;
- money and quantities are decimal strings with up to six decimals (§2 "Formats"); every
  body is parsed with ``parse_float=Decimal`` so 3.0's JSON numbers (tax rates, round
  factors) are exact too.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, Iterator, Protocol

import requests

from ...errors import BudgetExhausted, SyncError
from ...http import ApiClient
from ...ratelimit import Limiter, Limits
from .errors import BEXIO_ERRORS

# NOTES §2: the number is not published. 3 calls a second (180 a minute) with a burst of
# 20 stays clear of any limit seen so far; the RateLimit-* headers correct us if not.
BEXIO_LIMITS = Limits(rate=3.0, burst=20, max_wait=10.0,
                      name="bridge's pace for Bexio (3 requests a second per company)")
MAX_PAGE = 2000  # NOTES §2 "Pagination"
DEFAULT_PAGE = 500

Condition = tuple[str, Any, str]  # (field, value, criteria)


def budget_key(company_id: str) -> str:
    """The shared budget of one Bexio company: every process and connection spends it."""
    return f"bexio:{company_id}"


class TokenSource(Protocol):
    """Where the client gets its bearer token; ``renew`` after Bexio answered 401."""

    def current(self) -> tuple[str, int]: ...
    def renew(self, stale_version: int) -> tuple[str, int]: ...


@dataclass
class StaticToken:
    """A fixed token (a personal access token, NOTES §1 "PAT"; or tests)."""

    token: str

    def current(self) -> tuple[str, int]:
        return self.token, 1

    def renew(self, stale_version: int) -> tuple[str, int]:
        return self.token, stale_version + 1


def decode(response: requests.Response) -> Any:
    """The JSON body with exact decimals (3.0 sends rates and round factors as numbers)."""
    if not response.content:
        return None
    return json.loads(response.text, parse_float=Decimal)


def search_body(conditions: list[Condition]) -> list[dict[str, Any]]:
    return [{"field": f, "value": v, "criteria": c} for f, v, c in conditions]


def v2_timestamp(moment: datetime) -> str:
    """2.0 timestamps are Zurich wall time without a zone (NOTES §2 "Formats" [M: zone])."""
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("Europe/Zurich")).strftime("%Y-%m-%d %H:%M:%S")


class BexioClient(ApiClient):
    system = "Bexio"
    errors = BEXIO_ERRORS

    def __init__(self, *, api_url: str, tokens: TokenSource, limiter: Limiter | None = None,
                 company_id: str | None = None, timeout: float = 30.0,
                 session: requests.Session | None = None,
                 on_auth_failure: Callable[[SyncError], None] | None = None) -> None:
        super().__init__(limiter=limiter, limits=BEXIO_LIMITS if limiter else None,
                         budget_key=budget_key(company_id) if company_id else None,
                         timeout=timeout, session=session)
        self.api_url = api_url.rstrip("/")
        self.tokens = tokens
        self.on_auth_failure = on_auth_failure

    # -- ApiClient hooks ------------------------------------------------------------------
    def error_code(self, response: requests.Response, body: Any) -> str | None:
        # error_code repeats the status; a few 422 messages are machine tokens (NOTES §5).
        message = body.get("message") if isinstance(body, dict) else None
        if isinstance(message, str) and message in ("missing_network_placeholder", "missing data"):
            return message
        return None

    def error_details(self, response: requests.Response, body: Any) -> list[str]:
        if isinstance(body, dict) and body.get("message"):
            return [str(body["message"])]
        return [body] if isinstance(body, str) and body else []

    def observe(self, response: requests.Response) -> None:
        """RateLimit-Remaining into the shared budget; at 0, pause until RateLimit-Reset
        rather than spend a call on a certain 429."""
        if not (self.limiter and self.budget_key):
            return
        remaining = _int(response.headers.get("RateLimit-Remaining"))
        if remaining is None:
            return
        self.limiter.observe(self.budget_key, remaining_minute=remaining)
        if remaining <= 0 and response.status_code != 429:
            reset = _int(response.headers.get("RateLimit-Reset")) or 60
            self.limiter.pause(self.budget_key, reset, "Bexio per-minute limit used up")

    def before_error(self, response: requests.Response, error: SyncError) -> None:
        # NOTES §2: a 429 says when the window resets in RateLimit-Reset, not Retry-After.
        reset = _int(response.headers.get("RateLimit-Reset"))
        if response.status_code == 429 and isinstance(error, BudgetExhausted) and reset is not None:
            error.retry_after = float(reset)
            error.resume_at = datetime.now(timezone.utc) + timedelta(seconds=reset)
        super().before_error(response, error)

    # -- the call --------------------------------------------------------------------------
    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
             body: Any = None) -> requests.Response:
        """One API call; a 401 renews the token once (someone may have rotated it)."""
        token, version = self.tokens.current()
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            kwargs: dict[str, Any] = {"headers": headers, "params": params}
            if body is not None:
                kwargs["json"] = _jsonable(body)
            response = self.request(method, f"{self.api_url}/{path.lstrip('/')}",
                                    expect=(200, 201, 204, 401), **kwargs)
            if response.status_code != 401:
                return response
            if attempt == 1:
                token, version = self.tokens.renew(version)
        error = self.error_from(response)
        if self.on_auth_failure:
            self.on_auth_failure(error)
        raise error

    def get(self, path: str, **params: Any) -> Any:
        return decode(self.call("GET", path, params=params or None))

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return decode(self.call("POST", path, params=params or None, body=body))

    def delete(self, path: str) -> Any:
        return decode(self.call("DELETE", path))

    def pages(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None,
              page_size: int = DEFAULT_PAGE) -> Iterator[dict[str, Any]]:
        """Every row of a list or search, page by page (NOTES §2 "Pagination")."""
        page_size = max(1, min(page_size, MAX_PAGE))
        offset = 0
        while True:
            response = self.call(method, path, params={**(params or {}), "limit": page_size, "offset": offset},
                                 body=body)
            rows = decode(response) or []
            yield from rows
            total = _int(response.headers.get("X-Total-Count"))  # 3.0 only
            offset += len(rows)
            if not rows or (total is not None and offset >= total) or (total is None and len(rows) < page_size):
                return

    def search(self, resource: str, conditions: list[Condition], *, order_by: str | None = None,
               page_size: int = DEFAULT_PAGE) -> Iterator[dict[str, Any]]:
        params = {"order_by": order_by} if order_by else None
        return self.pages("POST", f"2.0/{resource}/search", params=params, body=search_body(conditions),
                          page_size=page_size)

    # -- contacts (NOTES §4) -----------------------------------------------------------------
    def search_contacts(self, conditions: list[Condition]) -> list[dict[str, Any]]:
        return list(self.search("contact", conditions))

    def get_contact(self, contact_id: int) -> dict[str, Any]:
        return self.get(f"2.0/contact/{contact_id}")

    def create_contact(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.post("2.0/contact", body)

    def update_contact(self, contact_id: int, body: dict[str, Any]) -> dict[str, Any]:
        return self.post(f"2.0/contact/{contact_id}", body)  # NOTES §4: required fields again

    # -- invoices (NOTES §5) ---------------------------------------------------------------
    def create_invoice(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.post("2.0/kb_invoice", body)

    def get_invoice(self, invoice_id: int) -> dict[str, Any]:
        return self.get(f"2.0/kb_invoice/{invoice_id}")

    def search_invoices(self, conditions: list[Condition], *, order_by: str = "id") -> Iterator[dict[str, Any]]:
        return self.search("kb_invoice", conditions, order_by=order_by)

    def update_invoice_header(self, invoice_id: int, body: dict[str, Any]) -> dict[str, Any]:
        return self.post(f"2.0/kb_invoice/{invoice_id}", body)  # POST, not PUT (NOTES §8.5)

    def add_position(self, invoice_id: int, kind_path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.post(f"2.0/kb_invoice/{invoice_id}/{kind_path}", body)

    def delete_position(self, invoice_id: int, kind_path: str, position_id: int) -> None:
        self.delete(f"2.0/kb_invoice/{invoice_id}/{kind_path}/{position_id}")

    def issue_invoice(self, invoice_id: int) -> None:
        self.post(f"2.0/kb_invoice/{invoice_id}/issue")

    def cancel_invoice(self, invoice_id: int) -> None:
        self.post(f"2.0/kb_invoice/{invoice_id}/cancel")

    def delete_invoice(self, invoice_id: int) -> None:
        self.delete(f"2.0/kb_invoice/{invoice_id}")

    def send_invoice(self, invoice_id: int, *, recipient: str, subject: str, message: str,
                     attach_pdf: bool = True, mark_as_open: bool = True) -> dict[str, Any]:
        return self.post(f"2.0/kb_invoice/{invoice_id}/send", {
            "recipient_email": recipient, "subject": subject, "message": message,
            "mark_as_open": mark_as_open, "attach_pdf": attach_pdf})

    def payments(self, invoice_id: int) -> list[dict[str, Any]]:
        return self.get(f"2.0/kb_invoice/{invoice_id}/payment") or []

    def add_payment(self, invoice_id: int, *, value: str, paid_on: date,
                    bank_account_id: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"date": paid_on.isoformat(), "value": value}
        if bank_account_id is not None:
            body["bank_account_id"] = bank_account_id
        return self.post(f"2.0/kb_invoice/{invoice_id}/payment", body)

    # -- articles (NOTES §6) ---------------------------------------------------------------
    def search_articles(self, conditions: list[Condition]) -> list[dict[str, Any]]:
        return list(self.search("article", conditions))

    def get_article(self, article_id: int) -> dict[str, Any]:
        return self.get(f"2.0/article/{article_id}")

    def create_article(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.post("2.0/article", body)

    def update_article(self, article_id: int, body: dict[str, Any]) -> dict[str, Any]:
        return self.post(f"2.0/article/{article_id}", body)

    def articles(self) -> Iterator[dict[str, Any]]:
        """All articles, 2000 a page: the daily stock read (NOTES §6)."""
        return self.pages("GET", "2.0/article", page_size=MAX_PAGE)

    # -- reference data (NOTES §3) -----------------------------------------------------------
    def taxes(self, *, types: str | None = "sales_tax", scope: str | None = "active",
              on: date | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("types", types), ("scope", scope),
                                    ("date", on.isoformat() if on else None)) if v}
        return list(self.pages("GET", "3.0/taxes", params=params))

    def currencies(self) -> list[dict[str, Any]]:
        return list(self.pages("GET", "3.0/currencies"))

    def languages(self) -> list[dict[str, Any]]:
        return list(self.pages("GET", "2.0/language"))

    def users(self) -> list[dict[str, Any]]:
        return list(self.pages("GET", "3.0/users"))

    def me(self) -> dict[str, Any]:
        return self.get("3.0/users/me")

    def accounts(self) -> list[dict[str, Any]]:
        return list(self.pages("GET", "2.0/accounts", page_size=MAX_PAGE))

    def bank_accounts(self) -> list[dict[str, Any]]:
        return list(self.pages("GET", "3.0/banking/accounts"))

    def countries(self) -> list[dict[str, Any]]:
        return list(self.pages("GET", "2.0/country", page_size=MAX_PAGE))



def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _jsonable(value: Any) -> Any:
    """Bodies are built by the mapper with strings for money; a stray Decimal must not
    become a float on the way out."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
