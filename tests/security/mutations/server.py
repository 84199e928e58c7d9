"""Runs mutants' tests in forked children of one warmed-up process.

Importing bridge, Flask, SQLAlchemy and pytest costs more than most mutants' tests take,
so the mutation run starts this process once (``python -m tests.security.mutations.server``)
and it forks a fresh child per mutant: the child applies the mutant (``plugin.py``), runs
its tests with ``pytest.main`` and exits; nothing it changed reaches the next one. One JSON
request per line on stdin ({"mutant", "tests", "report", "output"}), one JSON answer per
line on stdout ({"code"}).
"""
from __future__ import annotations

import json
import os
import signal
import sys

os.environ["BRIDGE_ENV"] = "test"  # before bridge is imported, as tests/conftest.py does
CHILD_SECONDS = 300


def warm_up() -> None:
    import flask  # noqa: F401
    import hypothesis  # noqa: F401
    import pytest  # noqa: F401
    import requests  # noqa: F401
    import responses  # noqa: F401
    import sqlalchemy  # noqa: F401

    import bridge.factory  # noqa: F401


def pytest_args(node_ids: list[str]) -> list[str]:
    """Only these tests, stopping at the first failure, whatever pytest.ini's addopts say."""
    return ["-q", "-x", "--no-header", "-p", "no:cacheprovider", "-o", "addopts=", "-m", "not mutation",
            *node_ids]


def run_child(request: dict) -> int:
    pid = os.fork()
    if pid == 0:  # the child: its own output file, the mutant, the tests
        code = 3
        try:
            fd = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            signal.alarm(CHILD_SECONDS)  # a test that hangs ends its run (an error, never a kill)
            os.environ["BRIDGE_MUTANT"] = request["mutant"]
            os.environ["BRIDGE_MUTANT_REPORT"] = request["report"]
            import pytest

            from . import plugin
            code = int(pytest.main(pytest_args(request["tests"]), plugins=[plugin]))
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def main() -> None:
    warm_up()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if line.strip():
            print(json.dumps({"code": run_child(json.loads(line))}), flush=True)


if __name__ == "__main__":
    main()
