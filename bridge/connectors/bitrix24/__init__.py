"""Bitrix24: the CRM platform (app install, iframe pages, event callbacks, REST client).

See docs/bitrix24.md for setting it up, https://apidocs.bitrix24.com/ for the API facts
(docs/sources.md lists the pages behind the ``NOTES §n`` citations in this package).
"""
from __future__ import annotations


def init_app(app) -> None:
    from ...demo_data import SEEDERS
    from . import demo, inbox, reconcile, uninstall  # noqa: F401  (register the inbox handler, the periodic job, the uninstall check)
    from ...sync.registry import register_platform
    from .cli import register_cli
    from .platform import Bitrix24Platform
    from .hooks import bp

    register_platform("bitrix24", lambda app, installation: Bitrix24Platform.build(installation))
    if "bitrix24_hooks" not in app.blueprints:
        app.register_blueprint(bp)
    register_cli(app)
    if app.config["BRIDGE_ENV"] == "demo" and demo.seed not in SEEDERS:
        SEEDERS.append(demo.seed)
