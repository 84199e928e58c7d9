"""Queueing by class: a user's work (Sync now, Retry, a live event's work) is never behind bulk
tasks in the queue's line, on each storage the deployment can use (memory in tests, SQLite
embedded, Redis scaled out), and an upgrade from the plain Redis queue still runs what it
queued. Ordering and state only: which task the queue hands out next, never how soon."""
from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import select

from bridge import engine
from bridge.engine.tasks import BULK_LINE, USER_LINE, line_of, process_inbox, run_work
from bridge.extensions import _SqliteHuey, db, huey, make_redis_huey
from bridge.models import WorkItem
from tests.conftest import require


def ask(installation_id: int, flow: str, key: str, *, bulk: bool | None = None, **options) -> int | None:
    item_id = engine.request_work(engine.WorkRequest(installation_id, flow, key, options=options, bulk=bulk))
    db.session.commit()
    return item_id


def backlog(installation_id: int, n: int, flow: str = "fair_one") -> list[int]:
    queued = engine.request_work_many([(engine.WorkRequest(installation_id, flow, f"contact:{i}", bulk=True), None)
                                       for i in range(n)])
    db.session.commit()
    return [item_id for item_id, _ in queued]


def item_id_of(key: str) -> int:
    return db.session.scalar(select(WorkItem.id).where(WorkItem.object_key == key))


def next_task_item() -> int:
    """Take the next task off the queue (as a consumer thread would), run it, and return
    the item it named."""
    task = huey.dequeue()
    huey.execute(task)
    return task.args[0]


def test_a_live_events_work_is_taken_before_the_bulk_tasks_queued_ahead_of_it(installation, order):
    ran, _ = order
    bulk = backlog(installation.id, 50)  # a reconcile's 50 reads: 50 tasks in the line first
    live = ask(installation.id, "fair_one", "invoice:7")  # then a live event's work
    assert next_task_item() == live  # its task is the first a consumer takes, not the 51st
    assert ran == [(installation.id, ["invoice:7"])]
    assert [t.args[0] for t in huey.pending()] == bulk  # the bulk tasks still in their own order


def test_another_installations_work_is_taken_before_a_backlog_queued_ahead_of_it(two_installations, order):
    big, quiet = two_installations
    backlog(big.id, 50)
    live = ask(quiet.id, "fair_one", "invoice:1")
    assert next_task_item() == live


def test_retry_on_work_queued_as_bulk_puts_a_task_in_the_users_line(installation, order):
    ran, _ = order
    backlog(installation.id, 50)
    retried = item_id_of("contact:40")
    assert ask(installation.id, "fair_one", "contact:40", manual=True) is None  # already queued: no new item
    assert next_task_item() == retried  # but its class was lifted, and a task of the user's line runs it
    assert ran == [(installation.id, ["contact:40"])]


def test_a_bulk_runs_next_batch_waits_behind_a_user_but_ahead_of_fresh_bulk_tasks(two_installations, order):
    big, quiet = two_installations
    ran, during = order
    backlog(big.id, 100, flow="fair_batch")  # 100 tasks in the line; the first runs a batch of 49
    # The quiet installation's live invoice arrives while the first batch runs (translated by
    # another thread, so not of the bulk run's class): the run yields after its batch.
    during["contact:0"] = lambda ctx: ask(quiet.id, "fair_batch", "invoice:1", bulk=False)
    next_task_item()
    assert ran == [(big.id, [f"contact:{i}" for i in range(49)])]
    assert next_task_item() == item_id_of("invoice:1")  # the user's work first
    assert next_task_item() == item_id_of("contact:49")  # then the big one's next batch, not its 51 stale tasks
    assert ran[2] == (big.id, [f"contact:{i}" for i in range(49, 98)])


def test_the_class_lines_in_order():
    assert line_of(0) == USER_LINE > process_inbox.s(1).priority > line_of(1, resumed=True) > line_of(1) == BULK_LINE


def drained(storage) -> list[tuple[str, int]]:
    """Everything in a storage's queue, in the order a consumer takes it."""
    out = []
    while (data := storage.dequeue()) is not None:
        task = huey.deserialize_task(data)
        out.append((task.name, task.args[0]))
    return out


def put(storage, task) -> None:
    """Enqueue as ``Huey.enqueue`` does (the tasks are registered with the app's queue)."""
    storage.enqueue(huey.serialize_task(task), task.priority)


def fill(storage) -> None:
    """Three bulk tasks, then an event, a resumed bulk batch and a user's task."""
    for n in (1, 2, 3):
        put(storage, run_work.s(n, priority=line_of(1)))
    put(storage, process_inbox.s(4))
    put(storage, run_work.s(5, priority=line_of(1, resumed=True)))
    put(storage, run_work.s(6, priority=line_of(0)))


IN_LINE_ORDER = [("run_work", 6), ("process_inbox", 4), ("run_work", 5),
                 ("run_work", 1), ("run_work", 2), ("run_work", 3)]


def test_the_embedded_sqlite_queue_hands_out_by_class(tmp_path):
    queue = _SqliteHuey("bridge", filename=str(tmp_path / "huey.db"))
    fill(queue.storage)
    assert drained(queue.storage) == IN_LINE_ORDER


@pytest.fixture
def redis_url():
    url = os.environ.get("TEST_REDIS_URL", "")
    require(bool(url), "the Redis queue's tests need Redis (TEST_REDIS_URL)")
    return url


@pytest.fixture
def queue_name(redis_url):
    """A queue of this test's own in the shared test database; its keys removed after."""
    import redis

    name = "bridgetest" + uuid.uuid4().hex[:12]
    yield name
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"huey.*{name}*"):
        client.delete(key)


def test_the_scale_out_redis_queue_hands_out_by_class(redis_url, queue_name):
    queue = make_redis_huey(redis_url, name=queue_name)
    fill(queue.storage)
    assert drained(queue.storage) == IN_LINE_ORDER


def test_tasks_queued_by_the_plain_redis_queue_before_an_upgrade_still_run(redis_url, queue_name):
    from huey import RedisHuey

    old = RedisHuey(queue_name, url=redis_url)  # the version before: one first-come list
    for n in (1, 2, 3):
        put(old.storage, run_work.s(n))
    new = make_redis_huey(redis_url, name=queue_name)  # after the upgrade, same name and key
    put(new.storage, run_work.s(9, priority=line_of(0)))  # the web enqueues a user's work first
    assert new.pending_count() == 4
    assert drained(new.storage) == [("run_work", 9), ("run_work", 1), ("run_work", 2), ("run_work", 3)]


def test_a_consumer_started_after_an_upgrade_runs_the_old_queue_before_anything_new_is_queued(
        redis_url, queue_name):
    from huey import RedisHuey

    old = RedisHuey(queue_name, url=redis_url)
    for n in (1, 2):
        put(old.storage, run_work.s(n))
    assert drained(make_redis_huey(redis_url, name=queue_name).storage) == [("run_work", 1), ("run_work", 2)]
