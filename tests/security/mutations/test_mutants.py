"""The mutation run of the trust checks (``make mutants``; not part of ``make test``).

Each mutant of ``catalogue.py`` is applied in a fresh process (a child forked by
``server.py``, see there) that runs only its tests, stopping at the first failure. It is
killed when a test fails and survives when they all pass. Anything else fails the run
loudly: a mutant that can no longer be applied (its check moved or changed), a test id
that no longer exists, or tests that never reached the mutated code. The tests are first
run once unmutated, so a test that fails anyway cannot pass for a kill.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .catalogue import MUTANTS

ROOT = Path(__file__).resolve().parents[3]
RUN = [m for m in MUTANTS if not m.equivalent]
pytestmark = pytest.mark.mutation


class Runner:
    """The fork server, and what each run left behind."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.process = subprocess.Popen([sys.executable, "-m", "tests.security.mutations.server"], cwd=ROOT,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert json.loads(self.process.stdout.readline()).get("ready"), "the mutation server did not start"

    def run(self, name: str, node_ids: list[str]) -> tuple[int, dict, str]:
        slug = name.replace(":", "-") or "baseline"
        report, output = self.workdir / f"{slug}.json", self.workdir / f"{slug}.log"
        self.process.stdin.write(json.dumps({"mutant": name, "tests": node_ids, "report": str(report),
                                             "output": str(output)}) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise RuntimeError(f"the mutation server stopped while running {name or 'the baseline'}")
        code = json.loads(answer)["code"]
        state = json.loads(report.read_text()) if report.exists() else {}
        text = output.read_text(errors="replace") if output.exists() else ""
        return code, state, text[-4000:]

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture(scope="session")
def runner(tmp_path_factory):
    started = time.monotonic()
    running = Runner(tmp_path_factory.mktemp("mutants"))
    # Every mutant's tests pass unmutated (once, all together).
    node_ids = sorted({t for m in RUN for t in m.tests})
    code, _, output = running.run("", node_ids)
    assert code == 0, f"the mutants' tests fail without any mutant, so no kill would mean anything:\n{output}"
    yield running
    running.close()
    print(f"\nmutation run: {len(RUN)} mutants of {len(MUTANTS)} ({len(MUTANTS) - len(RUN)} equivalent), "
          f"{time.monotonic() - started:.0f}s")


@pytest.mark.parametrize("mutant", RUN, ids=[m.name for m in RUN])
def test_the_mutant_is_killed(mutant, runner):
    started = time.monotonic()
    code, state, output = runner.run(mutant.name, list(mutant.tests))
    took = time.monotonic() - started
    assert state.get("mutant") == mutant.name and not state.get("error"), \
        f"{mutant.name} was not applied: {state.get('error') or output}"
    assert state.get("applied", 0) >= 1
    assert code in (0, 1), f"{mutant.name}: the tests could not run (exit {code}):\n{output}"
    assert state.get("hits", 0) > 0, (f"{mutant.name}: its tests never ran the mutated code ({mutant.why}); "
                                      f"point it at tests that do:\n{output}")
    assert code == 1, f"{mutant.name} SURVIVED ({took:.1f}s): {mutant.why}, and {list(mutant.tests)} all pass"
