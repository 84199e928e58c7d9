"""The worker process's entry point: ``huey_consumer bridge.worker.huey``.

Importing this module builds the app once, so every flow, inbox handler and periodic job
is registered before the consumer's scheduler starts, and binds it to the engine
(``create_app`` does), so tasks run inside it. The engine never builds an app itself: it
would have to import the factory, which imports the flows, which import the engine.
"""
from __future__ import annotations

from .extensions import huey
from .factory import create_app

app = create_app()

__all__ = ["app", "huey"]
