"""A simulated network round trip for every API call the sandbox answers.

On loopback a call to the sandbox takes a fraction of a millisecond, while a call to Xero,
Bitrix24, Bexio or DG1 over the internet takes tens of milliseconds before the service does
any work. Benchmarks that compare ways of syncing (one call per invoice against one per
batch) or measure the time from a save to the ledger need that cost, or they flatter
whatever makes many small calls. One setting for all four systems, off by default:

* ``SANDBOX_LATENCY_MS`` in the sandbox's environment, or ``serve --latency-ms``;
* ``POST /_sandbox/latency {"ms": 50}`` on a running sandbox, ``GET /_sandbox/latency``.

Each API request (every path outside ``/_sandbox``) waits that long before it is handled,
outside every limit: the wait holds no concurrency slot and spends no rate budget, as a
request still on the wire would not. Control endpoints are never delayed.
"""
from __future__ import annotations

import os
import time

from flask import Blueprint, Flask, jsonify, request


def pause(seconds: float) -> None:
    """The wait itself (its own name, so a test can count the waits without replacing
    ``time.sleep`` for every other thread of the process)."""
    time.sleep(seconds)


class Latency:
    """The round trip in force, in seconds (0: off)."""

    def __init__(self, milliseconds: float | None = None) -> None:
        self.seconds = float(milliseconds if milliseconds is not None
                             else os.environ.get("SANDBOX_LATENCY_MS") or 0) / 1000

    def wait(self) -> None:
        """Before-request hook: API calls wait out the round trip."""
        if self.seconds > 0 and not request.path.startswith("/_sandbox"):
            pause(self.seconds)

    def blueprint(self) -> Blueprint:
        bp = Blueprint("sandbox_latency", __name__, url_prefix="/_sandbox")

        @bp.get("/latency")
        def read():
            return jsonify(ms=round(self.seconds * 1000, 3))

        @bp.post("/latency")
        def change():
            self.seconds = max(0.0, float((request.get_json(silent=True) or {}).get("ms", 0))) / 1000
            return jsonify(ms=round(self.seconds * 1000, 3))

        return bp


def install(app: Flask, latency: Latency) -> None:
    app.before_request(latency.wait)
    app.register_blueprint(latency.blueprint())
