"""Every error a user can read is raised with a message id, not finished English text.

Why: a sync record's problem and fix are shown in the reader's language only when the code
that raised them passed ``N_(...)`` (bridge/messages.py). A plain string or f-string still
works and reads fine in English, so nothing but this check notices that a German reader
gets it untranslated. bridge/sandbox (a stand-in for the vendors' servers) is aside.
"""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import bridge
from bridge import errors
from bridge.connectors.bitrix24.iframe import LaunchRefused as IframeRefused
from bridge.connectors.dg1.launch import LaunchRefused as Dg1Refused

ROOT = Path(bridge.__file__).parent

# The classes whose message a user reads: every SyncError subclass in the code base (found
# by walking the class tree, so a new one is covered) and the refused-page exceptions.


def _subclasses(cls: type) -> set[str]:
    found = {cls.__name__}
    for sub in cls.__subclasses__():
        found |= _subclasses(sub)
    return found


# Helpers that return a Message (a sentence or a list of them) rather than text.
MESSAGE_MAKERS = {"N_", "joined", "with_params", "decide_where"}


def _is_message(node: ast.expr) -> bool:
    """``node`` is a Message: made by ``N_`` (or a helper that returns one), or a value
    that already is one (a name, an attribute, an item); never text built here."""
    if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
        return True
    if isinstance(node, ast.Constant):
        return node.value is None
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        return name in MESSAGE_MAKERS
    if isinstance(node, ast.BoolOp):
        return all(_is_message(value) for value in node.values)
    if isinstance(node, ast.IfExp):
        return _is_message(node.body) and _is_message(node.orelse)
    return False  # a str literal, f-string, concatenation, "".join, .format ...


def plain_text_errors(source: str, filename: str, classes: set[str], refusals: set[str]) -> list[str]:
    """Where ``source`` raises or builds one of ``classes`` with a message or fix that is
    not a message (``refusals`` take the status first, the message second)."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if name not in classes:
            continue
        position = 1 if name in refusals else 0
        args = node.args[position:position + 1]
        args += [keyword.value for keyword in node.keywords if keyword.arg in ("message", "fix")]
        for arg in args:
            if not _is_message(arg):
                found.append(f"{filename}:{arg.lineno}: {name}({ast.unparse(arg)[:80]})")
    return found


def _classes() -> tuple[set[str], set[str]]:
    importlib.import_module("bridge.factory")  # imports every connector, so every subclass exists

    refusals = {IframeRefused.__name__, Dg1Refused.__name__}
    return _subclasses(errors.SyncError) | refusals, refusals


def test_every_user_visible_error_is_raised_with_a_message_id():
    classes, refusals = _classes()
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        if "sandbox" in path.relative_to(ROOT).parts:
            continue
        found += plain_text_errors(path.read_text(), str(path.relative_to(ROOT.parent)), classes, refusals)
    assert found == [], "pass N_(...) (docs/messages.md):\n" + "\n".join(found)


def test_the_check_catches_text_built_in_place():
    classes, refusals = _classes()
    planted = '''
raise PermanentError(f"Invoice {number} is gone.")
raise ConflictError("Invoice gone.", fix="Sync " + "again.")
raise NeedsReconnect(N_("Gone."), fix="; ".join(parts))
raise LaunchRefused(401, "Not yours.")
raise BudgetExhausted("Paused.", resume_at=when)
raise PermanentError(N_("Invoice %(number)s is gone.", number=number), fix=N_("Sync again."))
raise LaunchRefused(401, N_("Not yours."))
raise PermanentError(exc.message, fix=decide_where(platform, ledger))
'''
    found = plain_text_errors(planted, "planted.py", classes, refusals)
    assert [line.split(":")[1] for line in found] == ["2", "3", "3", "4", "5", "6"]
