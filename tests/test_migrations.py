"""The migrations build the schema from empty, and the models do not drift from them."""
from sqlalchemy import inspect, text

from bridge.extensions import db


def _empty_database(app) -> None:
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def test_upgrade_from_empty_builds_every_table_and_check_finds_no_drift(app, runner):
    _empty_database(app)
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        tables = set(inspect(db.engine).get_table_names())
    assert set(db.metadata.tables) <= tables
    check = runner.invoke(args=["db", "check"])
    assert check.exit_code == 0, check.output


def test_check_notices_a_schema_that_differs_from_the_models(app, runner):
    _empty_database(app)
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_sync_records_object"))
    check = runner.invoke(args=["db", "check"])
    assert check.exit_code != 0


def test_downgrade_to_base_removes_the_schema(app, runner):
    _empty_database(app)
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    result = runner.invoke(args=["db", "downgrade", "base"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
