"""One package per external system, the same shape inside each (see DESIGN):

- ``client.py``: HTTP, auth, batching, paging; no business rules;
- ``mapper.py``: pure functions wire <-> ``bridge.domain``; no I/O;
- ``hooks.py``: verify and parse inbound callbacks into inbox events;
- ``web.py``: the system's own pages (install, OAuth connect, callbacks).

A connector package may define ``init_app(app)``; it is called at start-up, and is where
the connector registers its blueprints, inbox handler and periodic jobs.
"""
from __future__ import annotations

import importlib

CONNECTORS = ("xero", "bitrix24", "bexio", "dg1")


def init_connectors(app) -> None:
    for name in CONNECTORS:
        module = importlib.import_module(f"{__name__}.{name}")
        init = getattr(module, "init_app", None)
        if init is not None:
            init(app)
