"""pytest plugin of a mutant's run: ``-p tests.security.mutations.plugin`` with
``BRIDGE_MUTANT`` naming the mutant (``<target>:<kind>``) applies it before any test runs,
and writes what happened (applied, how often the mutated code ran) to ``BRIDGE_MUTANT_REPORT``.
"""
from __future__ import annotations

import json
import os

import pytest

_state = {"mutant": "", "applied": 0, "hits": 0, "error": ""}


def _hit() -> None:
    _state["hits"] += 1


@pytest.hookimpl(trylast=True)
def pytest_configure(config) -> None:
    # The same examples every run, and none written to .hypothesis/ for the normal suite to replay.
    from hypothesis import settings
    settings.register_profile("bridge-mutants", database=None, derandomize=True)
    settings.load_profile("bridge-mutants")
    name = os.environ.get("BRIDGE_MUTANT", "")
    _state["mutant"] = name
    if not name:
        return
    os.environ.setdefault("BRIDGE_ENV", "test")  # as tests/conftest.py, before bridge is imported
    from .catalogue import by_name
    from .engine import apply
    try:
        _state["applied"] = apply(by_name(name), _hit)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails loudly
        _state["error"] = f"{type(exc).__name__}: {exc}"
        _write()
        raise pytest.UsageError(f"mutant {name} could not be applied: {_state['error']}") from exc


def pytest_unconfigure(config) -> None:
    _write()


def _write() -> None:
    path = os.environ.get("BRIDGE_MUTANT_REPORT")
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(_state, fh)
