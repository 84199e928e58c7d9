"""A flow and an inbox source for tests that run a real consumer process (BRIDGE_PLUGINS)."""
from __future__ import annotations

from bridge import engine


@engine.inbox_handler("consumer-test")
def translate(event):
    return [engine.WorkRequest(event.installation_id, "consumer_test_flow", event.object_key)]


@engine.flow("consumer_test_flow")
def run(ctx):
    record = ctx.record(object_kind="invoice", object_id=ctx.object_key, direction="to_ledger")
    record.state = "succeeded"


def ingest(dedup_key: str, installation_id: int) -> None:
    """Called in a web-like process: store the event and enqueue after commit."""
    from bridge import create_app

    app = create_app()
    with app.app_context():
        engine.record_inbound("consumer-test", dedup_key, installation_id=installation_id, topic="t",
                              object_key="invoice:7", payload="{}")


from huey import crontab  # noqa: E402


def __getattr__(name: str):
    """``huey_consumer tests.support.consumer_flows.huey``: the worker entry point's queue,
    looked up only then, so a process that imports this module for ``ingest`` builds no
    worker app (building it imports this module again, as a plugin)."""
    if name == "huey":
        from bridge.worker import huey

        return huey
    raise AttributeError(name)


@engine.periodic(crontab(minute="*"), 60, name="consumer_test_tick")
def tick() -> None:
    """Leaves one row per run, so a test can count how often the period's job ran."""
    import uuid

    from bridge.extensions import db
    from bridge.models import Cursor

    db.session.add(Cursor(scope="consumer-test", name=f"tick-{uuid.uuid4()}", value={}))
    db.session.commit()
