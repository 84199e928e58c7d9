"""Helpers and fixtures for the DG1 sandbox tests (test modules import the fixtures)."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

import pytest
import requests
from werkzeug.wrappers import Request, Response

from tests.support.servers import serve_in_thread

API = "api.dg1.ch/api/v1"


class Api:
    """A tenant's API client that, like a well-behaved client, honours 429 Retry-After.

    Waiting is done by moving the sandbox clock, so no test sleeps.
    """

    def __init__(self, sandbox, key: str) -> None:
        self.sandbox, self.base = sandbox, f"{sandbox.url}/{API}"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def raw(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.base + path, timeout=10, **kwargs)

    def __call__(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        for _ in range(5):
            response = self.raw(method, path, **kwargs)
            if response.status_code != 429:
                return response
            self.sandbox.host.clock.advance(float(response.headers["Retry-After"]))
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self(method, path, **kwargs)
        assert response.status_code == 200, response.text
        return json.loads(response.text, parse_float=Decimal)


def control(sandbox, method: str, path: str, body: Any = None, expect: int | None = None) -> Any:
    response = requests.request(method, f"{sandbox.url}/_sandbox/dg1{path}", json=body, timeout=10)
    if expect is not None:
        assert response.status_code == expect, response.text
    return response.json()


def make_tenant(sandbox, tenant_id: str, sites: list[dict] | None = None) -> dict:
    return control(sandbox, "POST", "/tenants", {"id": tenant_id, "sites": sites or [
        {"id": "main", "currency": "CHF", "prices_include_tax": True}]}, expect=201)


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    """Wait for a background effect (a delivery); fails with ``what`` if it never happens."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """The app's webhook endpoint: records raw requests, answers from a script of statuses."""

    url: str = ""
    hits: list[Hit] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # consumed first; then 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ, start_response):
        request = Request(environ)
        with self.lock:
            self.hits.append(Hit(request.path, dict(request.headers), request.get_data()))
            status = self.statuses.pop(0) if self.statuses else 200
        return Response("ok", status=status)(environ, start_response)

    def wait(self, count: int) -> list[Hit]:
        wait_for(lambda: len(self.hits) >= count, f"{count} webhook deliveries")
        return self.hits


def start_receiver(sandbox) -> tuple[Receiver, Any]:
    receiver = Receiver()
    running = serve_in_thread(receiver)
    receiver.url = running.url
    sandbox.host.app_url = running.url
    return receiver, running


@pytest.fixture
def receiver(sandbox):
    """A webhook receiver standing in for the app; pending retries are dropped afterwards."""
    receiver, running = start_receiver(sandbox)
    yield receiver
    sandbox.host.systems["dg1"].reset()
    running.stop()


@pytest.fixture
def shop(sandbox):
    """Tenant ``t1``: site ``gross`` (CHF, incl. tax) and ``net`` (CHF, excl. tax)."""
    make_tenant(sandbox, "t1", [
        {"id": "gross", "currency": "CHF", "prices_include_tax": True},
        {"id": "net", "currency": "CHF", "prices_include_tax": False, "default_language": "fr"}])
    yield Api(sandbox, "dg1-demo-key-t1")
    sandbox.host.systems["dg1"].reset()  # ends the delivery thread of unsent events
