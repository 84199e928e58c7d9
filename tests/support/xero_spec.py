"""Check HTTP exchanges with Xero (or the sandbox standing in for it) against the official spec.

``validate_xero_exchange(prepared_request, response)`` raises on a violation:

* accounting calls (``/api.xro/2.0/...``) against xero_accounting.yaml with openapi-core,
  for the statuses the spec documents (200, 204, 400); others (401/403/404/429) have no
  schema there and are skipped;
* ``/connections`` against xero-identity.yaml (``/Connections`` in the spec);
* token responses against the identity spec's ``AccessToken`` schema with jsonschema.

``validate_xero_webhook_body(body)`` checks a webhook payload against xero-webhooks.yaml.

Sandbox URLs (``http://127.0.0.1:5001/api.xero.com/api.xro/2.0/...``) are rewritten to the
real ones before checking. The spec directory comes from ``XERO_SPEC_DIR`` (default
``../shared/specs/xero`` from the repository root); ``spec_dir()`` returns None when absent.
Only a test that checks traffic against the specs may skip then: one that merely runs the
Xero sandbox (the tenant-isolation sweep) must run on a clone without them too.
"""
from __future__ import annotations

import copy
import functools
import json
import os
import re
from pathlib import Path
from typing import Any

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
_ACCOUNTING = re.compile(r"^(?:https?://[^/]+)?(?:/api\.xero\.com)?/api\.xro/2\.0(?P<rest>/.*)?$", re.I)
_CONNECTIONS = re.compile(r"^/connections(?P<rest>/.*)?$", re.I)
DOCUMENTED = {200, 204, 400}


def spec_dir() -> Path | None:
    path = Path(os.environ.get("XERO_SPEC_DIR") or (REPO_ROOT / ".." / "shared" / "specs" / "xero")).resolve()
    return path if (path / "xero_accounting.yaml").exists() else None


def _require_dir() -> Path:
    path = spec_dir()
    if path is None:
        raise FileNotFoundError("Xero spec directory not found; set XERO_SPEC_DIR")
    return path


@functools.lru_cache(maxsize=None)
def _openapi(name: str):
    from openapi_core import OpenAPI
    from openapi_core import Config
    # The official spec fails strict spec validation (string defaults for booleans), so the
    # spec validator is off; request/response validation still has teeth (NOTES, last section).
    return OpenAPI.from_file_path(str(_require_dir() / name), config=Config(spec_validator_cls=None))


@functools.lru_cache(maxsize=None)
def _yaml(name: str) -> dict:
    import yaml
    with open(_require_dir() / name, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _split(url: str) -> tuple[str, str]:
    """(path after the host-in-path prefix, query) of a real or sandbox URL."""
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    path = parts.path
    for host in ("api.xero.com", "identity.xero.com", "login.xero.com"):
        marker = f"/{host}"
        if path.lower().startswith(marker):
            return host + "|" + path[len(marker):], parts.query
        if parts.netloc.lower() == host:
            return host + "|" + path, parts.query
    return "|" + path, parts.query


def _real(prepared: requests.PreparedRequest, real_base: str, path: str, query: str) -> requests.PreparedRequest:
    clone = prepared.copy()
    clone.url = real_base + path + (f"?{query}" if query else "")
    return clone


def _canonical_path(path: str, paths: list[str]) -> str:
    """Xero answers paths in any case; map e.g. /invoices/{id} onto the spec's /Invoices/{id}."""
    segments = path.split("/")
    for template in paths:
        t_segments = template.split("/")
        if len(t_segments) != len(segments):
            continue
        if all(t.startswith("{") or t.lower() == s.lower() for t, s in zip(t_segments, segments)):
            return "/".join(s if t.startswith("{") else t for t, s in zip(t_segments, segments))
    return path


def validate_xero_exchange(prepared: requests.PreparedRequest, response: requests.Response,
                           check_request: bool = False) -> None:
    """Raise if the response (and, if asked, the request) breaks the official spec."""
    from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
    hosted, query = _split(prepared.url or "")
    host, path = hosted.split("|", 1)
    if host == "api.xero.com" and path.lower().startswith("/api.xro/2.0"):
        rest = path[len("/api.xro/2.0"):]
        spec_name, base = "xero_accounting.yaml", "https://api.xero.com/api.xro/2.0"
        rest = _canonical_path(rest, list(_yaml(spec_name)["paths"]))
    elif host == "api.xero.com" and _CONNECTIONS.match(path):
        # Checked with jsonschema rather than openapi-core: Xero writes these dates without a
        # zone ("2019-12-07T18:46:19.5165400", the spec's own example), which a strict
        # date-time check refuses although it is what the real service sends (NOTES 9).
        if response.status_code == 200 and prepared.method == "GET":
            _check_schema(response.json(), "xero-identity.yaml", "Connection", many=True)
        elif prepared.method == "DELETE" and response.status_code not in (204, 404):
            raise AssertionError(f"DELETE /Connections answered {response.status_code}, spec allows 204/404")
        return
    elif host == "identity.xero.com" and path.lower() == "/connect/token":
        if response.status_code == 200:
            _check_schema(response.json(), "xero-identity.yaml", "AccessToken")
        return
    else:
        return
    openapi = _openapi(spec_name)
    real = _real(prepared, base, rest, query)
    request = RequestsOpenAPIRequest(real)
    if check_request:
        openapi.validate_request(request)
    if response.status_code not in DOCUMENTED:
        return
    if response.content and "json" not in response.headers.get("Content-Type", ""):
        return  # XML (no Accept: application/json): the spec describes JSON only
    from openapi_core.templating.responses.exceptions import ResponseNotFound
    try:
        openapi.validate_response(request, RequestsOpenAPIResponse(response))
    except ResponseNotFound:
        # The operation does not document this status (e.g. a 400 on a GET): no schema to break.
        return


_ISO_NO_ZONE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")


def _check_schema(instance: Any, spec_name: str, schema_name: str, many: bool = False) -> None:
    import jsonschema
    spec = copy.deepcopy(_yaml(spec_name))
    # Keep "components" beside the schema so its "#/components/..." refs resolve in place.
    schema = {**spec["components"]["schemas"][schema_name], "components": spec["components"]}
    if many:
        schema = {"type": "array", "items": schema, "components": spec["components"]}
    checker = jsonschema.FormatChecker()
    # Xero's identity and webhook dates are ISO without a zone, meant as UTC (NOTES 9).
    checker.checks("date-time")(lambda value: not isinstance(value, str) or bool(_ISO_NO_ZONE.match(value)))
    validator = jsonschema.Draft202012Validator(schema, format_checker=checker)
    validator.validate(instance)


def validate_xero_webhook_body(body: bytes | str | dict) -> None:
    """Raise if a webhook payload breaks xero-webhooks.yaml's WebhookEvent schema."""
    instance = json.loads(body) if isinstance(body, (bytes, str)) else body
    _check_schema(instance, "xero-webhooks.yaml", "WebhookEvent")


def install_validator(session: requests.Session, check_request: bool = False) -> requests.Session:
    """Validate every exchange of ``session`` as it happens (a requests response hook)."""
    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        validate_xero_exchange(response.request, response, check_request=check_request)
        return response
    session.hooks.setdefault("response", []).append(hook)
    return session
