"""Demo data: the sandbox DG1 tenant ``demo`` registered in bridge (docs/sandbox/dg1.md)."""
from __future__ import annotations

from typing import Iterator

from flask import current_app

from .tenants import add_tenant

DEMO_TENANT = "demo"


def seed_demo_tenant() -> Iterator[str]:
    """Register the sandbox's tenant with its published sandbox secrets."""
    tenant = DEMO_TENANT
    installation = add_tenant(tenant, api_key=f"dg1-demo-key-{tenant}",
                              webhook_secret=f"dg1-demo-webhook-{tenant}",
                              launch_secret=f"dg1-demo-launch-{tenant}", name="Demo Shop AG")
    admin = current_app.config["DG1_ADMIN_URL"]
    yield (f"DG1: tenant {tenant} registered (installation {installation.id}); "
           f"open {admin}/{tenant}/bexio/orders for the Bexio integration pages.")
