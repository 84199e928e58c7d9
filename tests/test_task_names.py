"""Messages queued before an upgrade still run after it: Huey finds a queued message's task
by its name (``<module>.<name>``), so the engine's tasks keep the names they had when the
engine was one module, ``bridge.jobs``, and the old worker command keeps working."""
from __future__ import annotations

import os
import subprocess
import sys

# The names in a queue written by the release before the engine became a package.
NAMES_BEFORE_THE_ENGINE_PACKAGE = {
    "bridge.alerts.deliver_alert",
    "bridge.jobs.alerts_daily",
    "bridge.jobs.bitrix24_reconcile",
    "bridge.jobs.daily_party_import",
    "bridge.jobs.daily_products",
    "bridge.jobs.daily_status",
    "bridge.jobs.daily_stock",
    "bridge.jobs.dashboard_refresh",
    "bridge.jobs.poll_ledgers",
    "bridge.jobs.process_inbox",
    "bridge.jobs.prune",
    "bridge.jobs.purge_uninstalled",
    "bridge.jobs.run_work",
    "bridge.jobs.sent_sweep",
    "bridge.jobs.sweep",
}

# Tasks added since (a new name is no upgrade risk; listed so a rename is still caught).
NAMES_ADDED_SINCE = {
    "bridge.jobs.bitrix24_webhook_poll",  # Bitrix24 webhook mode polls for changes
    "bridge.jobs.daily_reconciliation_report",  # the reconciliation report, once a day
}

LIST_NAMES = """
import {module} as entry
print("\\n".join(sorted(entry.huey._registry._registry)))
"""


def registered_names(module: str, tmp_path) -> set[str]:
    """The task names a worker started as ``huey_consumer <module>.huey`` knows (a fresh
    process: nothing a test registered)."""
    env = {**os.environ, "BRIDGE_ENV": "test", "BRIDGE_INSTANCE_PATH": str(tmp_path), "BRIDGE_PLUGINS": "",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'names.db'}"}
    out = subprocess.run([sys.executable, "-c", LIST_NAMES.format(module=module)], env=env, capture_output=True,
                         text=True, check=True, timeout=120).stdout
    return set(out.split())


def test_the_worker_knows_every_task_by_the_name_queued_before_the_upgrade(tmp_path):
    assert registered_names("bridge.worker", tmp_path) == NAMES_BEFORE_THE_ENGINE_PACKAGE | NAMES_ADDED_SINCE


def test_the_old_worker_command_still_finds_them(tmp_path):
    assert registered_names("bridge.jobs", tmp_path) == NAMES_BEFORE_THE_ENGINE_PACKAGE | NAMES_ADDED_SINCE
