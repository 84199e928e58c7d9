"""Fixtures for testing the simulators on their own, over real HTTP."""
from __future__ import annotations

import pytest

from bridge.sandbox import SandboxHost, create_sandbox_app
from tests.support.servers import serve_in_thread


@pytest.fixture
def sandbox():
    """A fresh sandbox on a random loopback port. ``sandbox.url``, ``sandbox.host``."""
    host = SandboxHost(app_url="http://127.0.0.1:9", public_url="")
    running = serve_in_thread(create_sandbox_app(host))
    host.public_url = running.url
    running.host = host
    yield running
    running.stop()
