"""Blueprints, one per feature: the pages of no one system here (``BLUEPRINTS``), then each
connector's (its callback receivers and the pages in ``bridge/web/<kind>/``), as its
descriptor lists them (``bridge/connectors/<kind>/__init__.py``)."""
from __future__ import annotations

import importlib

# module path -> attribute holding the Blueprint
BLUEPRINTS: list[tuple[str, str]] = [
    ("bridge.web.health", "bp"),
    ("bridge.web.unavailable", "bp"),  # 503 + Retry-After while the database is unreachable
    ("bridge.web.landing", "bp"),
    ("bridge.web.operator", "bp"),
]


def register_blueprints(app) -> None:
    from ..connectors import CONNECTORS
    from .framing import init_framing
    from .i18n import init_i18n
    from .inbound import init_inbound_checks

    from .error_pages import init_error_pages

    init_framing(app)  # frame-ancestors 'none' wherever a page sets no policy of its own
    init_error_pages(app)  # a failure reads in the viewer's language, framed for the page's portal or shop
    init_inbound_checks(app)  # a NUL in the path, query or form: 400 before any view (PostgreSQL cannot store it)
    init_i18n(app)  # the pages' language (portal LANG) and locale formats, before any page renders

    for module_name, attribute in BLUEPRINTS:
        module = importlib.import_module(module_name)
        app.register_blueprint(getattr(module, attribute))
    for connector in CONNECTORS:
        for ref in connector.blueprints:
            blueprint = connector.load(ref)
            if blueprint.name not in app.blueprints:
                app.register_blueprint(blueprint)
