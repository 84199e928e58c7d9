"""Contact import: N Xero contacts (default 10,000) into Bitrix24, through the real flow, against
the sandboxes over real HTTP, under the real default limits (Xero 60 calls a minute per
organisation; Bitrix24 a leaky bucket of 50 draining 2 requests a second).

Half the contacts are companies with a contact person (each becomes a Bitrix24 company and
two contacts linked to it: its primary person and the contact person), half are people (a
Bitrix24 contact each), every one a customer (the import takes customers only); the
sandbox's seed adds 5 more without an invoice, which the import leaves out. The import is started as the settings page's button starts it and runs to
its end; then it is run once more, which must create nothing.

Measured:

- Xero calls and Bitrix24 requests, counted by the sandboxes;
- the lower bound for them: Xero's contacts read 1,000 a call; Bitrix24 writes 50 records a
  request (``batch``), so ``ceil(records / 50)`` for the companies and contacts, and
  ``ceil(people / 50)`` for the companies' people (created once their company's id is known);
- wall time against the time the limits require for the lower bound's calls.

    .venv/bin/python bench/contact_import.py [--contacts 10000]

Prints one JSON line; docs/PERFORMANCE.md has the figures.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bulk_sync import ACME, portal_requests, setup, xero_day_count  # noqa: E402

XERO_PAGE = 1000  # contacts per GET (NOTES 2)
BITRIX24_BATCH = 50  # commands per batch request (NOTES s9)


def lower_bound_calls(contacts: int, top_level: int, people: int) -> dict[str, int]:
    """Xero: one read per 1,000 contacts. Bitrix24: one request per 50 companies or contacts
    made from Xero contacts, and one per 50 people of those companies."""
    return {"xero": math.ceil(contacts / XERO_PAGE),
            "bitrix24": math.ceil(top_level / BITRIX24_BATCH) + math.ceil(people / BITRIX24_BATCH)}


def lower_bound_seconds(xero_calls: int, bitrix_calls: int) -> float:
    """Seconds the limits require: Xero 60 in any 60 s; Bitrix24 50 at once, then 2 a second."""
    return max(max(0, math.ceil(xero_calls / 60) - 1) * 60.0, max(0.0, (bitrix_calls - 50) / 2.0))


def run_import(live, installation_id: int) -> dict:
    from sqlalchemy import select

    from bridge.extensions import db
    from bridge.engine import WorkRequest, request_work
    from bridge.models import SyncRecord

    with live.app.app_context():
        request_work(WorkRequest(installation_id, "party_import", "import:parties"))
        db.session.commit()
    while live.run_jobs():
        pass
    with live.app.app_context():
        record = db.session.scalars(select(SyncRecord).where(SyncRecord.flow == "party_import")
                                    .order_by(SyncRecord.id.desc())).first()
        outcome = {"state": record.state, **(record.received or {}), "error": record.error_message}
        db.session.remove()
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=int(os.environ.get("BENCH_CONTACTS", 10_000)))
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    with tempfile.TemporaryDirectory() as tmp:
        from sqlalchemy import select

        from bridge.extensions import db
        from bridge.models import Installation
        from tests.support.live import start_live

        # Every API call answered after a simulated network round trip (docs/sandbox.md).
        os.environ["SANDBOX_LATENCY_MS"] = os.environ.get("BENCH_LATENCY_MS", "50")
        live = start_live(Path(tmp), f"sqlite:///{tmp}/bridge.db", sandbox_process=True)
        try:
            setup(live)
            while live.run_jobs():  # what installing and connecting queued
                pass
            live.control("xero/settings", json={"webhooks_enabled": False})  # the import alone
            live.control(f"xero/orgs/{live.tenant}/seed", json={"contacts": args.contacts, "customers": True})
            seeded = args.contacts  # customers; the seed's 5 counterparties have no invoice: left out
            with live.app.app_context():
                installation_id = db.session.scalar(select(Installation.id).where(Installation.platform == "bitrix24"))

            xero_before, portal_before = xero_day_count(live), portal_requests(live)
            started = time.monotonic()
            first = run_import(live, installation_id)
            wall = time.monotonic() - started
            used = {"xero": xero_day_count(live) - xero_before, "bitrix24": portal_requests(live) - portal_before}

            xero_before, portal_before = xero_day_count(live), portal_requests(live)
            second = run_import(live, installation_id)
            again = {"xero": xero_day_count(live) - xero_before, "bitrix24": portal_requests(live) - portal_before}

            state = live.control(f"bitrix24/portals/{ACME}/state", method="GET")
            companies = [c for c in state["companies"] if c.get("ORIGINATOR_ID") == "XERO"]
            contacts = [c for c in state["contacts"] if c.get("ORIGINATOR_ID") == "XERO"]
        finally:
            live.stop()

    people = [c for c in contacts if c.get("COMPANY_ID")]
    top_level = len(companies) + len(contacts) - len(people)
    bound = lower_bound_calls(seeded, top_level, len(people))
    bound_seconds = lower_bound_seconds(bound["xero"], bound["bitrix24"])
    result = {
        "xero_contacts": seeded, "bitrix24_companies": len(companies), "bitrix24_contacts": len(contacts),
        "first_run": first, "second_run": second,
        "xero_calls": used["xero"], "xero_calls_lower_bound": bound["xero"],
        "bitrix24_calls": used["bitrix24"], "bitrix24_calls_lower_bound": bound["bitrix24"],
        "calls_over_bound": round((used["xero"] + used["bitrix24"]) / (bound["xero"] + bound["bitrix24"]), 2),
        "second_run_calls": again,
        "latency_ms": float(os.environ["SANDBOX_LATENCY_MS"]), "wall_seconds": round(wall, 1), "lower_bound_seconds": round(bound_seconds, 1),
        "wall_over_bound": round(wall / bound_seconds, 2) if bound_seconds else None,
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, SQLite",
    }
    print(json.dumps(result))
    ok = (first["state"] == second["state"] == "succeeded" and top_level == seeded == first.get("created")
          and second.get("created") == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
