"""Apply one mutant of a trust check: find its target, rewrite the function, swap its code.

A mutant names its target by import path (``bridge.connectors.dg1.signing.webhook_valid``,
``bridge.connectors.dg1.tenants.TenantSecrets.webhook_secrets``). The function's source is
read, edited (a body that only returns a value, or exact text replacements, each of which
must match exactly once), compiled with the file's own name and line numbers, and its code
object swapped into every function object that runs the original code - so the change is
seen through every alias (``from .hooks import signature_valid``), by routes registered with
a decorator at import time, and by decorator wrappers (``nested=``, e.g. the operator
console's ``signed_in`` wrapper around every view).

Anything that no longer fits (a module or attribute that moved, a text that changed, a
closure that differs) raises ``MutantError``: a moved check turns the run red instead of
into "0 survivors". Each mutated body first calls a hit counter, so a run can tell a mutant
its tests killed from one they never reached.
"""
from __future__ import annotations

import ast
import gc
import importlib
import inspect
import textwrap
import types
from dataclasses import dataclass
from typing import Callable

HIT = "__bridge_mutant_hit__"


class MutantError(Exception):
    """The mutant cannot be applied as written: its target moved or its code changed."""


@dataclass(frozen=True)
class Mutant:
    """One way of breaking one trust check, and the tests that must notice it.

    ``returns``: the function's body becomes ``return <expression>`` (its arguments keep
    their names, so the expression may use them). ``edits``: (old, new) text replacements in
    the function's source, each matching exactly once. ``nested``: the name of a function
    defined inside the target (a decorator's wrapper) whose code is the one to swap.
    """

    target: str
    kind: str
    tests: tuple[str, ...]
    why: str
    returns: str | None = None
    edits: tuple[tuple[str, str], ...] = ()
    nested: str | None = None
    equivalent: str | None = None  # why no test can tell it apart (then it is not run)

    @property
    def name(self) -> str:
        return f"{self.target}:{self.kind}"


def resolve(target: str) -> tuple[types.ModuleType, object]:
    """(module, function) of a dotted path; the longest importable prefix is the module."""
    parts = target.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError as exc:
            if exc.name and ".".join(parts[:cut]).startswith(exc.name):
                continue
            raise MutantError(f"{target}: importing {'.'.join(parts[:cut])} failed: {exc}") from exc
        obj: object = module
        for attr in parts[cut:]:
            try:
                obj = inspect.getattr_static(obj, attr)
            except AttributeError:
                raise MutantError(f"{target}: {attr!r} no longer exists in {'.'.join(parts[:cut])}") from None
        if isinstance(obj, (staticmethod, classmethod)):
            obj = obj.__func__
        function = inspect.unwrap(obj) if callable(obj) else obj
        if not isinstance(function, types.FunctionType):
            raise MutantError(f"{target}: is a {type(function).__name__}, not a function")
        return module, function
    raise MutantError(f"{target}: no module of this path can be imported")


def _hit_call() -> ast.stmt:
    return ast.Expr(ast.Call(ast.Name(HIT, ast.Load()), [], []))


def _find_def(tree: ast.AST, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return node
    raise MutantError(f"no function {name!r} in the source")


def _code_named(code: types.CodeType, name: str) -> types.CodeType:
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            if const.co_name == name:
                return const
            try:
                return _code_named(const, name)
            except MutantError:
                pass
    raise MutantError(f"no compiled code named {name!r}")


def mutated_code(mutant: Mutant) -> tuple[types.ModuleType, types.CodeType, types.CodeType]:
    """(module, original code, mutated code) of the mutant; raises MutantError if it no longer fits."""
    module, function = resolve(mutant.target)
    try:
        lines, first = inspect.getsourcelines(function)
    except (OSError, TypeError) as exc:
        raise MutantError(f"{mutant.target}: source not readable: {exc}") from exc
    source = textwrap.dedent("".join(lines))
    for old, new in mutant.edits:
        found = source.count(old)
        if found != 1:
            raise MutantError(f"{mutant.name}: {old!r} occurs {found} times in {mutant.target} (must be once): "
                              "the check changed; update the mutant")
        source = source.replace(old, new)
    tree = ast.parse(source)
    top = tree.body[0]
    if not isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef)):
        raise MutantError(f"{mutant.target}: source does not start with a def")
    top.decorator_list = []
    body_of = _find_def(top, mutant.nested) if mutant.nested else top
    if mutant.returns is not None:
        body_of.body = [ast.Return(ast.parse(mutant.returns, mode="eval").body)]
    body_of.body.insert(0, _hit_call())
    ast.fix_missing_locations(tree)
    ast.increment_lineno(tree, first - 1)
    compiled = compile(tree, inspect.getsourcefile(function) or "<mutant>", "exec",
                       dont_inherit=True)
    name = mutant.nested or function.__name__
    new = _code_named(compiled, name)
    old = _code_named(function.__code__, name) if mutant.nested else function.__code__
    if new.co_freevars != old.co_freevars:
        raise MutantError(f"{mutant.name}: the mutated code's free variables {new.co_freevars} differ from "
                          f"the original's {old.co_freevars}")
    return module, old, new


def apply(mutant: Mutant, hit: Callable[[], None]) -> int:
    """Swap the mutant's code into every function running the original; returns how many."""
    module, old, new = mutated_code(mutant)
    holders = [f for f in gc.get_objects() if isinstance(f, types.FunctionType) and f.__code__ is old]
    if not holders:
        raise MutantError(f"{mutant.name}: no live function runs {mutant.target}'s code")
    for function in holders:
        function.__globals__[HIT] = hit
        function.__code__ = new
    return len(holders)
