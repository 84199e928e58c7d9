"""The model suite's settings profiles and its one live world per module.

Profiles (``BRIDGE_MODEL_PROFILE`` picks one for the random runs; the fixed set always
uses ``model-fast``):

- ``model-fast``: the fixed seeded set of ``make test``: few, short histories.
- ``model-slow``: ``make test-slow``: 500+ short histories.
- ``model-soak``: a long search by hand (``BRIDGE_MODEL_EXAMPLES`` histories).

No example database: a history is found again from its seed alone (the replay command a
failure prints), never from what an earlier run stored in ``.hypothesis/``.
"""
from __future__ import annotations

import logging
import os

import pytest
from hypothesis import HealthCheck, Phase, settings

from tests.conftest import database_url

logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request: thousands a history
COMMON = dict(deadline=None, database=None, derandomize=False, print_blob=False,
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
settings.register_profile("model-fast", max_examples=int(os.environ.get("BRIDGE_MODEL_EXAMPLES", 12)),
                          stateful_step_count=11, phases=(Phase.explicit, Phase.generate, Phase.shrink), **COMMON)
settings.register_profile("model-slow", max_examples=int(os.environ.get("BRIDGE_MODEL_EXAMPLES", 125)),
                          stateful_step_count=10, **COMMON)
settings.register_profile("model-soak", max_examples=int(os.environ.get("BRIDGE_MODEL_EXAMPLES", 1000)),
                          stateful_step_count=25, **COMMON)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """bridge and the sandbox, started once for the module; each history resets them."""
    from bridge.extensions import db, huey
    from tests.conftest import require
    from tests.model.world import World
    from tests.support import xero_spec

    require(xero_spec.spec_dir() is not None, "Xero specs not found (XERO_SPEC_DIR)")
    tmp = tmp_path_factory.mktemp("model")
    running = World(tmp, database_url(tmp))
    yield running
    running.stop()
    with running.app.app_context():
        db.session.remove()
        db.engine.dispose()
    huey.flush()
