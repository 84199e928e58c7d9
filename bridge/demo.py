"""``make run``: the sandbox, the app and a worker in demo mode, with sample data.

Three processes, as in production (web, worker) plus the simulated external systems:

- the sandbox on :5001 (Xero, Bitrix24, Bexio, DG1 simulators);
- bridge on :5000 (gunicorn) against SQLite in ``instance/``;
- one Huey consumer (it also runs the periodic jobs).

Ctrl-C stops all three. Nothing here is needed to run bridge for real (docs/deploy.md).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
APP_PORT = int(os.environ.get("BRIDGE_PORT", "5000"))
SANDBOX_PORT = int(os.environ.get("SANDBOX_PORT", "5001"))


def _wait_for(url: str, what: str, seconds: float = 30) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} did not start at {url}")


def fresh_demo_state(env: dict[str, str]) -> list[Path]:
    """The sandbox keeps its systems in memory, so every ``make run`` starts them empty; the
    demo's own database and queue start empty with them. Kept from the last run, they would
    hold installations, tokens and links the new sandbox never issued: "the connection must
    be renewed", and a new invoice 6 shown as the last run's INV-0009. Only the demo's SQLite
    files in the instance folder: a ``DATABASE_URL`` or ``HUEY_SQLITE_PATH`` is left alone.
    Returns the files removed."""
    instance = Path(env.get("BRIDGE_INSTANCE_PATH") or ROOT / "instance")
    names = ([] if env.get("DATABASE_URL") else ["bridge.db"]) + ([] if env.get("HUEY_SQLITE_PATH") else ["huey.db"])
    removed = []
    for name in names:
        for path in (instance / name, instance / f"{name}-wal", instance / f"{name}-shm", instance / f"{name}-journal"):
            if path.exists():
                path.unlink()
                removed.append(path)
    return removed


def main() -> int:
    # localhost, not 127.0.0.1: Xero accepts http redirect URIs only on localhost
    # (https://developer.xero.com/documentation/oauth2/auth-flow), and the sandbox portal on
    # 127.0.0.1 then frames the app cross-site, as a real portal does.
    app_url = f"http://localhost:{APP_PORT}"
    sandbox_url = f"http://127.0.0.1:{SANDBOX_PORT}"
    env = {**os.environ, "BRIDGE_ENV": "demo", "SANDBOX_URL": sandbox_url, "PUBLIC_URL": app_url,
           "PYTHONUNBUFFERED": "1"}
    # A real Bitrix24 portal refuses http and localhost handlers; the demo runs both on
    # this machine, so it turns on the sandbox's named relaxation (never on in tests).
    env.setdefault("SANDBOX_BITRIX24_ALLOW_INSECURE_HANDLERS", "1")
    bin_dir = Path(sys.executable).parent
    processes: list[subprocess.Popen] = []
    # A supervisor's SIGTERM stops the three processes as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    def start(args: list[str]) -> None:
        processes.append(subprocess.Popen(args, env=env, cwd=ROOT))

    try:
        if fresh_demo_state(env):
            print("The sandbox keeps nothing between runs: bridge's demo database starts afresh too.", flush=True)
        subprocess.run([str(bin_dir / "flask"), "--app", "app", "db", "upgrade"], env=env, cwd=ROOT, check=True)
        start([sys.executable, "-m", "bridge.sandbox", "serve", "--port", str(SANDBOX_PORT), "--app-url", app_url])
        _wait_for(f"{sandbox_url}/_sandbox/", "the sandbox")
        start([str(bin_dir / "gunicorn"), "--bind", f"127.0.0.1:{APP_PORT}", "--workers", "2",
               "--threads", "4", "app:app"])
        start([str(bin_dir / "huey_consumer"), "bridge.worker.huey", "-w", "2"])
        _wait_for(f"{app_url}/healthz", "bridge")
        subprocess.run([str(bin_dir / "flask"), "--app", "app", "demo-seed"], env=env, cwd=ROOT, check=False)
        print(f"\nbridge demo is running: {app_url}  (sandbox: {sandbox_url}/_sandbox/)\nCtrl-C stops it.\n",
              flush=True)
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    raise SystemExit(main())
