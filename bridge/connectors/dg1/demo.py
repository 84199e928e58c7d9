"""Demo data: the sandbox DG1 tenant ``demo`` registered in bridge (docs/sandbox/dg1.md)."""
from __future__ import annotations

from typing import Iterator

from flask import current_app

from .tenants import add_tenant

DEMO_TENANT = "demo"
SWISS_TENANT = "alpen"


def seed_demo_tenant() -> Iterator[str]:
    """Register the sandbox's tenant with its published sandbox secrets."""
    yield register_sandbox_tenant(DEMO_TENANT, "Demo Shop AG")


def seed_demo_tenants() -> Iterator[str]:
    """Demo mode: both sandbox shops. ``alpen`` sells in CHF only, so its Bexio settings can
    be saved as they are; ``demo`` has a EUR site and shows the currency rule refusing."""
    yield register_sandbox_tenant(DEMO_TENANT, "Demo Shop AG")
    yield register_sandbox_tenant(SWISS_TENANT, "Alpen Laden GmbH")


def register_sandbox_tenant(tenant: str, name: str) -> str:
    installation = add_tenant(tenant, api_key=f"dg1-demo-key-{tenant}",
                              webhook_secret=f"dg1-demo-webhook-{tenant}",
                              launch_secret=f"dg1-demo-launch-{tenant}", name=name)
    admin = current_app.config["DG1_ADMIN_URL"]
    return (f"DG1: tenant {tenant} registered (installation {installation.id}); "
            f"open {admin}/{tenant}/bexio/orders for the Bexio integration pages.")
