"""The layering is a checked contract: which package may import which (docs/architecture.md).

- ``.importlinter`` holds the rules import-linter checks (the engine imports no factory,
  page, connector, flow or alert; flows import no connector; connectors import no page);
- no product module takes part in an import circle (the sandbox aside: it is a separate
  program that only shares the repository), checked here over the whole import graph,
  imports inside functions included: a circle hidden in a function is still one;
- that flows ask the ports no capability questions and name no vendor is
  tests/sync/test_no_vendor_branches.py.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contracts_hold():
    lint = shutil.which("lint-imports", path=os.path.dirname(sys.executable)) or "lint-imports"
    result = subprocess.run([lint, "--config", str(ROOT / ".importlinter"), "--no-cache"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def import_circles(package: str = "bridge", aside: tuple[str, ...] = ("bridge.sandbox",)) -> list[list[str]]:
    """The strongly connected parts of the module import graph that hold more than one module
    (Tarjan's algorithm, iterative: the graph has hundreds of modules)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph(package, exclude_type_checking_imports=True, cache_dir=None)
    modules = sorted(m for m in graph.modules if not m.startswith(aside))
    inside = set(modules)
    edges = {m: sorted(n for n in graph.find_modules_directly_imported_by(m) if n in inside) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    for start in modules:
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            for i in range(position, len(edges[node])):
                target = edges[node][i]
                if target not in index:
                    work.append((node, i + 1))
                    work.append((target, 0))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                if low[node] == index[node]:
                    part = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        part.append(member)
                        if member == node:
                            break
                    if len(part) > 1:
                        circles.append(sorted(part))
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
    return circles


def test_no_product_module_is_part_of_an_import_circle():
    assert import_circles() == []

