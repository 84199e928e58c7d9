"""Where a Bitrix24 event callback's CPU goes on the embedded default (SQLite + Huey on SQLite):
cProfile over N callbacks (default 3,000) through the WSGI app in one process and one thread,
each a distinct event, as ``bench/ingest.py`` sends them (token verified, inbox row committed,
job enqueued, 200). No HTTP server and no wrk: what is left is bridge's own work per callback,
which bounds the rate gunicorn can reach on given cores (callbacks/s per core = 1 / CPU each).

    .venv/bin/python bench/ingest_profile.py [--callbacks 3000] [--top 25]

Prints the CPU per callback and the functions that take it (cumulative and own time).
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest import MEMBER, TOKEN  # noqa: E402


def body(n: int) -> str:
    return (f"event=ONCRMDYNAMICITEMUPDATE&event_handler_id=5&data[FIELDS][ID]={n}&data[FIELDS][ENTITY_TYPE_ID]=31"
            f"&ts={1_700_000_000 + n}&auth[domain]=bench.bitrix24.com&auth[member_id]={MEMBER}"
            f"&auth[application_token]={TOKEN}&auth[client_endpoint]=https://bench.bitrix24.com/rest/"
            "&auth[server_endpoint]=https://oauth.bitrix.info/rest/")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--callbacks", type=int, default=3000)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        from cryptography.fernet import Fernet

        os.environ.update({"BRIDGE_ENV": "production", "SECRET_KEY": "bench-" + "x" * 40,
                           "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(), "BRIDGE_INSTANCE_PATH": tmp,
                           "PUBLIC_URL": "http://127.0.0.1:5090", "DATABASE_URL": f"sqlite:///{tmp}/bridge.db",
                           "HUEY_STORAGE": "sqlite", "HUEY_SQLITE_PATH": f"{tmp}/huey.db"})
        os.environ.pop("REDIS_URL", None)
        from bridge import create_app
        from bridge.extensions import db
        from bridge.installations import token_hash
        from bridge.models import Installation

        app = create_app()
        with app.app_context():
            db.create_all()
            db.session.add(Installation(platform="bitrix24", account_id=MEMBER, domain="bench.bitrix24.com",
                                        app_token_hash=token_hash(TOKEN),
                                        endpoints={"client_endpoint": "https://bench.bitrix24.com/rest/"}))
            db.session.commit()
        client = app.test_client()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        for n in range(200):  # warm: statements built, connections opened
            client.post("/hooks/bitrix24", data=body(n), headers=headers)
        profile = cProfile.Profile()
        cpu, wall = time.process_time(), time.perf_counter()
        profile.enable()
        for n in range(200, 200 + args.callbacks):
            assert client.post("/hooks/bitrix24", data=body(n), headers=headers).status_code == 200
        profile.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)
    print(out.getvalue())
    print(f"callbacks {args.callbacks}: CPU {cpu * 1000 / args.callbacks:.3f} ms each (profiler on), "
          f"wall {wall * 1000 / args.callbacks:.3f} ms each; one core: {args.callbacks / cpu:.0f} callbacks/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
