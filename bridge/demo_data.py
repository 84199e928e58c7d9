"""Sample data for demo mode: what a new user sees after ``make run``.

Each connector names its part in its descriptor (``demo_seeder``: a callable yielding the
lines to print).
"""
from __future__ import annotations

from typing import Iterator

from .connectors import CONNECTORS


def seed() -> Iterator[str]:
    seeders = [c.load(c.demo_seeder) for c in CONNECTORS if c.demo_seeder is not None]
    if not seeders:
        yield "No sample data yet."
    for seeder in seeders:
        yield from seeder()
