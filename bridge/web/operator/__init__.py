"""The operator console (``console.py``): the partner's view of every installation, outside
any portal, behind its own sign-in. ``bp`` is its blueprint (``flask operator create``
included)."""
from __future__ import annotations

from .console import bp

__all__ = ["bp"]
