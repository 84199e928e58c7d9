"""Named fault points, so tests can crash a flow exactly where a real crash would hurt.

A flow calls ``fault_point("after ledger create")`` at each step that matters. Unarmed,
it costs one dictionary lookup. Tests arm a point in-process (``arm(name, exc)``) or, for
a worker in another process, through ``BRIDGE_FAULTS="after ledger create=kill;..."``
(actions: ``raise`` or ``kill``, which ends the process at once as a power cut would).
"""
from __future__ import annotations

import os
import signal

_armed: dict[str, object] = {}


class InjectedFault(RuntimeError):
    """Raised by an armed point; never raised in production."""


def _load_from_env() -> None:
    spec = os.environ.get("BRIDGE_FAULTS", "")
    for item in filter(None, (part.strip() for part in spec.split(";"))):
        name, _, action = item.partition("=")
        _armed[name.strip()] = action.strip() or "raise"


_load_from_env()


def arm(name: str, action: object = "raise", times: int | None = None) -> None:
    """Arm a point: ``"raise"``, ``"kill"``, an exception instance, or a callable."""
    _armed[name] = (action, times) if times else action


def disarm(name: str | None = None) -> None:
    if name is None:
        _armed.clear()
    else:
        _armed.pop(name, None)


def fault_point(name: str) -> None:
    action = _armed.get(name)
    if action is None:
        return
    if isinstance(action, tuple):
        action, times = action
        if times <= 1:
            _armed.pop(name, None)
        else:
            _armed[name] = (action, times - 1)
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if action == "raise":
        raise InjectedFault(name)
    if isinstance(action, BaseException):
        raise action
    if callable(action):
        action()
