"""Every table bridge has, for the metadata: the core's and the connectors' and dashboard's.

The app factory imports this (so ``db.create_all`` and Alembic's autogenerate see every
table), not ``bridge.models``: the core models must not import the connectors, whose
models import the core's.
"""
from __future__ import annotations

from . import models  # noqa: F401
from .connectors.bitrix24 import models as bitrix24_models  # noqa: F401  (Bitrix24 connector tables)
from .connectors.xero import models as xero_models  # noqa: F401  (Xero contact index)
from .dashboard import models as dashboard_models  # noqa: F401  (dashboard, alerts, operators)
from . import report_models  # noqa: F401  (the reconciliation report's runs and rows)
