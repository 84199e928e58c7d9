"""The per-test schema reset (tests/support/schema.py): every test starts from empty tables
with ids from 1, and a test that changed the schema leaves no trace in the next one."""
from sqlalchemy import func, inspect, select, text

from bridge.extensions import db
from bridge.models import Installation
from tests.support.schema import fresh_schema


def _add_installation(account: str) -> int:
    row = Installation(platform="bitrix24", account_id=account, domain=f"{account}.bitrix24.com")
    db.session.add(row)
    db.session.commit()
    return row.id


def test_rows_are_gone_and_ids_start_from_one_again(app_ctx):
    _add_installation("first")
    _add_installation("second")
    fresh_schema()
    assert db.session.scalar(select(func.count()).select_from(Installation)) == 0
    assert _add_installation("again") == 1


def test_a_schema_a_test_changed_is_built_again(app_ctx):
    fresh_schema()  # the shape this process made, then a test drops an index
    with db.engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_sync_records_object"))
    fresh_schema()
    indexes = {index["name"] for index in inspect(db.engine).get_indexes("sync_records")}
    assert "ix_sync_records_object" in indexes
