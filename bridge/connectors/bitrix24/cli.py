"""``flask bitrix24 ...``: operator commands (webhook mode, reconcile by hand)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

bitrix24_cli = AppGroup("bitrix24", help="Bitrix24 connector commands.")


@bitrix24_cli.command("webhook")
@click.argument("url")
def webhook(url: str) -> None:
    """Connect a self-hosted portal by its inbound webhook URL: creates the "Sync with" field
    where the webhook may, then polls for changes (docs/bitrix24.md, "Webhook mode")."""
    from .webhook import POLL_MINUTES, connect

    installation, result = connect(url)
    kinds = [name for name, present in (("smart invoices", result.smart_invoices),
                                        ("old invoices", result.legacy_invoices)) if present]
    click.echo(f"Connected {installation.domain} in webhook mode (installation {installation.id}): "
               f"{' and '.join(kinds) or 'no invoices readable'}; changes are polled every {POLL_MINUTES} minutes.")
    for warning in result.warnings:
        click.echo(f"Note: {warning}")


@bitrix24_cli.command("reconcile")
def reconcile() -> None:
    """List what changed since the last run on every portal and request its sync."""
    from .reconcile import reconcile_all

    click.echo(reconcile_all())
