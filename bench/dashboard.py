"""Server time of the Xero transactions dashboard with 5,000 transactions in the local copy.

Measures what the server does per request (Flask test client, no network): the launch page
as Bitrix24 frames it (its trust check answered from the remembered viewer, as on every
launch after the first within the token's life) and the htmx results fragment with filters
and paging. Prints p50/p95/max in milliseconds. Target: p95 under 300 ms.

    python bench/dashboard.py [--rows 5000] [--repeat 100]
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("BRIDGE_ENV", "test")


def seed(rows: int) -> dict[str, str]:
    from bridge.connectors.bitrix24.models import Bitrix24Viewer
    from bridge.connectors.bitrix24.store import hash_token
    from bridge.dashboard.models import LedgerTransaction
    from bridge.dashboard.refresh import STREAMS
    from bridge.extensions import db
    from bridge.models import Cursor, Installation, LedgerConnection, utcnow

    installation = Installation(platform="bitrix24", account_id="member-bench", domain="bench.bitrix24.com",
                                app_token_hash=hash_token("app-token"),
                                endpoints={"client_endpoint": "https://bench.bitrix24.com/rest/"})
    db.session.add(installation)
    db.session.flush()
    connection = LedgerConnection(installation_id=installation.id, ledger="xero", organisation_id="org-bench",
                                  organisation_name="Bench Ltd")
    db.session.add(connection)
    db.session.flush()
    db.session.add(Bitrix24Viewer(token_hash=hash_token("auth-id"), installation_id=installation.id, user_id=1,
                                  is_admin=True, name="Bench", expires_at=utcnow() + timedelta(hours=1)))
    for name in STREAMS:
        db.session.add(Cursor(scope=f"ledger:{connection.id}", name=name,
                              value={"since": utcnow().isoformat(), "last_run": utcnow().isoformat()}))
    rng = random.Random(1)
    contacts = [f"Customer {i}" for i in range(40)]
    today = date.today()
    db.session.bulk_insert_mappings(LedgerTransaction, [{
        "connection_id": connection.id, "installation_id": installation.id,
        "kind": "payment" if i % 5 == 0 else "bank_transaction", "ledger_id": f"{i:08d}",
        "type": rng.choice(("RECEIVE", "SPEND")), "direction": rng.choice(("in", "out")),
        "date": today - timedelta(days=rng.randint(0, 365)), "status": "AUTHORISED",
        "contact_name": rng.choice(contacts), "account_code": rng.choice(("090", "091")), "account_name": "Bank",
        "reference": f"Ref {i}", "currency": "NZD", "amount_e4": rng.randint(500, 5_000_000) * 100,
        "fetched_at": utcnow()} for i in range(rows)])
    db.session.commit()
    return {"member_id": "member-bench", "APPLICATION_TOKEN": "app-token", "AUTH_ID": "auth-id",
            "PLACEMENT": "CRM_ANALYTICS_MENU", "PLACEMENT_OPTIONS": "{}"}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(round(p / 100 * (len(ordered) - 1))), len(ordered) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=100)
    args = parser.parse_args()

    from bridge import create_app
    from bridge.extensions import db

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"BRIDGE_ENV": "test", "INSTANCE_PATH": tmp, "DATABASE_URL": f"sqlite:///{tmp}/bench.db"})
        with app.app_context():
            db.create_all()
            launch = seed(args.rows)
        client = app.test_client()
        first = client.post("/bitrix24/dashboard?DOMAIN=bench.bitrix24.com&LANG=en", data=launch)
        assert first.status_code == 200 and f"{args.rows:,} transactions" in first.text, first.text[:500]
        token = first.text.split('name="token" value="', 1)[1].split('"', 1)[0]
        cases = {
            "launch page (all 5,000)": lambda: client.post("/bitrix24/dashboard?DOMAIN=bench.bitrix24.com&LANG=en",
                                                            data=launch),
            "results, page 50": lambda: client.post("/bitrix24/dashboard/results", headers={"HX-Request": "true"},
                                                    data={"token": token, "page": "50"}),
            "results, contact + 90 days": lambda: client.post(
                "/bitrix24/dashboard/results", headers={"HX-Request": "true"},
                data={"token": token, "contact": "customer 1", "date_from": (date.today() - timedelta(days=90)).isoformat()}),
        }
        print(f"dashboard, {args.rows:,} transactions, {args.repeat} requests each; "
              f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, SQLite")
        for name, request in cases.items():
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                response = request()
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
            print(f"  {name:30s} p50 {statistics.median(times):6.1f} ms  p95 {percentile(times, 95):6.1f} ms  "
                  f"max {max(times):6.1f} ms")
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main()
