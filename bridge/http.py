"""The HTTP client base every connector's client builds on.

It owns what is the same for every external API: timeouts, budgets (``ratelimit``),
turning a failed response into a typed error through the connector's own ``ErrorTable``,
honouring Retry-After, and never logging a secret. Connectors add auth, paging, batching
and their error-code extraction; business rules stay out of clients entirely.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Iterator

import requests

from .errors import BudgetExhausted, NeedsReconnect, PermanentError, RetryableError, SyncError
from .messages import N_
from .ratelimit import Limiter, Limits

log = logging.getLogger(__name__)

USER_AGENT = "bridge/0.1"
# Which work caused a call: every request made while a flow runs carries the work item ids
# (``work=12,13``), so a write seen at the other end (the sandbox's request log, a proxy's
# log) can be traced to its sync records and from there to the change that asked for it.
CAUSE_HEADER = "X-Bridge-Cause"
_cause: ContextVar[str | None] = ContextVar("bridge_cause", default=None)
# What must hold before a call that may write (fencing: the run still owns its work).
_guard: ContextVar[Callable[[], None] | None] = ContextVar("bridge_write_guard", default=None)
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@contextmanager
def write_guard(check: Callable[[], None]) -> Iterator[None]:
    """Call ``check`` before every request that may write (any but GET, HEAD, OPTIONS) made
    in this block; it raises to stop the write. Every connector's calls go through
    ``HttpClient.request``, so this is the one place the engine fences a run's writes."""
    token = _guard.set(check)
    try:
        yield
    finally:
        _guard.reset(token)


@contextmanager
def cause(value: str) -> Iterator[None]:
    """Tag every call made inside with ``X-Bridge-Cause: value``."""
    token = _cause.set(value)
    try:
        yield
    finally:
        _cause.reset(token)


@dataclass(frozen=True)
class ErrorRule:
    """How one status and/or API error code is handled.

    ``message`` is a sentence for the user; ``fix`` names what they can change (a setting,
    a reconnect). ``wait`` is the retry delay when the response gives none.
    """

    retryable: bool
    message: str  # a Message (N_), shown in the reader's language
    status: int | None = None
    code: str | None = None
    fix: str | None = None
    wait: float = 30.0
    pause: bool = False  # a spent budget: pause the key until Retry-After instead of retrying
    reconnect: bool = False


class ErrorTable:
    """One table per connector: (status, code) -> rule, most specific match first."""

    def __init__(self, system: str, rules: list[ErrorRule]) -> None:
        self.system = system
        self.rules = rules

    def rule_for(self, status: int, code: str | None) -> ErrorRule:
        for rule in self.rules:  # exact (status, code), then code alone, then status alone
            if rule.code and rule.code == code and rule.status in (None, status):
                return rule
        for rule in self.rules:
            if rule.code is None and rule.status == status:
                return rule
        if status >= 500:
            return ErrorRule(True, N_("%(system)s is temporarily unavailable (HTTP %(status)s).",
                                      system=self.system, status=status), wait=60)
        return ErrorRule(False, N_("%(system)s refused the request (HTTP %(status)s).", system=self.system,
                                   status=status))

    def error(self, status: int, code: str | None, *, retry_after: float | None = None,
              details: list[str] | None = None) -> SyncError:
        rule = self.rule_for(status, code)
        kwargs: dict[str, Any] = {"code": code or f"http_{status}", "fix": rule.fix,
                                  "ledger_messages": details, "status": status}
        if rule.pause:
            wait = retry_after if retry_after is not None else rule.wait
            resume = datetime.now(timezone.utc) + timedelta(seconds=wait)
            return BudgetExhausted(rule.message, resume_at=resume, retry_after=wait, **kwargs)
        if rule.retryable:
            return RetryableError(rule.message, retry_after=retry_after if retry_after is not None else rule.wait,
                                  **kwargs)
        if rule.reconnect:
            return NeedsReconnect(rule.message, **kwargs)
        return PermanentError(rule.message, **kwargs)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After is seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max((when - datetime.now(timezone.utc)).total_seconds(), 0.0)


class ApiClient:
    """Base for connector clients. Subclasses set ``system`` and ``errors`` and override
    ``error_code``/``error_details`` to read their API's error body, and ``observe`` to
    learn budgets from headers."""

    system = "api"
    errors = ErrorTable("api", [])

    def __init__(self, *, limiter: Limiter | None = None, limits: Limits | None = None,
                 budget_key: str | None = None, timeout: float = 30.0,
                 session: requests.Session | None = None) -> None:
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", USER_AGENT)
        self.limiter = limiter
        self.limits = limits
        self.budget_key = budget_key
        self.timeout = timeout

    # -- hooks --------------------------------------------------------------------------
    def error_code(self, response: requests.Response, body: Any) -> str | None:
        return None

    def error_details(self, response: requests.Response, body: Any) -> list[str]:
        return []

    def observe(self, response: requests.Response) -> None:
        """Learn budgets from response headers (e.g. X-DayLimit-Remaining)."""

    def before_error(self, response: requests.Response, error: SyncError) -> None:
        """Act on an error before it is raised (e.g. pause the key on a day limit)."""
        if isinstance(error, BudgetExhausted) and self.limiter and self.budget_key:
            self.limiter.pause(self.budget_key, error.retry_after or 60, error.message)

    # -- the call -----------------------------------------------------------------------
    def request(self, method: str, url: str, *, expect: tuple[int, ...] = (200, 201, 204),
                on_status: dict[int, Callable[[requests.Response], Any]] | None = None,
                **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        if method.upper() not in READ_ONLY_METHODS and (check := _guard.get()) is not None:
            check()
        if (tag := _cause.get()) is not None:
            kwargs["headers"] = {**(kwargs.get("headers") or {}), CAUSE_HEADER: tag}
        try:
            if self.limiter and self.limits and self.budget_key:
                with self.limiter.call(self.budget_key, self.limits):
                    response = self.session.request(method, url, **kwargs)
            else:
                response = self.session.request(method, url, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            # In words: the exception's class means nothing to a user (invariant f, docs/sync.md).
            how = N_("it did not answer in time") if isinstance(exc, requests.Timeout) else \
                N_("the connection failed")
            raise RetryableError(N_("%(system)s could not be reached (%(how)s); it is tried again shortly.",
                                    system=self.system, how=how), retry_after=30, code="network") from exc
        self.observe(response)
        if response.status_code in expect or (response.ok and not expect):
            return response
        if on_status and response.status_code in on_status:
            return on_status[response.status_code](response)
        raise self.error_from(response)

    def error_from(self, response: requests.Response) -> SyncError:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text[:500]
        code = self.error_code(response, body)
        error = self.errors.error(response.status_code, code,
                                  retry_after=parse_retry_after(response.headers.get("Retry-After")),
                                  details=self.error_details(response, body))
        log.info("%s %s -> %s %s", self.system, response.request.method if response.request else "?",
                 response.status_code, code or "")
        self.before_error(response, error)
        return error
