"""Sample data for demo mode: what a new user sees after ``make run``.

Each connector adds its part to ``SEEDERS`` (a callable yielding lines to print).
"""
from __future__ import annotations

from typing import Callable, Iterator

SEEDERS: list[Callable[[], Iterator[str]]] = []


def seed() -> Iterator[str]:
    if not SEEDERS:
        yield "No sample data yet."
    for seeder in SEEDERS:
        yield from seeder()
