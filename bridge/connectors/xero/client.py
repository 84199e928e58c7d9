"""The Xero accounting API over HTTP: auth headers, budgets, paging, batching, retries.

No business rules live here (those are in ``ledger.py``); this module knows the wire:

- every call carries ``Authorization``, ``xero-tenant-id`` and ``Accept: application/json``
  (NOTES 1 and 2);
- budgets per organisation, shared by every process, under the key ``xero:<tenantId>``:
  60 calls a minute, 5 at once, and the daily cap learnt from ``X-DayLimit-Remaining``;
  a 429 says which limit was hit in ``X-Rate-Limit-Problem`` (NOTES 7);
- a 401 refreshes the token once (single-flight in the vault) and repeats the call;
- writes carry an ``Idempotency-Key``; a repeat after an error uses a new one, because Xero
  caches error responses under a key too (NOTES 2);
- batches of at most 50 with ``summarizeErrors=false``, each element judged on its own
  (NOTES 2, lesson 2); ID lists chunked to 50 (lesson 11); pages of up to 1000.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Iterator
from urllib.parse import quote

import requests

from ...errors import BudgetExhausted, NeedsReconnect, RetryableError, SyncError
from ...http import ApiClient
from ...ratelimit import Limiter, Limits
from ...messages import N_
from .errors import XERO_ERRORS, element_error, error_body_messages, explain, validation_messages, warning_messages
from .oauth import TokenSource, make_session

log = logging.getLogger(__name__)

# NOTES 7: 60 calls in any 60 seconds and 5 concurrent per organisation. Counted as Xero
# counts them: a sliding window of the last 60 calls, each kept for 61 s (a second's margin
# for the clocks), taken when the call is sent. A token bucket could only approximate that
# from below (30 at once, then one every 2 s, so that burst + refill never exceed 60 in any
# minute) and made a bulk run of 51 calls wait 42 s. The exact remaining minute budget also
# comes back in X-MinLimit-Remaining and a 429.
XERO_LIMITS = Limits(rate=60 / 61, burst=60, concurrency=5, max_wait=10.0, window=61.0,
                     name="Xero's limit of 60 calls a minute and 5 at once per organisation")
BATCH_SIZE = 50  # NOTES 2: about 50 objects per write; IDs= breaks beyond ~52 GUIDs
PAGE_SIZE = 1000  # NOTES 2: the maximum pageSize since July 2024
IDEMPOTENCY_KEY_MAX = 128  # NOTES 2
INLINE_RETRIES = 2  # a minute/concurrency 429 with a short Retry-After is waited out here


def budget_key(tenant_id: str) -> str:
    return f"xero:{tenant_id}"


def _number(value: Decimal) -> str:
    text = format(value, "f")
    return "0" if text in ("-0", "-0.00", "-0.0") else text


def encode_json(payload: Any) -> str:
    """JSON text with every Decimal written as a JSON number, digit for digit.

    The standard encoder can only write floats; money must never pass through one.
    Decimals are swapped for unique placeholders, encoded, then put back as bare numbers.
    """
    marker = uuid.uuid4().hex
    numbers: list[str] = []

    def swap(value: Any) -> Any:
        if isinstance(value, Decimal):
            numbers.append(_number(value))
            return f"{marker}{len(numbers) - 1}{marker}"
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [swap(v) for v in value]
        return value

    text = json.dumps(swap(payload), separators=(",", ":"), ensure_ascii=False)
    for index, number in enumerate(numbers):
        text = text.replace(f'"{marker}{index}{marker}"', number, 1)
    return text


def jsonable(payload: Any) -> Any:
    """A copy safe for a JSON column (sync records): Decimals become strings."""
    if isinstance(payload, Decimal):
        return _number(payload)
    if isinstance(payload, dict):
        return {k: jsonable(v) for k, v in payload.items()}
    if isinstance(payload, (list, tuple)):
        return [jsonable(v) for v in payload]
    return payload


def idempotency_key(base: str, attempt: int = 0) -> str:
    """``base`` for the first try, a derived key for each repeat; at most 128 characters."""
    key = base if attempt == 0 else f"{base}.r{attempt}"
    if len(key) > IDEMPOTENCY_KEY_MAX:
        key = hashlib.sha256(key.encode()).hexdigest()
    return key


def where_string(value: str) -> str:
    """A string literal for Xero's C#-like ``where`` (NOTES 2)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def http_time(value: datetime) -> str:
    """If-Modified-Since in UTC, to the second (NOTES 2); ISO as in the spec's example."""
    return value.astimezone(timezone.utc).replace(microsecond=0).isoformat()


