"""``flask dg1 ...``: register a DG1 tenant in bridge (docs/dg1.md, "Registering a tenant")."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from ...errors import SyncError
from .tenants import ROTATION_WINDOW, add_tenant, client_for

dg1_cli = AppGroup("dg1", help="DG1 shop tenants.")


@dg1_cli.command("add-tenant")
@click.option("--tenant", required=True, help="The DG1 tenant id.")
@click.option("--api-key", required=True, help="The tenant's API key (DG1 admin panel).")
@click.option("--webhook-secret", required=True, help="The secret DG1 signs webhooks with.")
@click.option("--launch-secret", required=True, help="The secret DG1 signs admin launch URLs with.")
@click.option("--admin-origin", default=None,
              help="Origin of the tenant's DG1 admin panel, the only page allowed to frame bridge "
                   "(default: the origin of DG1_ADMIN_URL).")
@click.option("--name", default="", help="A name to show for the tenant.")
@click.option("--check/--no-check", default=True, help="Call DG1 with the API key before saving.")
@click.option("--rotation-hours", default=ROTATION_WINDOW // 3600, show_default=True, type=click.IntRange(0),
              help="When the webhook secret changes, how long the previous one is still accepted.")
def add_tenant_command(tenant: str, api_key: str, webhook_secret: str, launch_secret: str,
                       admin_origin: str | None, name: str, check: bool, rotation_hours: int) -> None:
    """Register a DG1 tenant, or replace its secrets. Secrets are stored encrypted."""
    try:
        installation = add_tenant(tenant, api_key=api_key, webhook_secret=webhook_secret,
                                  launch_secret=launch_secret, admin_origin=admin_origin, name=name,
                                  rotation_window=rotation_hours * 3600)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    click.echo(f"DG1 tenant {tenant} registered (installation {installation.id}); "
               f"admin origin {installation.endpoints['admin_origin']}.")
    if check:
        try:
            sites = client_for(installation).sites()
        except SyncError as exc:
            raise click.ClickException(f"Saved, but DG1 refused the check: {exc.message} {exc.fix or ''}".strip())
        click.echo("DG1 accepted the API key; sites: " + ", ".join(f"{s['id']} ({s['currency']})" for s in sites))
