"""The worker's import path before the engine became the ``bridge.engine`` package.

Kept so that a worker started the old way, ``huey_consumer bridge.jobs.huey`` (Procfiles
and service files written before the upgrade), keeps running: it is the worker entry point
(``bridge.worker``) under its old name. The tasks kept their names too, so what was queued
before the upgrade still runs. Code imports ``bridge.engine``; never import this module
from the app (it builds an app).
"""
from __future__ import annotations

from .worker import app, huey

__all__ = ["app", "huey"]
