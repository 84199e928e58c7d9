"""A real Huey consumer process picks up what a web process enqueued."""
from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import sys
import time

from sqlalchemy import func, select

from bridge import engine
from bridge.extensions import db
from bridge.models import InboxEvent, SyncRecord


def _env(app, tmp_path) -> dict[str, str]:
    return {**os.environ, "BRIDGE_ENV": "test", "HUEY_STORAGE": "sqlite",
            "HUEY_SQLITE_PATH": str(tmp_path / "huey.db"),
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "BRIDGE_INSTANCE_PATH": app.config["INSTANCE_PATH"],
            "BRIDGE_PLUGINS": "tests.support.consumer_flows"}


def test_consumer_process_runs_the_job_a_web_process_enqueued(app, installation, tmp_path):
    env = _env(app, tmp_path)
    consumer_bin = shutil.which("huey_consumer", path=os.path.dirname(sys.executable)) or "huey_consumer"
    consumer = subprocess.Popen([consumer_bin, "bridge.jobs.huey", "-w", "2", "-n"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        code = (f"from tests.support.consumer_flows import ingest; ingest('evt-1', {installation.id})")
        subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
        deadline = time.time() + 30
        state = None
        while time.time() < deadline:
            db.session.rollback()
            state = db.session.scalar(select(InboxEvent.state))
            if state == "done" and db.session.scalar(select(SyncRecord.state)) == "succeeded":
                break
            time.sleep(0.2)
        assert state == "done"
        assert db.session.scalar(select(SyncRecord.object_id)) == "invoice:7"
    finally:
        consumer.terminate()
        output, _ = consumer.communicate(timeout=20)
    assert "Traceback" not in output, output


def _claim(url: str, instance: str) -> bool:
    os.environ["BRIDGE_ENV"] = "test"
    from bridge import create_app

    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": instance})
    with app.app_context():
        return engine.claim_period("daily-stock", "99")


def test_two_consumers_claiming_the_same_period_run_it_once(app):
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.starmap(_claim, [(app.config["SQLALCHEMY_DATABASE_URI"], app.config["INSTANCE_PATH"])] * 2)
    assert sorted(results) == [False, True]


def test_two_real_consumers_with_schedulers_run_a_periodic_job_once_per_period(app_ctx, tmp_path):
    app = app_ctx
    from bridge.models import Cursor

    if 60 - time.time() % 60 < 15:  # both must start in the same minute for one period
        time.sleep(60 - time.time() % 60 + 1)
    env = _env(app, tmp_path)
    consumer_bin = shutil.which("huey_consumer", path=os.path.dirname(sys.executable)) or "huey_consumer"
    consumers = [subprocess.Popen([consumer_bin, "tests.support.consumer_flows.huey", "-w", "1"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            time.sleep(0.5)
            db.session.rollback()
            if db.session.scalar(select(func.count()).select_from(Cursor).where(Cursor.scope == "consumer-test")):
                break
        time.sleep(2)  # give the second consumer's copy of the task time to run (and skip)
        db.session.rollback()
        runs = db.session.scalar(select(func.count()).select_from(Cursor).where(Cursor.scope == "consumer-test"))
    finally:
        outputs = []
        for consumer in consumers:
            consumer.terminate()
            outputs.append(consumer.communicate(timeout=20)[0])
    assert runs == 1, outputs
    assert all("Enqueueing periodic task" in output and "consumer_test_tick" in output for output in outputs)
