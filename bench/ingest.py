"""Callback ingest under gunicorn, loaded by wrk on loopback.

What is measured: a Bitrix24 event callback end to end as production serves it — verify
the application token, write the inbox row, enqueue the job after commit, answer 200 —
with every request a distinct event (distinct invoice id and ts), so none is deduplicated.
Afterwards the inbox is counted: every request answered 2xx must be there ("zero lost").

    .venv/bin/python bench/ingest.py                      # embedded: SQLite + Huey on SQLite
    DATABASE_URL=postgresql+psycopg://... REDIS_URL=redis://... .venv/bin/python bench/ingest.py

Needs wrk (Debian package ``wrk``). Prints one JSON line per connection count
(``BENCH_CONNECTIONS``, default 16 and 32); docs/PERFORMANCE.md has figures.

``BENCH_DRAIN=1``: ingest while a consumer drains the queue at the same time. One Huey
consumer process (4 threads) runs beside the web server and translates the stored events as
they come (the installation's automatic sync is off, so an event asks for no work and nothing
calls out: what competes with the callbacks is the consumer's claims and translations on the
same database and queue). Each line then also says how many events it translated.
"""
from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from cryptography.fernet import Fernet

from procstat import cpu_seconds, process_tree

ROOT = Path(__file__).resolve().parent.parent
MEMBER = "bench-member-0001"
TOKEN = "bench-application-token"
DURATION = os.environ.get("BENCH_DURATION", "15s")
# wrk keeps each connection busy (a closed loop): the mean latency is connections / rate, so
# one figure at one connection count says little. Each count is one run against the same server.
CONNECTIONS = [int(c) for c in os.environ.get("BENCH_CONNECTIONS", "16,32").split(",")]
# docs/deploy.md: workers = cores + 1, two threads each (measured best for callbacks on 2 cores).
WORKERS = int(os.environ.get("BENCH_WEB_WORKERS", str((os.cpu_count() or 1) + 1)))
THREADS = int(os.environ.get("BENCH_WEB_THREADS", "2"))
PORT = int(os.environ.get("BENCH_PORT", "5090"))

# Each request a new event: run, thread number and counter go into the invoice id and ts
# (each wrk thread has its own Lua state and the same random seed, so random ids would repeat).
WRK_SCRIPT = """
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
counter = 0
request = function()
  counter = counter + 1
  local id = "%(run)d" .. tostring(tid) .. string.format("%%09d", counter)
  local body = "event=ONCRMDYNAMICITEMUPDATE&event_handler_id=5&data[FIELDS][ID]=" .. id ..
    "&data[FIELDS][ENTITY_TYPE_ID]=31&ts=" .. id ..
    "&auth[domain]=bench.bitrix24.com&auth[member_id]=%(member)s&auth[application_token]=%(token)s" ..
    "&auth[client_endpoint]=https://bench.bitrix24.com/rest/&auth[server_endpoint]=https://oauth.bitrix.info/rest/"
  return wrk.format("POST", "/hooks/bitrix24", {["Content-Type"]="application/x-www-form-urlencoded"}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("BENCH %%d %%d %%d %%.3f %%.3f %%.3f\\n", summary.requests,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.duration / 1000000))
end
"""


def setup(env: dict[str, str]) -> None:
    """Schema and one installation whose application token the callbacks carry."""
    code = f"""
from bridge import create_app
from bridge.extensions import db
from bridge.installations import token_hash
from bridge.models import Installation
from bridge.settings import save_section
app = create_app()
with app.app_context():
    db.drop_all(); db.create_all()
    installation = Installation(platform="bitrix24", account_id="{MEMBER}", domain="bench.bitrix24.com",
                                app_token_hash=token_hash("{TOKEN}"),
                                endpoints={{"client_endpoint": "https://bench.bitrix24.com/rest/"}})
    db.session.add(installation)
    db.session.flush()
    save_section(installation, "general", {{"automatic_sync": False}})  # events ask for no work: nothing calls out
    db.session.commit()
"""
    subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=ROOT)


def count_inbox(env: dict[str, str], state: str | None = None) -> int:
    code = f"""
from bridge import create_app
from bridge.extensions import db
from bridge.models import InboxEvent
from sqlalchemy import func, select
app = create_app()
with app.app_context():
    query = select(func.count()).select_from(InboxEvent)
    print(db.session.scalar(query.where(InboxEvent.state == {state!r}) if {state!r} else query))
"""
    return int(subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=ROOT, capture_output=True,
                              text=True).stdout.strip().splitlines()[-1])


def database_backends(env: dict[str, str]) -> list[int]:
    """The PostgreSQL server processes serving this database's connections (same machine)."""
    if not env["DATABASE_URL"].startswith("postgresql"):
        return []
    code = """
from bridge import create_app
from bridge.extensions import db
from sqlalchemy import text
app = create_app()
with app.app_context():
    print(" ".join(str(p) for p in db.session.scalars(text(
        "select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()"))))
"""
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=ROOT, capture_output=True,
                         text=True).stdout.strip().splitlines()
    return [int(p) for p in (out[-1].split() if out else [])]


