"""One and two Huey consumer processes on the same work: the throughput ratio, many installations.

A one-installation bulk sync is bound by that portal's and organisation's limits (Bitrix24's
2 requests a second), so a second consumer cannot make it faster. With many installations no
limit is near and the work is CPU: what a second consumer process (its own interpreter, so
its own GIL) is for. Deployed as in production (bench/deployment.py): the sandboxes in their
own process, gunicorn taking the callbacks, consumers of 4 threads; PostgreSQL + Redis when
``DATABASE_URL`` and ``REDIS_URL`` are set (the database is emptied, use one of the bench's
own), else SQLite + Huey on SQLite. Every API call answered after a 50 ms round trip.

I installations (default 10), each its own portal and Xero organisation, are installed and
connected first. Then, per consumer count (default 1, then 2): with no consumer running, each
portal gets N invoices (default 30; one customer each, known to Xero by then), their events
are stored; the consumers start, and the clock runs until every invoice is in Xero, linked,
and no work is left. Xero's webhooks are held (the export alone, as ``bench/bulk_sync.py``).
Measured per count: the seconds, invoices a second, the consumers' CPU seconds; and the
ratio of the rates.

    DATABASE_URL=postgresql+psycopg://bridge:bridge@127.0.0.1:5432/bridge_bench \\
    REDIS_URL=redis://127.0.0.1:6379/7 .venv/bin/python bench/consumers.py [--installations 10] [--invoices 30]

Prints one JSON line; docs/PERFORMANCE.md has the figures.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bulk_sync import total_cpu  # noqa: E402
from deployment import LATENCY_MS, deploy  # noqa: E402
from fairness import add_installation, company, create_invoice, progress  # noqa: E402
from procstat import process_tree  # noqa: E402


def linked_invoices(app) -> int:
    from sqlalchemy import func, select

    from bridge.extensions import db
    from bridge.models import Link

    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Link).where(
            Link.kind == "invoice", Link.ledger_id.is_not(None)))
        db.session.remove()
    return count


def drain(deployment, installations: list[dict], invoices: int, consumers: int, phase: int) -> dict:
    """N invoices per installation with no consumer running, then ``consumers`` drain them."""
    live = deployment.live
    before = linked_invoices(deployment.app)
    for n in range(invoices):
        for other in installations:
            create_invoice(live, other["domain"], other["company"], f"C{phase}-{n:04d}")
    live.control("bitrix24/events/wait", json={"timeout": 300})
    started = deployment.start_consumers(consumers)
    deployment.idle(timeout=3600)
    seconds = time.monotonic() - started
    pids = [pid for process in deployment.consumers for pid in process_tree(process.pid)]
    cpu = total_cpu(pids)
    deployment.stop_consumers()
    linked = linked_invoices(deployment.app) - before
    total = invoices * len(installations)
    return {"consumers": consumers, "invoices": total, "linked": linked, "seconds": round(seconds, 1),
            "invoices_per_second": round(total / seconds, 2), "consumer_cpu_seconds": round(cpu, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--installations", type=int, default=10)
    parser.add_argument("--invoices", type=int, default=30, help="per installation and consumer count")
    parser.add_argument("--consumers", default="1,2", help="consumer process counts, one phase each")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    load_before = os.getloadavg()[0]
    counts = [int(c) for c in args.consumers.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        deployment = deploy(Path(tmp))
        live = deployment.live
        try:
            live.control("bitrix24/settings", json={"allow_insecure_handlers": True})
            deployment.start_consumers(1)
            installations = [add_installation(live, f"c{n:02d}.bitrix24.com") for n in range(args.installations)]
            for other in installations:
                other["company"] = company(live, other["domain"], 0)
            # Each customer known to Xero before the clock runs: what is measured is the steady state.
            for other in installations:
                create_invoice(live, other["domain"], other["company"], "WARM-UP")
            live.control("bitrix24/events/wait", json={"timeout": 120})
            deployment.idle(timeout=600, settle=1.0)
            deployment.stop_consumers()
            live.control("xero/settings", json={"webhooks_enabled": False})  # the export alone
            progress(f"{args.installations} installations set up on {deployment.backend}")
            phases = []
            for phase, consumers in enumerate(counts, 1):
                phases.append(drain(deployment, installations, args.invoices, consumers, phase))
                progress(f"{consumers} consumer(s): {phases[-1]['seconds']} s")
        finally:
            deployment.stop()
    rates = {p["consumers"]: p["invoices_per_second"] for p in phases}
    result = {"installations": args.installations, "invoices_per_installation": args.invoices,
              "latency_ms": LATENCY_MS, "phases": phases,
              "ratio": round(rates[max(rates)] / rates[min(rates)], 2) if len(rates) > 1 else None,
              "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
                         f"{deployment.backend}", "load_average_1m_before": round(load_before, 2)}
    print(json.dumps(result))
    return 0 if all(p["linked"] == p["invoices"] for p in phases) else 1


if __name__ == "__main__":
    sys.exit(main())
