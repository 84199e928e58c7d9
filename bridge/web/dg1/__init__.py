"""The admin pages DG1 frames (its "Bexio integration" menu): launch, orders, products
(``admin.py``) and settings (``settings.py``), one blueprint.

The launch's signature check, the cookie-less session and the tenant's secrets are the
connector's library code (``bridge/connectors/dg1``); nothing here is imported by it.
"""
from __future__ import annotations

from .admin import bp
from . import settings  # noqa: F401,E402  (its routes on the same blueprint)
from . import report  # noqa: F401,E402  (the reconciliation report, on the same blueprint)

__all__ = ["bp"]
