"""Work that ran too early runs again when asked: every item of the flow under a key prefix,
of that installation only, with the options it was first asked with."""
from __future__ import annotations

from bridge import engine
from bridge.extensions import db


def test_asking_again_reruns_the_matching_items_of_one_installation_with_their_options(
        two_installations, order, run_jobs):
    big, quiet = two_installations
    ran, during = order
    asks = [(big, "refund:100#a"), (big, "refund:100#b"), (big, "refund:1001#c"), (quiet, "refund:100#a")]
    for installation, key in asks:
        engine.request_work(engine.WorkRequest(installation.id, "fair_one", key, {"refund": {"id": key[-1]}}))
    db.session.commit()
    run_jobs()
    ran.clear()
    seen: dict[str, dict] = {}
    for key in ("refund:100#a", "refund:100#b"):
        during[key] = lambda ctx: seen.setdefault(ctx.object_key, dict(ctx.options))

    assert engine.request_again(big.id, "fair_one", "refund:100#") == 2
    db.session.commit()
    run_jobs()

    assert sorted(key for _, keys in ran for key in keys) == ["refund:100#a", "refund:100#b"]
    assert {installation_id for installation_id, _ in ran} == {big.id}
    assert seen == {"refund:100#a": {"refund": {"id": "a"}}, "refund:100#b": {"refund": {"id": "b"}}}
