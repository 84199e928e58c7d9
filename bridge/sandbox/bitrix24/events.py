"""Event delivery as a portal's queue server does it (NOTES s4).

Form-encoded POST with PHP bracket keys, one call per change, from a background thread,
never retried when the handler fails. Nothing is delivered before installFinish (NOTES s2).
A test can drop the next N events (to exercise reconcile) or hold delivery until asked.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from typing import Any

import requests

from .params import flatten


@dataclass
class Delivery:
    event: str
    handler: str
    pairs: list[tuple[str, str]]
    member_id: str
    status: str = "queued"          # queued | delivered | failed | dropped | held
    http_status: int | None = None
    error: str | None = None

    def public(self) -> dict[str, Any]:
        return {"event": self.event, "handler": self.handler, "member_id": self.member_id, "status": self.status,
                "http_status": self.http_status, "error": self.error, "form": self.pairs}


@dataclass
class Dispatcher:
    drop_next: int = 0
    auto_deliver: bool = True
    log: list[Delivery] = field(default_factory=list)
    held: list[Delivery] = field(default_factory=list)

    def __post_init__(self) -> None:
        # One queue and delivery thread per portal, in the order of its changes: a portal's
        # events never wait behind another portal's backlog (the cloud's queue servers serve
        # every portal at once; one thread for all made a bench's 49 quiet portals wait
        # behind one portal's thousands of import events).
        self._queues: dict[str, queue.Queue[Delivery]] = {}
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0

    def _put(self, delivery: Delivery) -> None:
        with self._lock:
            portal_queue = self._queues.get(delivery.member_id)
            if portal_queue is None:
                portal_queue = self._queues[delivery.member_id] = queue.Queue()
                threading.Thread(target=self._run, args=(portal_queue,), name=f"bitrix24-events-{delivery.member_id}",
                                 daemon=True).start()
        portal_queue.put(delivery)

    def submit(self, event: str, handler: str, payload: dict[str, Any], member_id: str) -> Delivery:
        delivery = Delivery(event, handler, flatten(payload), member_id)
        with self._lock:
            self.log.append(delivery)
            if self.drop_next > 0:
                self.drop_next -= 1
                delivery.status = "dropped"
                return delivery
            if not self.auto_deliver:
                delivery.status = "held"
                self.held.append(delivery)
                return delivery
            self._pending += 1
        self._put(delivery)
        return delivery

    def release_held(self) -> int:
        with self._lock:
            held, self.held = self.held, []
            self._pending += len(held)
        for delivery in held:
            delivery.status = "queued"
            self._put(delivery)
        return len(held)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def reset(self) -> None:
        with self._lock:
            self.drop_next, self.auto_deliver = 0, True
            self.log, self.held = [], []

    def _run(self, portal_queue: queue.Queue[Delivery]) -> None:
        while True:
            delivery = portal_queue.get()
            try:
                response = requests.post(delivery.handler, data=delivery.pairs, timeout=10,
                                         headers={"User-Agent": "Bitrix24 Webhook Engine"}, allow_redirects=False)
                delivery.http_status = response.status_code
                # NOTES s4: no retries; an error reply just loses the event.
                delivery.status = "delivered" if response.status_code < 300 else "failed"
            except requests.RequestException as exc:
                delivery.status, delivery.error = "failed", type(exc).__name__
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()
