"""An empty schema for each test, as fast as the database allows.

Dropping and creating every table costs PostgreSQL ~0.2 s a test (over a thousand tests,
minutes of CI). When the tables this process created are still there exactly as it made
them, emptying them and restarting their id sequences gives the same empty schema in a
fraction of that. Anything else (no tables yet, a test that dropped an index or ran the
migrations) gets the full drop and create, so a test never inherits another's schema.
"""
from __future__ import annotations

from sqlalchemy import text

from bridge.extensions import db

_CREATED: dict[str, tuple] = {}  # database URL -> the schema's shape right after create_all

_POSTGRES_SHAPE = text(
    "SELECT 'c', c.relname, a.attname, format_type(a.atttypid, a.atttypmod) "
    "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
    "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 "
    "AND NOT a.attisdropped "
    "UNION ALL SELECT 'i', tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
    "UNION ALL SELECT 'k', conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
    "FROM pg_constraint WHERE connamespace = 'public'::regnamespace")
_SQLITE_SHAPE = text("SELECT type, tbl_name, name, coalesce(sql, '') FROM sqlite_master")


def _shape(connection) -> tuple:
    query = _POSTGRES_SHAPE if connection.dialect.name == "postgresql" else _SQLITE_SHAPE
    return tuple(sorted(tuple(row) for row in connection.execute(query)))


def fresh_schema() -> None:
    """Leave the app's database with every table present and empty, ids from 1.

    Call inside an app context."""
    db.session.remove()
    url = db.engine.url.render_as_string(hide_password=False)
    with db.engine.begin() as connection:
        if _CREATED.get(url) == _shape(connection):
            for table in reversed(db.metadata.sorted_tables):
                connection.execute(table.delete())
            _restart_ids(connection)
            return
    db.drop_all()
    db.create_all()
    with db.engine.connect() as connection:
        _CREATED[url] = _shape(connection)


def _restart_ids(connection) -> None:
    """Ids from 1 again, as after create_all (tests may name the first row's id)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT setval(c.oid, 1, false) FROM pg_class c "
                                "WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace"))
    elif connection.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")).first():
        connection.execute(text("DELETE FROM sqlite_sequence"))
