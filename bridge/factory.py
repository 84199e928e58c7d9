"""The application factory: configuration, extensions, blueprints, CLI."""
from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import PROJECT_ROOT, Config
from .extensions import db, migrate
from .numbers import DatabaseIdConverter
from .redaction import install_redaction


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """WAL lets callbacks be written while a worker reads; the busy timeout makes writers
    wait for each other instead of failing with "database is locked"."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def create_app(config: dict[str, Any] | None = None) -> Flask:
    settings = Config(config).as_mapping()
    instance = Path(settings["INSTANCE_PATH"])
    instance.mkdir(parents=True, exist_ok=True)
    app = Flask(
        "bridge",
        root_path=str(PROJECT_ROOT),
        instance_path=str(instance),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.from_mapping(settings)
    app.url_map.converters["int"] = DatabaseIdConverter  # before any route is added
    app.config.setdefault("BRIDGE_PLUGINS", os.environ.get("BRIDGE_PLUGINS", ""))
    install_redaction(app)

    if app.config["TRUST_PROXY_HOPS"]:
        hops = app.config["TRUST_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))

    from . import all_models  # noqa: F401  (register every table with the metadata)
    from . import sync  # noqa: F401  (register the flows with the job engine)
    from . import alerts  # noqa: F401  (registers its failure hook with the engine, and its daily job)
    from .engine import bind_app
    from .web import register_blueprints
    from .safe_url import init_safe_urls
    from .cli import register_cli

    # Extra modules that register flows, inbox handlers or blueprints (a plugin point;
    # comma-separated import paths in BRIDGE_PLUGINS).
    for module_name in filter(None, (m.strip() for m in str(app.config.get("BRIDGE_PLUGINS") or "").split(","))):
        importlib.import_module(module_name)

    from .connectors import init_connectors

    register_blueprints(app)
    init_safe_urls(app)  # one rule for links whose address came from outside (safe_href, outside_link)
    init_connectors(app)
    register_cli(app)
    bind_app(app)
    return app
