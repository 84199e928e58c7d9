"""The Bitrix24 REST client: auth, limits, errors, batches and paging; no business rules.

Why it is our own and not b24pysdk (docs/bitrix24.md, "Why bridge has its own client"):
the SDK refreshes tokens at a hard-coded OAuth host, keeps no shared rate limit and
sleeps inside its own retries. Here every call goes through the limiter shared by all
processes (key ``b24:<member_id>``), tokens live in the vault (single-flight refresh,
rotation stored before use), and failures become the typed errors of ``errors.py``.

Wire facts (https://apidocs.bitrix24.com/; ``sN`` is section N of docs/sources.md):
- calls are ``POST <client_endpoint><method>`` with a JSON body carrying ``auth`` (s1);
- replies are ``{"result", "next", "total", "time"}`` or ``{"error", "error_description"}`` (s9, s10);
- 401 ``expired_token`` means: refresh and retry (s3); 503 QUERY_LIMIT_EXCEEDED and 429
  OPERATION_TIME_LIMIT are retryable, the latter until ``time.operating_reset_at`` (s9);
- a renamed portal answers with a redirect that would lose a POST body: follow it by hand (s3);
- ``batch`` takes at most 50 commands as PHP-bracket query strings and answers 200 with
  per-command errors (s9); lists page by 50 with ``start``/``next``, or by id (fast paging).
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Iterator, Mapping, Protocol
from urllib.parse import quote, urlencode, urlsplit

import requests

from ...errors import NeedsReconnect, PermanentError, RetryableError, SyncError
from ...http import ApiClient
from ...ratelimit import Limiter, Limits
from ...messages import N_
from .errors import ERRORS, WEBHOOK_ERRORS

log = logging.getLogger(__name__)

BATCH_MAX = 50  # NOTES s9
PAGE_SIZE = 50  # NOTES s9
REDIRECTS = (301, 302, 303, 307, 308)
# NOTES s9: the portal's leaky bucket drains 2/s and holds 50 (Enterprise: 5/s, 250). Our
# bucket refills at the same rate and counts a request when it takes its place, before
# sending it; the portal counts it on arrival. A request arriving d seconds after its place
# was taken can leave the portal's bucket up to 2 x d requests fuller than ours, so ours
# keeps a few in hand: 3 cover 1.5 s between taking a place and arriving (a slow
# connection, a busy worker), enough that the portal's 503 is never reached, and little
# enough that a bulk run is not slowed for nothing (each request of headroom costs half a
# second once the bucket is spent).
HEADROOM = 3
DEFAULT_LIMITS = Limits(rate=2.0, burst=50 - HEADROOM, name="Bitrix24's limit of 2 requests a second per portal")
ENTERPRISE_LIMITS = Limits(rate=5.0, burst=250 - 2 * HEADROOM,
                           name="Bitrix24's limit of 5 requests a second per portal (Enterprise)")


def limits_for_plan(plan: str | None) -> Limits:
    return ENTERPRISE_LIMITS if (plan or "").lower() == "enterprise" else DEFAULT_LIMITS


def budget_key(member_id: str) -> str:
    return f"b24:{member_id}"


# --------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # Bitrix24 accepts numbers as strings; never a float
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def encode_json(body: Any) -> str:
    return json.dumps(body, default=_json_default, ensure_ascii=False)


def php_pairs(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """``{"fields": {"TITLE": "x"}, "select": ["id"]}`` -> ``fields[TITLE]=x``, ``select[0]=id``.

    NOTES s9 and s13: batch commands must bracket-encode nested values; a flat encoder
    silently drops them.
    """
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, Mapping):
            pairs.extend(php_pairs(value, name))
        elif isinstance(value, (list, tuple)):
            pairs.extend(php_pairs({str(i): v for i, v in enumerate(value)}, name))
        elif value is None:
            pairs.append((name, ""))
        elif isinstance(value, bool):
            pairs.append((name, "Y" if value else "N"))
        else:
            pairs.append((name, str(value)))
    return pairs


def command(method: str, params: Mapping[str, Any] | None = None) -> str:
    """One ``batch`` command string. ``$result[...]`` references stay readable."""
    query = urlencode(php_pairs(params or {}), quote_via=lambda s, *a: quote(s, safe="[]$"))
    return f"{method}?{query}" if query else method


def parse_json(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


def _as_dict(value: Any) -> dict[str, Any]:
    # PHP renders an empty map as [] (NOTES s9 batch reply).
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    return {}


# --------------------------------------------------------------------------------------
# Auth modes
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    endpoint: str  # ends with "/": client_endpoint, or the inbound webhook URL
    params: dict[str, str]  # {"auth": token} or nothing (webhook)
    version: int | None = None


class Auth(Protocol):
    """How calls are authorised: the installed app (OAuth) or an inbound webhook."""

    can_refresh: bool

    def current(self) -> Credentials: ...
    def refresh(self, stale: Credentials) -> None: ...
    def moved(self, new_endpoint: str) -> None: ...


class StaticAuth:
    """One token as given (an iframe user's AUTH_ID): never refreshed."""

    can_refresh = False

    def __init__(self, endpoint: str, access_token: str) -> None:
        self._credentials = Credentials(endpoint, {"auth": access_token})

    def current(self) -> Credentials:
        return self._credentials

    def refresh(self, stale: Credentials) -> None:  # pragma: no cover - never called
        raise NeedsReconnect(N_("The Bitrix24 session expired."), fix=N_("Reload the page in Bitrix24."))

    def moved(self, new_endpoint: str) -> None:
        self._credentials = Credentials(new_endpoint, self._credentials.params)


class WebhookAuth:
    """Self-hosted portals without the app: ``https://<portal>/rest/<user>/<secret>/`` (NOTES s1).

    Sync works; placements and event bindings do not (WRONG_AUTH_TYPE).
    """

    can_refresh = False

    def __init__(self, webhook_url: str, on_moved: Callable[[str], None] | None = None) -> None:
        self.url = webhook_url if webhook_url.endswith("/") else webhook_url + "/"
        self.on_moved = on_moved

    def current(self) -> Credentials:
        return Credentials(self.url, {})

    def refresh(self, stale: Credentials) -> None:  # pragma: no cover - never called
        raise NeedsReconnect(N_("Bitrix24 refused the inbound webhook."), fix=N_("Create a new webhook and save it."))

    def moved(self, new_endpoint: str) -> None:
        self.url = new_endpoint
        if self.on_moved:
            self.on_moved(new_endpoint)


class OAuthAuth:
    """The installed app's tokens, in the vault; refreshed one process at a time.

    The token URL comes from the portal's ``server_endpoint`` (NOTES s3: the docs say
    oauth.bitrix.info, the official SDK uses oauth.bitrix24.tech; the portal says which).
    """

    can_refresh = True

    def __init__(self, vault, credential_id: int, *, client_id: str, client_secret: str,
                 default_token_url: str, member_id: str, timeout: float = 30.0,
                 on_moved: Callable[[str], None] | None = None) -> None:
        self.vault = vault
        self.credential_id = credential_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.default_token_url = default_token_url
        self.member_id = member_id
        self.timeout = timeout
        self.on_moved = on_moved

    def current(self) -> Credentials:
        # margin=0: refresh only a token known to be expired (NOTES s3: not before every call).
        tokens = self.vault.fresh(self.credential_id, self._refresher, margin=0)
        return Credentials(tokens.data["client_endpoint"], {"auth": tokens.access_token}, tokens.version)

    def refresh(self, stale: Credentials) -> None:
        self.vault.fresh(self.credential_id, self._refresher, stale_version=stale.version)

    def moved(self, new_endpoint: str) -> None:
        tokens = self.vault.read(self.credential_id)
        self.vault.replace(self.credential_id, {**tokens.data, "client_endpoint": new_endpoint})
        if self.on_moved:
            self.on_moved(new_endpoint)

    def _refresher(self, data: dict[str, Any]) -> dict[str, Any]:
        url = token_url_for(data.get("server_endpoint"), self.default_token_url)
        reply = refresh_tokens(url, self.client_id, self.client_secret, data["refresh_token"], timeout=self.timeout)
        if reply.get("member_id") and reply["member_id"] != self.member_id:
            raise NeedsReconnect(N_("Bitrix24 returned tokens of another portal."), fix=N_("Install the app again."))
        return reply


def token_url_for(server_endpoint: str | None, default: str) -> str:
    """``https://oauth.bitrix.info/rest/`` -> ``https://oauth.bitrix.info/oauth/token/`` (NOTES s3)."""
    if not server_endpoint:
        return default
    base = server_endpoint.rstrip("/")
    if base.endswith("/rest"):
        base = base[: -len("/rest")]
    return f"{base}/oauth/token/"


def same_origin(url_a: str, url_b: str) -> bool:
    a, b = urlsplit(url_a), urlsplit(url_b)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


class _OAuthServer(ApiClient):
    system = "Bitrix24 OAuth"
    errors = ERRORS

    def error_code(self, response, body):
        return body.get("error") if isinstance(body, dict) else None

    def error_details(self, response, body):
        return [body["error_description"]] if isinstance(body, dict) and body.get("error_description") else []


# Answers to a POST that mean the server did not read the form: the method refused, or the
# parameters missing (no client_id reads as an unknown client, docs settings/oauth/error-codes).
FORM_UNREAD_STATUSES = frozenset({404, 405, 415})
FORM_UNREAD_CODES = frozenset({"invalid_request", "invalid_client"})
# OAuth hosts that have answered a form POST with tokens (this process): their refusals are believed.
_form_hosts: set[str] = set()


def refresh_tokens(token_url: str, client_id: str, client_secret: str, refresh_token: str, *,
                   timeout: float = 30.0, session: requests.Session | None = None) -> dict[str, Any]:
    """One refresh: a NEW pair comes back and the old refresh token dies (NOTES s3, s13).

    The client secret goes only to the OAuth server, never to a portal (NOTES s3), and never
    in a URL: URLs are what proxies and access logs keep, so the four parameters travel as a
    POST form body. Bitrix24 documents only the GET with a query string
    (settings/oauth/auto-renewal.md); its official JS SDK sends the form since checking that
    oauth.bitrix24.tech reads it (bitrix24/b24jssdk#149, #239), which is unverified for
    oauth.bitrix.info [M]. So an OAuth server not yet seen reading the form that answers as
    if the POST had no parameters is asked once more the documented way (docs/bitrix24.md,
    "Secrets in URLs"); our logs and error records redact the query's secrets
    (bridge/redaction.py). A real refusal (an uninstalled app: ``invalid_client``) comes back
    the same either way, so it is never mistaken for a transport quirk.
    """
    server = _OAuthServer(timeout=timeout, session=session)
    form = {"grant_type": "refresh_token", "client_id": client_id, "client_secret": client_secret,
            "refresh_token": refresh_token}
    host = urlsplit(token_url).netloc.lower()
    by_form = True
    try:
        response = server.request("POST", token_url, expect=(200,), data=form)
    except SyncError as error:
        if host in _form_hosts or not (error.status in FORM_UNREAD_STATUSES or error.code in FORM_UNREAD_CODES):
            raise
        log.warning("Bitrix24 OAuth server %s answered the token renewal's form with %s; asking again with the "
                    "documented query string", host, error.code)
        by_form = False
        response = server.request("GET", token_url, expect=(200,), params=form)
    data = parse_json(response.text)
    if not isinstance(data, dict) or not data.get("access_token"):
        raise RetryableError(N_("The Bitrix24 OAuth server sent an unreadable reply."), retry_after=60)
    if by_form:
        _form_hosts.add(host)
    return data


# --------------------------------------------------------------------------------------
# Replies
# --------------------------------------------------------------------------------------


@dataclass
class Reply:
    result: Any
    total: int | None = None
    next: int | None = None
    time: dict[str, Any] = field(default_factory=dict)


@dataclass
class BatchReply:
    results: dict[str, Any]
    errors: dict[str, SyncError]
    totals: dict[str, int]
    nexts: dict[str, int]

    def ok(self, key: str) -> bool:
        return key in self.results and key not in self.errors

    def get(self, key: str, default: Any = None) -> Any:
        return self.results.get(key, default)

    def raise_first(self) -> None:
        if self.errors:
            raise next(iter(self.errors.values()))


# --------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------


class Bitrix24Client(ApiClient):
    system = "Bitrix24"
    errors = ERRORS
    limit_retries = 2  # in-call retries after a QUERY_LIMIT_EXCEEDED before giving the job back

    def __init__(self, auth: Auth, *, limiter: Limiter | None = None, limits: Limits | None = None,
                 budget_key: str | None = None, timeout: float = 30.0,
                 session: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(limiter=limiter, limits=limits, budget_key=budget_key, timeout=timeout, session=session)
        self.auth = auth
        # A refused webhook is fixed by making a new one, not by installing the app (errors.py).
        self.errors = WEBHOOK_ERRORS if isinstance(auth, WebhookAuth) else ERRORS
        self.sleep = sleep
        self.operating_reset_at: dict[str, float] = {}

    # -- ApiClient hooks ------------------------------------------------------------------
    def error_code(self, response, body):
        return body.get("error") or None if isinstance(body, dict) else None

    def error_details(self, response, body):
        return [body["error_description"]] if isinstance(body, dict) and body.get("error_description") else []

    # -- one call -------------------------------------------------------------------------
    def call(self, method: str, params: Mapping[str, Any] | None = None) -> Reply:
        credentials = self.auth.current()
        refreshed = moved = False
        limit_hits = 0
        while True:
            response = self._post(credentials, method, params)
            status = response.status_code
            if status == 200:
                return self._reply(method, response)
            if status in REDIRECTS and not moved:
                credentials = self._follow(credentials, method, response)
                moved = True
                continue
            error = self.error_from(response)
            if error.code == "expired_token" and self.auth.can_refresh and not refreshed:
                self.auth.refresh(credentials)
                credentials = self.auth.current()
                refreshed = True
                continue
            if error.code == "QUERY_LIMIT_EXCEEDED":
                # NOTES s9: the portal's bucket is shared by every app on our IP; the
                # shared limiter keeps bridge itself under it, so this is someone else's burst.
                log.warning("Bitrix24 QUERY_LIMIT_EXCEEDED on %s (%s)", method, self.budget_key)
                if limit_hits < self.limit_retries:
                    limit_hits += 1
                    self.sleep(1.0 + limit_hits)
                    continue
            if error.code == "OPERATION_TIME_LIMIT" and isinstance(error, RetryableError):
                reset_at = self.operating_reset_at.get(method)
                if reset_at:
                    error.retry_after = max(reset_at - time.time(), 1.0)
            raise error

    def _post(self, credentials: Credentials, method: str, params: Mapping[str, Any] | None) -> requests.Response:
        body = {**(params or {}), **credentials.params}
        passthrough = {status: (lambda r: r) for status in (*REDIRECTS, 401, 429, 503)}
        return self.request("POST", credentials.endpoint + method, expect=(200,), on_status=passthrough,
                            data=encode_json(body).encode(), allow_redirects=False,
                            headers={"Content-Type": "application/json", "Accept": "application/json"})

    def _follow(self, credentials: Credentials, method: str, response: requests.Response) -> Credentials:
        """NOTES s3: a renamed portal redirects; re-POST to the new address and remember it."""
        location = response.headers.get("Location") or ""
        if not location.startswith(("http://", "https://")):
            raise PermanentError(N_("Bitrix24 redirected to an unusable address."), code="bad_redirect")
        path = location.split("?", 1)[0]
        marker = "/rest/"
        if marker not in path:
            raise PermanentError(N_("Bitrix24 redirected away from its REST API."), code="bad_redirect",
                                 ledger_messages=[location])
        new_endpoint = path[: path.index(marker) + len(marker)]
        if not credentials.params and marker in credentials.endpoint:  # webhook: keep <user>/<secret>/
            new_endpoint += credentials.endpoint.split(marker, 1)[1]
        log.info("Bitrix24 portal moved: %s -> %s", urlsplit(credentials.endpoint).netloc, urlsplit(new_endpoint).netloc)
        self.auth.moved(new_endpoint)
        return Credentials(new_endpoint, credentials.params, credentials.version)

    def _reply(self, method: str, response: requests.Response) -> Reply:
        try:
            body = parse_json(response.text)
        except ValueError as exc:
            raise RetryableError(N_("Bitrix24 sent an unreadable reply."), retry_after=30, code="bad_reply") from exc
        if not isinstance(body, dict) or "result" not in body:
            if isinstance(body, dict) and "error" in body:  # some errors come with HTTP 200
                raise self.errors.error(400, body.get("error") or None,
                                        details=[body.get("error_description") or ""])
            raise RetryableError(N_("Bitrix24 sent an unexpected reply."), retry_after=30, code="bad_reply")
        timing = body.get("time") or {}
        if timing.get("operating_reset_at"):  # absent on self-hosted (NOTES s13)
            self.operating_reset_at[method] = float(timing["operating_reset_at"])
        return Reply(body["result"], _int(body.get("total")), _int(body.get("next")), timing)

    # -- batch ------------------------------------------------------------------------------
    def batch(self, commands: Mapping[str, tuple[str, Mapping[str, Any]]], *, halt: bool = False) -> BatchReply:
        """Up to 50 commands in one request (one unit of the portal's bucket, NOTES s9)."""
        if len(commands) > BATCH_MAX:
            raise ValueError(f"a Bitrix24 batch takes at most {BATCH_MAX} commands")
        if not commands:
            return BatchReply({}, {}, {}, {})
        cmd = {key: command(method, params) for key, (method, params) in commands.items()}
        inner = _as_dict(self.call("batch", {"halt": 1 if halt else 0, "cmd": cmd}).result)
        errors = {key: self.command_error(value) for key, value in _as_dict(inner.get("result_error")).items()}
        return BatchReply(results=_as_dict(inner.get("result")), errors=errors,
                          totals={k: int(v) for k, v in _as_dict(inner.get("result_total")).items()},
                          nexts={k: int(v) for k, v in _as_dict(inner.get("result_next")).items()})

    def batch_all(self, commands: Mapping[str, tuple[str, Mapping[str, Any]]]) -> BatchReply:
        """Any number of commands, 50 per request; no cross-chunk ``$result`` references."""
        merged = BatchReply({}, {}, {}, {})
        items = list(commands.items())
        for start in range(0, len(items), BATCH_MAX):
            part = self.batch(dict(items[start:start + BATCH_MAX]))
            merged.results.update(part.results)
            merged.errors.update(part.errors)
            merged.totals.update(part.totals)
            merged.nexts.update(part.nexts)
        return merged

    def command_error(self, body: Any) -> SyncError:
        """A batch command's ``{error, error_description}`` as a typed error."""
        if not isinstance(body, dict):
            return self.errors.error(400, None, details=[str(body)])
        code = body.get("error") or None  # userfieldconfig errors come with an empty code (NOTES s10)
        status = 401 if code in ("expired_token", "invalid_token", "NO_AUTH_FOUND") else 400
        return self.errors.error(status, code, details=[body.get("error_description") or ""])

    # -- lists ------------------------------------------------------------------------------
    def list_all(self, method: str, params: Mapping[str, Any] | None = None, *, key: str | None = None,
                 ) -> Iterator[dict[str, Any]]:
        """Every row, page by page with ``start``/``next`` (NOTES s9)."""
        for reply in self.list_pages(method, params):
            yield from _rows(reply.result, key)

    def list_pages(self, method: str, params: Mapping[str, Any] | None = None) -> Iterator[Reply]:
        """Every page's reply, for a caller that needs its ``time`` block too (when the
        portal answered, on the portal's clock)."""
        start = 0
        while True:
            reply = self.call(method, {**(params or {}), "start": start})
            yield reply
            if reply.next is None:
                return
            start = reply.next

    @staticmethod
    def rows_of(reply: Reply, key: str | None = None) -> list[dict[str, Any]]:
        """A list page's rows (under ``key`` for the crm.item.* lists)."""
        return _rows(reply.result, key)

    def list_fast(self, method: str, params: Mapping[str, Any] | None = None, *, id_field: str = "ID",
                  key: str | None = None) -> Iterator[dict[str, Any]]:
        """Big sets: order by id, filter ``>id``, ``start=-1`` (no count), stop on a short page
        (NOTES s9, "fast paging")."""
        base = dict(params or {})
        flt = dict(base.pop("filter", None) or {})
        last = 0
        while True:
            reply = self.call(method, {**base, "filter": {**flt, f">{id_field}": last},
                                       "order": {id_field: "ASC"}, "start": -1})
            rows = _rows(reply.result, key)
            yield from rows
            if len(rows) < PAGE_SIZE:
                return
            last = int(rows[-1][id_field])


def _rows(result: Any, key: str | None) -> list[dict[str, Any]]:
    if key:
        result = (result or {}).get(key) if isinstance(result, dict) else None
    if isinstance(result, dict):
        return list(result.values())
    return list(result or [])


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