def chunked(items: list[Any], size: int = BATCH_SIZE) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


@dataclass
class BatchElement:
    """One element of a summarizeErrors=false answer (NOTES 2)."""

    ok: bool
    data: dict[str, Any]
    error: SyncError | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class BatchResult:
    elements: list[BatchElement]
    idempotency_key: str
    status: int = 200


def _problem_code(value: str | None) -> str | None:
    """X-Rate-Limit-Problem spellings vary in the wild (NOTES 7): normalise them."""
    if not value:
        return None
    lowered = value.lower()
    if "day" in lowered:
        return "day"
    if "concurren" in lowered:
        return "concurrent"
    if "app" in lowered:
        return "appminute"
    if "minute" in lowered:
        return "minute"
    return lowered


class XeroClient(ApiClient):
    """The accounting API of one organisation, with one credential's tokens."""

    system = "Xero"
    errors = XERO_ERRORS

    def __init__(self, api_url: str, tenant_id: str, tokens: TokenSource, *, limiter: Limiter | None = None,
                 timeout: float = 30.0, session: requests.Session | None = None,
                 on_error: Callable[[SyncError], None] | None = None,
                 on_success: Callable[[], None] | None = None, inline_wait: float = 5.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(limiter=limiter, limits=XERO_LIMITS if limiter else None,
                         budget_key=budget_key(tenant_id), timeout=timeout, session=session or make_session())
        self.api_url = api_url.rstrip("/")
        self.tenant_id = tenant_id
        self.tokens = tokens
        self.on_error = on_error
        self.on_success = on_success
        self.inline_wait = inline_wait
        self.sleep = sleep

    # -- reading Xero's answers -------------------------------------------------------------
    def error_code(self, response: requests.Response, body: Any) -> str | None:
        if response.status_code == 429:
            return _problem_code(response.headers.get("X-Rate-Limit-Problem"))
        if isinstance(body, dict):
            return body.get("Type") or body.get("error") or body.get("Detail")
        return None

    def error_details(self, response: requests.Response, body: Any) -> list[str]:
        return error_body_messages(body)

    def error_from(self, response: requests.Response) -> SyncError:
        error = super().error_from(response)
        if response.status_code == 400 and error.ledger_messages:
            # Say what Xero refused in words a user can act on; keep Xero's own text too.
            error.message, fix = explain(error.ledger_messages)
            error.args = (error.message,)
            error.fix = error.fix or fix
        return error

    def observe(self, response: requests.Response) -> None:
        """Remember the budgets Xero reports on every answer (NOTES 7)."""
        if not (self.limiter and self.budget_key):
            return

        def header(name: str) -> int | None:
            try:
                return int(response.headers[name])
            except (KeyError, ValueError):
                return None

        minute, day = header("X-MinLimit-Remaining"), header("X-DayLimit-Remaining")
        if minute is not None or day is not None:
            self.limiter.observe(self.budget_key, remaining_minute=minute, remaining_day=day)

    # -- the call ---------------------------------------------------------------------------
    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None,
             idempotency: str | None = None, if_modified_since: datetime | None = None,
             not_found_ok: bool = False) -> Any:
        """One API call: JSON in and out (Decimal money). Returns the parsed body, or None
        for an empty answer or (with ``not_found_ok``) a 404."""
        url = f"{self.api_url}/{path.lstrip('/')}"
        data = encode_json(body).encode("utf-8") if body is not None else None
        if idempotency is None and method in ("PUT", "POST"):
            idempotency = uuid.uuid4().hex
        attempt = 0
        refreshed = False
        while True:
            try:
                tokens = self.tokens.current()
                headers = {"Authorization": f"Bearer {tokens.access_token}", "xero-tenant-id": self.tenant_id,
                           "Accept": "application/json"}
                if data is not None:
                    headers["Content-Type"] = "application/json"
                if idempotency:
                    headers["Idempotency-Key"] = idempotency_key(idempotency, attempt)
                if if_modified_since is not None:
                    headers["If-Modified-Since"] = http_time(if_modified_since)
                expect = (200, 201, 204, 404) if not_found_ok else (200, 201, 204)
                response = self.request(method, url, params=params, data=data, headers=headers, expect=expect,
                                        on_status={401: lambda r: r})
                if response.status_code == 401:
                    if refreshed:
                        raise self.error_from(response)
                    refreshed = True
                    self.tokens.after_unauthorised(tokens.version)
                    attempt += 1
                    continue
            except RetryableError as exc:
                if self._wait_inline(exc, attempt):
                    attempt += 1
                    continue
                self._report(exc)
                raise
            except SyncError as exc:
                self._report(exc)
                raise
            if self.on_success:
                self.on_success()
            if response.status_code == 404 or not response.content:
                return None
            try:
                return response.json(parse_float=Decimal)
            except ValueError:
                # NOTES 8: check the status before parsing; an outage page is not JSON.
                raise RetryableError(N_("Xero answered with something that is not JSON."), retry_after=60,
                                     code="bad_response", status=response.status_code)

    def _wait_inline(self, exc: RetryableError, attempt: int) -> bool:
        """Wait out a short minute/concurrency limit here instead of failing the job."""
        if isinstance(exc, BudgetExhausted) or exc.status != 429 or attempt >= INLINE_RETRIES:
            return False
        wait = exc.retry_after if exc.retry_after is not None else self.inline_wait + 1
        if wait > self.inline_wait:
            return False
        self.sleep(wait)
        return True

    def _report(self, error: SyncError) -> None:
        if self.on_error and isinstance(error, (BudgetExhausted, NeedsReconnect)):
            self.on_error(error)

    # -- reading many -----------------------------------------------------------------------
    def pages(self, path: str, plural: str, *, params: dict[str, Any] | None = None,
              if_modified_since: datetime | None = None, page_size: int = PAGE_SIZE) -> Iterator[dict[str, Any]]:
        """Every record of a paged endpoint; stops on a short page or the last page (NOTES 2)."""
        page = 1
        while True:
            answer = self.call("GET", path, params={**(params or {}), "page": page, "pageSize": page_size},
                               if_modified_since=if_modified_since) or {}
            items = answer.get(plural) or []
            yield from items
            pagination = answer.get("pagination") or {}
            if len(items) < page_size or (pagination.get("pageCount") and page >= pagination["pageCount"]):
                return
            page += 1

    def listing(self, path: str, plural: str, *, params: dict[str, Any] | None = None,
                if_modified_since: datetime | None = None) -> list[dict[str, Any]]:
        """An endpoint without paging (TaxRates, Accounts, Items, Currencies)."""
        answer = self.call("GET", path, params=params, if_modified_since=if_modified_since) or {}
        return list(answer.get(plural) or [])

    # -- writing many -----------------------------------------------------------------------
    def batch(self, method: str, path: str, plural: str, elements: list[dict[str, Any]], idempotency: str,
              params: dict[str, Any] | None = None) -> BatchResult:
        """One write of at most 50 elements with summarizeErrors=false (NOTES 2).

        Each element's result is judged on its own: a bad invoice never hides the IDs of
        the good ones (lesson 2). Xero answers the elements in the order sent.
        """
        if len(elements) > BATCH_SIZE:
            raise ValueError(f"at most {BATCH_SIZE} elements per batch")
        answer = self.call(method, path, params={"summarizeErrors": "false", **(params or {})},
                           body={plural: elements}, idempotency=idempotency) or {}
        returned = answer.get(plural) or []
        results = []
        for index in range(len(elements)):
            data = returned[index] if index < len(returned) else {}
            messages = validation_messages(data)
            failed = data.get("StatusAttributeString") == "ERROR" or bool(messages) or not data
            if failed and not messages:
                messages = ["Xero returned no result for this element."]
            results.append(BatchElement(ok=not failed, data=data, error=element_error(messages) if failed else None,
                                        warnings=warning_messages(data)))
        return BatchResult(results, idempotency)

    # -- endpoints ----------------------------------------------------------------------------
    def get_contact(self, id_or_number: str) -> dict[str, Any] | None:
        """By ContactID or by ContactNumber, which Xero also accepts in the path (NOTES 4)."""
        answer = self.call("GET", f"Contacts/{quote(id_or_number, safe='')}", not_found_ok=True)
        contacts = (answer or {}).get("Contacts") or []
        return contacts[0] if contacts else None

    def find_contacts(self, where: str, include_archived: bool = False) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"where": where}
        if include_archived:
            params["includeArchived"] = "true"
        return list(self.pages("Contacts", "Contacts", params=params, page_size=100))

    def contacts(self, since: datetime | None = None, include_archived: bool = True) -> Iterator[dict[str, Any]]:
        """Oldest change first, so an import that stops can go on from the last contact it
        handled (``party_import.ListingMark``) and one changed meanwhile moves to the end."""
        params = {"order": "UpdatedDateUTC ASC", **({"includeArchived": "true"} if include_archived else {})}
        return self.pages("Contacts", "Contacts", params=params, if_modified_since=since)

    def contacts_by_ids(self, contact_ids: list[str]) -> list[dict[str, Any]]:
        """Full contacts (ContactPersons included), 50 IDs a call (lesson 11)."""
        found: list[dict[str, Any]] = []
        for chunk in chunked(list(dict.fromkeys(contact_ids))):
            found += self.pages("Contacts", "Contacts", params={"IDs": ",".join(chunk), "includeArchived": "true"})
        return found

    def save_contacts(self, contacts: list[dict[str, Any]], idempotency: str, *, create: bool) -> BatchResult:
        """PUT creates only (a duplicate is an error, never a second contact); POST updates."""
        return self.batch("PUT" if create else "POST", "Contacts", "Contacts", contacts, idempotency)

    def get_invoices(self, invoice_ids: list[str]) -> list[dict[str, Any]]:
        """Full invoices (with LineItems: paged reads carry them, NOTES 2), 50 IDs a call."""
        found: list[dict[str, Any]] = []
        for chunk in chunked(list(dict.fromkeys(invoice_ids))):
            found += self.pages("Invoices", "Invoices", params={"IDs": ",".join(chunk), "unitdp": 4})
        return found

    def invoices_by_number(self, numbers: list[str]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for chunk in chunked(list(dict.fromkeys(numbers))):
            found += self.pages("Invoices", "Invoices", params={"InvoiceNumbers": ",".join(chunk), "unitdp": 4})
        return found

    def invoices_made_by_app(self, contact_ids: list[str], statuses: list[str],
                             since: datetime | None) -> list[dict[str, Any]]:
        """Invoices this app created for these contacts, changed since ``since``: only Xero's
        optimised list parameters (NOTES 2), 50 ContactIDs a call."""
        found: list[dict[str, Any]] = []
        for chunk in chunked(list(dict.fromkeys(contact_ids))):
            found += self.pages("Invoices", "Invoices", if_modified_since=since, params={
                "ContactIDs": ",".join(chunk), "createdByMyApp": "true", "Statuses": ",".join(statuses),
                "unitdp": 4})
        return found

    def invoices(self, since: datetime | None = None, where: str | None = 'Type=="ACCREC"') -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {"unitdp": 4}
        if where:
            params["where"] = where
        return self.pages("Invoices", "Invoices", params=params, if_modified_since=since)

    def save_invoices(self, invoices: list[dict[str, Any]], idempotency: str, *, create: bool) -> BatchResult:
        """PUT to create (a retry then fails on the unique InvoiceNumber instead of making a
        duplicate, NOTES 3 lesson 3), POST to update; unitdp=4 keeps 4-decimal prices."""
        return self.batch("PUT" if create else "POST", "Invoices", "Invoices", invoices, idempotency,
                          params={"unitdp": 4})

    def update_invoice(self, invoice_id: str, changes: dict[str, Any], idempotency: str) -> BatchElement:
        """POST /Invoices/{id}: status changes (DELETED, VOIDED, AUTHORISED; NOTES 3)."""
        answer = self.call("POST", f"Invoices/{invoice_id}", params={"summarizeErrors": "false"},
                           body={"Invoices": [{"InvoiceID": invoice_id, **changes}]}, idempotency=idempotency) or {}
        data = (answer.get("Invoices") or [{}])[0]
        messages = validation_messages(data)
        failed = data.get("StatusAttributeString") == "ERROR" or bool(messages)
        return BatchElement(ok=not failed, data=data, error=element_error(messages) if failed else None,
                            warnings=warning_messages(data))

    def email_invoice(self, invoice_id: str, idempotency: str) -> None:
        """POST /Invoices/{id}/Email (204): AUTHORISED ACCREC only (NOTES 3)."""
        self.call("POST", f"Invoices/{invoice_id}/Email", body={}, idempotency=idempotency)

    def save_payments(self, payments: list[dict[str, Any]], idempotency: str) -> BatchResult:
        return self.batch("PUT", "Payments", "Payments", payments, idempotency)

    def credit_notes(self, since: datetime | None = None, where: str | None = None) -> Iterator[dict[str, Any]]:
        """Credit notes changed since ``since`` (paged, If-Modified-Since)."""
        return self.pages("CreditNotes", "CreditNotes", params={"where": where} if where else None,
                          if_modified_since=since)

    def save_credit_notes(self, credit_notes: list[dict[str, Any]], idempotency: str) -> BatchResult:
        """PUT creates only; the Idempotency-Key replays a lost answer within Xero's window."""
        return self.batch("PUT", "CreditNotes", "CreditNotes", credit_notes, idempotency)

    def allocate_credit_note(self, credit_note_id: str, allocation: dict[str, Any], idempotency: str) -> BatchResult:
        """PUT /CreditNotes/{id}/Allocations: apply part of a credit note to an invoice."""
        return self.batch("PUT", f"CreditNotes/{credit_note_id}/Allocations", "Allocations", [allocation],
                          idempotency)

    def online_invoice(self, invoice_id: str) -> dict[str, Any] | None:
        """GET /Invoices/{id}/OnlineInvoice: the customer's link to an approved invoice."""
        return self.call("GET", f"Invoices/{invoice_id}/OnlineInvoice")

    def payments(self, since: datetime | None = None, where: str | None = None) -> Iterator[dict[str, Any]]:
        """No webhooks for payments: poll with If-Modified-Since (NOTES 5)."""
        return self.pages("Payments", "Payments", params={"where": where} if where else None,
                          if_modified_since=since)

    def bank_transactions(self, since: datetime | None = None, where: str | None = None) -> Iterator[dict[str, Any]]:
        """No webhooks for bank transactions either: poll (NOTES 5)."""
        params: dict[str, Any] = {"unitdp": 4}
        if where:
            params["where"] = where
        return self.pages("BankTransactions", "BankTransactions", params=params, if_modified_since=since)

    def tax_rates(self, where: str | None = None) -> list[dict[str, Any]]:
        return self.listing("TaxRates", "TaxRates", params={"where": where} if where else None)

    def accounts(self, where: str | None = None) -> list[dict[str, Any]]:
        return self.listing("Accounts", "Accounts", params={"where": where} if where else None)

    def tracking_categories(self) -> list[dict[str, Any]]:
        """The active categories with their options (GET /TrackingCategories)."""
        return self.listing("TrackingCategories", "TrackingCategories")

    def branding_themes(self) -> list[dict[str, Any]]:
        return self.listing("BrandingThemes", "BrandingThemes")

    def items(self, since: datetime | None = None) -> list[dict[str, Any]]:
        return self.listing("Items", "Items", if_modified_since=since)

    def organisation(self) -> dict[str, Any]:
        return (self.listing("Organisation", "Organisations") or [{}])[0]

    def currencies(self) -> list[dict[str, Any]]:
        return self.listing("Currencies", "Currencies")