def main() -> int:
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="bridge-bench-"))
    env = {**os.environ, "BRIDGE_ENV": "production", "SECRET_KEY": "bench-" + "x" * 40,
           "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(), "BRIDGE_INSTANCE_PATH": str(work),
           "PUBLIC_URL": f"http://127.0.0.1:{PORT}"}
    env.setdefault("DATABASE_URL", f"sqlite:///{work}/bridge.db")
    if not env.get("REDIS_URL"):
        env["HUEY_SQLITE_PATH"] = str(work / "huey.db")
    setup(env)
    if env.get("REDIS_URL"):
        subprocess.run([sys.executable, "-c", "from bridge.extensions import huey; huey.flush()"], env=env, check=True,
                       cwd=ROOT)
    server = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "--bind", f"127.0.0.1:{PORT}",
                               "--workers", str(WORKERS), "--threads", str(THREADS), "--log-level", "warning", "app:app"],
                              env=env, cwd=ROOT)
    try:
        for _ in range(100):
            try:
                if requests.get(f"http://127.0.0.1:{PORT}/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        results = []
        for run, connections in enumerate(CONNECTIONS, start=1):
            script = work / f"ingest-{run}.lua"
            script.write_text(WRK_SCRIPT % {"member": MEMBER, "token": TOKEN, "run": run})
            results.append(load(env, server.pid, script, connections))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    for result in results:
        print(json.dumps(result))
    return 0 if all(r["lost"] == 0 for r in results) else 1


def start_consumer(env: dict[str, str]) -> subprocess.Popen:
    """One Huey consumer of 4 threads without its scheduler, once it has started."""
    log = Path(env["BRIDGE_INSTANCE_PATH"]) / "consumer.log"
    consumer = subprocess.Popen([str(Path(sys.executable).parent / "huey_consumer"), "bridge.worker.huey", "-w", "4",
                                 "-k", "thread", "-n"], env=env, cwd=ROOT, stdout=log.open("w"),
                                stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while "consumer started" not in log.read_text().lower():
        if time.monotonic() > deadline or consumer.poll() is not None:
            raise RuntimeError(f"the consumer did not start: {log.read_text()[-2000:]}")
        time.sleep(0.05)
    return consumer


def load(env: dict[str, str], server_pid: int, script: Path, connections: int) -> dict:
    """One wrk run at ``connections``; the inbox is counted before and after it."""
    draining = os.environ.get("BENCH_DRAIN") == "1"
    consumer = start_consumer(env) if draining else None
    translated_before = count_inbox(env, "done")
    stored_before = count_inbox(env)
    backends_before = {p: cpu_seconds(p) for p in database_backends(env)}
    web_before = sum(cpu_seconds(p) for p in process_tree(server_pid))
    wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{DURATION}", "--latency", "-s", str(script),
                          f"http://127.0.0.1:{PORT}"], capture_output=True, text=True, check=True).stdout
    wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    web_cpu = sum(cpu_seconds(p) for p in process_tree(server_pid)) - web_before
    wrk_cpu = (wrk_after.ru_utime + wrk_after.ru_stime) - (wrk_before.ru_utime + wrk_before.ru_stime)
    db_cpu = sum(cpu_seconds(p) - backends_before.get(p, 0.0) for p in database_backends(env))
    time.sleep(1)  # requests in flight when wrk stopped are answered and stored too
    stored = count_inbox(env) - stored_before
    translated = count_inbox(env, "done") - translated_before
    if consumer is not None:
        os.killpg(consumer.pid, signal.SIGTERM)
        consumer.wait(timeout=30)
    total, status_errors, socket_errors, p50, p99, seconds = re.search(r"BENCH (.*)", out).group(1).split()
    answered_ok = int(total) - int(status_errors)
    result = {"backend": "postgresql+redis" if env.get("REDIS_URL") else "sqlite+huey-sqlite",
              "requests": int(total), "answered_2xx": answered_ok, "socket_errors": int(socket_errors),
              "stored_in_inbox": stored, "lost": max(answered_ok - stored, 0),
              "requests_per_second": round(int(total) / float(seconds), 1),
              "p50_ms": float(p50), "p99_ms": float(p99), "connections": connections, "web_workers": WORKERS,
              "web_threads": THREADS, "cpus": os.cpu_count(),
              "consumer_draining": draining, "translated_during_run": translated if draining else None,
              # CPU per request, whatever else the machine runs: what bounds the rate on idle cores.
              "cpu_ms_per_request": {"web": round(web_cpu * 1000 / int(total), 3),
                                     "database_backends": round(db_cpu * 1000 / int(total), 3) if db_cpu else None,
                                     "wrk": round(wrk_cpu * 1000 / int(total), 3)},
              "load_average_1m": round(os.getloadavg()[0], 2)}
    cpu = sum(v for v in result["cpu_ms_per_request"].values() if v)
    result["cpu_bound_requests_per_second"] = round((os.cpu_count() or 1) * 1000 / cpu) if cpu else None
    return result


if __name__ == "__main__":
    raise SystemExit(main())
