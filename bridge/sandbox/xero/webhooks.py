"""Xero webhooks: thin signed events posted to the app, and the Intent to Receive check.

Events (NOTES section 6) are queued when an invoice or contact changes and posted by a
background thread, several per POST, signed ``x-xero-signature`` = base64(HMAC-SHA256(key,
raw body)). A failed delivery is retried a few times with a short back-off (real Xero keeps
trying for 24 h; the sandbox compresses that). Every attempt is logged.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import string
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import requests

from .wire import plain_iso

if TYPE_CHECKING:
    from . import System

MAX_ATTEMPTS = 4
BACKOFF = (0.2, 0.5, 1.0)   # real seconds between attempts
TIMEOUT = 5.0               # the app must answer within 5 s (NOTES section 6)


def sign(body: bytes, key: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def _entropy() -> str:
    return "".join(random.choices(string.ascii_uppercase, k=20))


@dataclass
class Delivery:
    id: str
    url: str
    body: str
    signature: str
    events: int
    attempts: list[dict] = field(default_factory=list)
    delivered: bool = False
    next_try: float = 0.0

    def as_dict(self) -> dict:
        return {"id": self.id, "url": self.url, "body": self.body, "signature": self.signature,
                "events": self.events, "attempts": self.attempts, "delivered": self.delivered,
                "status": self.attempts[-1]["status"] if self.attempts else None}


class Webhooks:
    def __init__(self, system: "System") -> None:
        self.system = system
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._inflight = 0  # flushes under way (the background thread's included)
        self.reset()

    def reset(self) -> None:
        with self._cond:
            self.pending: list[tuple[str, dict]] = []   # (url, event)
            self.retries: list[Delivery] = []
            self.log: list[Delivery] = []
            self.sequence = 0

    # --- producing --------------------------------------------------------------------
    def record(self, tenant_id: str, category: str, resource_id: str, event_type: str,
               at: datetime | None = None) -> None:
        system = self.system
        org = system.orgs.get(tenant_id)
        if org is None:
            return
        # Events arrive for every org connected to the app, and only those (NOTES section 6).
        if not any(c.tenant_id == tenant_id and c.client_id == system.settings.client_id
                   for c in system.identity.connections.values()):
            return
        plural = {"INVOICE": "Invoices", "CONTACT": "Contacts", "CREDITNOTE": "CreditNotes"}[category]
        event = {
            "resourceUrl": f"https://api.xero.com/api.xro/2.0/{plural}/{resource_id}",
            "resourceId": resource_id, "eventDateUtc": plain_iso(at or system.host.clock.now()),
            "eventType": event_type, "eventCategory": category, "tenantId": tenant_id,
            "tenantType": "ORGANISATION",
        }
        url = org.webhook_url or system.host.app_url + "/hooks/xero"
        with self._cond:
            self.pending.append((url, event))
            self._cond.notify()
        self._ensure_thread()

    # --- delivering -------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="xero-webhooks", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait(timeout=0.1)
                enabled = self.system.settings.webhooks_enabled
            if enabled:
                time.sleep(0.05)  # let a burst of changes travel in one POST
                self.flush(only_due=True)

    def flush(self, only_due: bool = False) -> list[dict]:
        """Send what is queued (and retries that are due); returns the deliveries made."""
        with self._cond:
            batch, self.pending = self.pending, []
            now = time.monotonic()
            due = [d for d in self.retries if not only_due or d.next_try <= now]
            self.retries = [d for d in self.retries if d not in due]
            self._inflight += 1
        try:
            grouped: dict[str, list[dict]] = {}
            for url, event in batch:
                grouped.setdefault(url, []).append(event)
            made = [self._new_delivery(url, events) for url, events in grouped.items()]
            for delivery in made + due:
                self._attempt(delivery)
        finally:
            with self._cond:
                self._inflight -= 1
                self._cond.notify_all()
        if not only_due:
            # An explicit flush is a barrier: a POST the background thread started before it
            # has been answered (so its events are in the app's inbox) when this returns.
            with self._cond:
                self._cond.wait_for(lambda: self._inflight == 0, timeout=30)
        return [d.as_dict() for d in made + due]

    def _new_delivery(self, url: str, events: list[dict]) -> Delivery:
        with self._cond:
            first = self.sequence + 1
            self.sequence += len(events)
            body = json.dumps({"events": events, "firstEventSequence": first,
                               "lastEventSequence": self.sequence, "entropy": _entropy()})
            delivery = Delivery(id=str(uuid.uuid4()), url=url, body=body,
                                signature=sign(body.encode(), self.system.settings.webhook_key), events=len(events))
            self.log.append(delivery)
        return delivery

    def _attempt(self, delivery: Delivery) -> None:
        status, error = _post(delivery.url, delivery.body.encode(), delivery.signature)
        with self._cond:
            delivery.attempts.append({"status": status, "error": error, "at": self.system.host.clock.now().isoformat()})
            delivery.delivered = status == 200
            if not delivery.delivered and len(delivery.attempts) < MAX_ATTEMPTS:
                delivery.next_try = time.monotonic() + BACKOFF[len(delivery.attempts) - 1]
                self.retries.append(delivery)

    # --- Intent to Receive ------------------------------------------------------------
    def intent_to_receive(self, url: str) -> dict:
        """Xero's check (NOTES section 6): empty-event payloads, some signed wrongly.

        The app passes when it answers 200 to good signatures and 401 to bad ones, each with
        an empty body and no cookies.
        """
        checks = []
        for good in (True, False, True, False):
            body = json.dumps({"events": [], "firstEventSequence": 0, "lastEventSequence": 0,
                               "entropy": _entropy()}).encode()
            signature = sign(body, self.system.settings.webhook_key) if good else sign(body, "not-" + _entropy())
            status, error, resp_body, cookies = _post(url, body, signature, detail=True)
            expected = 200 if good else 401
            problems = []
            if status != expected:
                problems.append(f"expected {expected}, got {status or error}")
            if resp_body:
                problems.append("response body must be empty")
            if cookies:
                problems.append("response must not set cookies")
            checks.append({"signature": "valid" if good else "invalid", "status": status, "expected": expected,
                           "ok": not problems, "problems": problems})
        return {"url": url, "ok": all(c["ok"] for c in checks), "checks": checks}


def _post(url: str, body: bytes, signature: str, detail: bool = False) -> Any:
    try:
        resp = requests.post(url, data=body, timeout=TIMEOUT, allow_redirects=False,
                             headers={"Content-Type": "application/json", "x-xero-signature": signature,
                                      "User-Agent": "Xero Webhook Service"})
        result = (resp.status_code, None)
        if detail:
            return (*result, resp.content, bool(resp.headers.get("Set-Cookie")))
        return result
    except requests.RequestException as exc:
        if detail:
            return None, type(exc).__name__, b"", False
        return None, type(exc).__name__
