"""Webhook deliveries: thin signed events, retried with backoff in sandbox time.

A delivery is created when an event happens and attempted from a background thread, so
the action that caused it (a checkout, a PATCH) never waits on the app. A non-2xx answer
or a timeout schedules the next attempt ``BACKOFF`` seconds later on the sandbox clock,
so tests move the clock instead of sleeping. Delivery id, event id and body stay the
same on every attempt and on a manual resend; timestamp and signature are per attempt.
"""
from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import requests

from .signing import webhook_signature
from .store import Tenant, iso

# Seconds after attempt 1, 2, ... before the next one: 1 min, 5 min, 30 min, 2 h, 6 h,
# 24 h; 7 attempts over ~32.6 hours (NOTES section 3: backoff for at least 24 h).
BACKOFF = (60, 300, 1800, 7200, 21600, 86400)
TIMEOUT = 5.0  # NOTES section 3: the app answers 2xx within 5 s
TOPICS = ("order.placed", "order.updated")


@dataclass
class Delivery:
    id: str
    event_id: str
    tenant_id: str
    site_id: str
    topic: str
    url: str
    secret: str
    body: bytes
    created_at: float
    status: str = "pending"  # pending | retrying | succeeded | failed | dropped | disabled
    next_attempt_at: float | None = None
    series: int = 0  # attempts since creation or the last resend; drives the backoff
    in_flight: bool = False
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"delivery_id": self.id, "event_id": self.event_id, "tenant_id": self.tenant_id,
                "site_id": self.site_id, "topic": self.topic, "url": self.url,
                "status": self.status, "created_at": iso(self.created_at),
                "next_attempt_at": iso(self.next_attempt_at), "attempts": list(self.attempts),
                "body": json.loads(self.body)}


class Dispatcher:
    def __init__(self, lock: threading.RLock, clock_time: Callable[[], float],
                 app_url: Callable[[], str]) -> None:
        self.lock = lock
        self.time = clock_time
        self.app_url = app_url
        self.deliveries: list[Delivery] = []
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    # -- creating -------------------------------------------------------------------
    def emit(self, tenant: Tenant, site_id: str, topic: str, order_id: str,
             data: dict[str, Any] | None = None) -> Delivery:
        """Record an event and schedule its delivery (call with the lock held). ``data``: what
        the topic carries besides the order id (``order.refunded``: the refund)."""
        now = self.time()
        event = {"event_id": str(uuid.uuid4()), "topic": topic, "occurred_at": iso(now),
                 "tenant_id": tenant.id, "site_id": site_id, "data": {"order_id": order_id, **(data or {})}}
        delivery = Delivery(
            id=str(uuid.uuid4()), event_id=event["event_id"], tenant_id=tenant.id, site_id=site_id,
            topic=topic, url=tenant.webhook_url or f"{self.app_url()}/hooks/dg1/{tenant.id}",
            secret=tenant.webhook_secret, created_at=now,
            body=json.dumps(event, separators=(",", ":")).encode())
        self.deliveries.append(delivery)
        if not tenant.webhooks_enabled:
            delivery.status = "disabled"  # kept in the log; "resend" sends it
        elif tenant.drop_next > 0:
            tenant.drop_next -= 1
            delivery.status = "dropped"  # lost on the way: never arrives, never retried
        else:
            self._schedule(delivery, now)
        return delivery

    def resend(self, delivery: Delivery) -> None:
        """The admin panel's "resend": a new series of attempts, same ids and body."""
        with self.lock:
            delivery.series = 0
            self._schedule(delivery, self.time())

    def _schedule(self, delivery: Delivery, when: float) -> None:
        delivery.status = "pending" if delivery.series == 0 else "retrying"
        delivery.next_attempt_at = when
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="dg1-webhooks", daemon=True)
            self._thread.start()
        self._wake.set()

    def reset(self) -> None:
        with self.lock:
            self.deliveries = []

    # -- sending --------------------------------------------------------------------
    def run_due(self) -> int:
        """Attempt every delivery that is due now; returns how many were attempted."""
        with self.lock:
            now = self.time()
            due = [d for d in self.deliveries if d.status in ("pending", "retrying")
                   and not d.in_flight and d.next_attempt_at is not None and d.next_attempt_at <= now]
            for delivery in due:
                delivery.in_flight = True
        for delivery in due:
            self._attempt(delivery)
        return len(due)

    def _attempt(self, delivery: Delivery) -> None:
        timestamp = int(self.time())
        headers = {
            "Content-Type": "application/json", "User-Agent": "DG1-Webhooks/1.0",
            "X-DG1-Topic": delivery.topic, "X-DG1-Delivery-Id": delivery.id,
            "X-DG1-Tenant": delivery.tenant_id, "X-DG1-Site": delivery.site_id,
            "X-DG1-Timestamp": str(timestamp),
            "X-DG1-Signature": webhook_signature(delivery.secret, timestamp, delivery.body),
        }
        record: dict[str, Any] = {"at": iso(timestamp), "timestamp": timestamp,
                                  "status_code": None, "error": None}
        try:
            response = requests.post(delivery.url, data=delivery.body, headers=headers,
                                     timeout=TIMEOUT, allow_redirects=False)
            record["status_code"] = response.status_code
            ok = 200 <= response.status_code < 300
        except requests.RequestException as exc:
            record["error"] = type(exc).__name__
            ok = False
        with self.lock:
            delivery.in_flight = False
            delivery.attempts.append(record)
            delivery.series += 1
            if ok:
                delivery.status, delivery.next_attempt_at = "succeeded", None
            elif delivery.series <= len(BACKOFF):
                delivery.status = "retrying"
                delivery.next_attempt_at = self.time() + BACKOFF[delivery.series - 1]
            else:
                delivery.status, delivery.next_attempt_at = "failed", None

    def _loop(self) -> None:
        """Runs while anything is pending; polls because tests move the clock by jumps."""
        while True:
            self.run_due()
            with self.lock:
                if not any(d.status in ("pending", "retrying") for d in self.deliveries):
                    self._thread = None
                    return
            self._wake.wait(0.1)
            self._wake.clear()
