"""The flows are written against the ports alone: no flow asks an adapter whether it has a
method (``hasattr``) or branches on which vendor it is (a string naming one). What differs
between systems is declared on their ports (``bridge/ports.py``), so a new pairing needs no
flow edit, and a test cannot pass on a branch production does not take."""
from __future__ import annotations

import ast
from pathlib import Path

import bridge.sync

SYNC = Path(bridge.sync.__file__).parent
VENDORS = {"xero", "bexio", "bitrix24", "dg1"}


def offences(source: str, name: str = "<source>") -> list[str]:
    """Each ``hasattr(`` call and each string literal that is a vendor's name, with its line."""
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "hasattr":
            found.append(f"{name}:{node.lineno}: hasattr(")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.lower() in VENDORS:
            found.append(f"{name}:{node.lineno}: {node.value!r}")
    return sorted(found, key=lambda hit: (int(hit.split(":")[1]), hit))


def sync_modules() -> list[Path]:
    return sorted(SYNC.rglob("*.py"))


def test_no_flow_probes_a_port_or_names_a_vendor():
    assert len(sync_modules()) > 10  # the package was found
    found = [hit for path in sync_modules() for hit in offences(path.read_text(), path.name)]
    assert found == []


def test_the_check_finds_a_planted_probe_and_vendor_names():
    planted = ('if ledger.kind == "Xero" or platform == "dg1":\n'
               '    pass\n'
               'if hasattr(ledger, "match_parties"):\n'
               '    pass\n')
    assert offences(planted) == ["<source>:1: 'Xero'", "<source>:1: 'dg1'", "<source>:3: hasattr("]
    assert offences('words = "Sync with Xero"\n') == []  # a sentence is no branch
