"""Blueprints, one per feature. Connectors and the UI add theirs to ``BLUEPRINTS``."""
from __future__ import annotations

import importlib

# module path -> attribute holding the Blueprint
BLUEPRINTS: list[tuple[str, str]] = [
    ("bridge.web.health", "bp"),
    ("bridge.web.unavailable", "bp"),  # 503 + Retry-After while the database is unreachable
    ("bridge.web.landing", "bp"),
    ("bridge.web.bitrix24.dashboard", "bp"),
    ("bridge.web.operator", "bp"),
    ("bridge.web.bitrix24.app", "bp"),  # the Bitrix24 app's install page, main page and invoice tab
    ("bridge.web.bitrix24.settings", "bp"),  # the Bitrix24 app's settings page
    ("bridge.web.bitrix24.sync_log", "bp"),  # the Bitrix24 app's sync log
    ("bridge.web.dg1", "bp"),  # the admin pages DG1 frames
    ("bridge.web.bexio.connect", "bp"),  # Bexio's connect pages
    ("bridge.web.xero.connect", "bp"),  # Xero's settings and connect pages
]


def register_blueprints(app) -> None:
    from .framing import init_framing
    from .i18n import init_i18n
    from .inbound import init_inbound_checks

    init_framing(app)  # frame-ancestors 'none' wherever a page sets no policy of its own
    init_inbound_checks(app)  # a NUL in the path, query or form: 400 before any view (PostgreSQL cannot store it)
    init_i18n(app)  # the pages' language (portal LANG) and locale formats, before any page renders
    for module_name, attribute in BLUEPRINTS:
        module = importlib.import_module(module_name)
        app.register_blueprint(getattr(module, attribute))
