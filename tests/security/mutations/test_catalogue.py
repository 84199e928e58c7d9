"""Fast self-check of the mutation run (part of ``make test``): every mutant's target still
exists and its edits still apply and compile, and every test it names still exists.
A moved or rewritten trust check fails here at once, not silently in ``make mutants``."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .catalogue import MUTANTS
from .engine import Mutant, MutantError, mutated_code

ROOT = Path(__file__).resolve().parents[3]


def test_mutant_names_are_unique():
    names = [m.name for m in MUTANTS]
    assert sorted(n for n in set(names) if names.count(n) > 1) == []


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_the_mutant_still_applies(mutant):
    mutated_code(mutant)  # raises MutantError naming what moved or changed
    assert mutant.tests or mutant.equivalent, "a mutant needs tests that kill it, or the reason none can"


def _defined(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def test_every_named_test_exists():
    missing = []
    for mutant in MUTANTS:
        for node_id in mutant.tests:
            file, _, name = node_id.partition("::")
            path = ROOT / file
            if not path.exists() or name.split("[")[0] not in _defined(path):
                missing.append(f"{mutant.name}: {node_id}")
    assert missing == []


@pytest.mark.parametrize("target, edits, says", [
    ("bridge.connectors.dg1.signing.no_such_check", (), "no longer exists"),
    ("bridge.connectors.dg1.moved_away.webhook_valid", (), "no longer exists"),
    ("bridge.connectors.dg1.signing.webhook_valid", (("a check that was rewritten", "True"),), "occurs 0 times"),
])
def test_a_mutant_whose_check_moved_or_changed_fails_loudly(target, edits, says):
    """Moving or rewriting a check can never turn into "0 survivors": its mutant stops applying."""
    with pytest.raises(MutantError, match=says):
        mutated_code(Mutant(target, "moved", ("tests/x.py::test_x",), "why", edits=edits))
