"""``INSERT .. ON CONFLICT DO NOTHING`` on either database.

Rows that two workers may create at the same moment (a link to the same customer from two
batches, the first read of an organisation's contacts) are inserted this way and then read
back: the second writer finds the first one's row instead of failing its whole batch on a
unique constraint.
"""
from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite

from .extensions import db


def insert_ignore(table: Table):
    """An insert into ``table`` that skips rows a unique constraint already holds (values
    are bound by the caller: ``.values(...)`` or a list of parameter dicts)."""
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing()
