"""``flask bitrix24 ...``: operator commands (webhook mode, reconcile by hand)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

bitrix24_cli = AppGroup("bitrix24", help="Bitrix24 connector commands.")


@bitrix24_cli.command("webhook")
@click.argument("url")
def webhook(url: str) -> None:
    """Connect a self-hosted portal by its inbound webhook URL (sync only, no iframe)."""
    from .store import save_webhook

    installation = save_webhook(url)
    click.echo(f"Connected {installation.domain} in webhook mode (installation {installation.id}).")


@bitrix24_cli.command("reconcile")
def reconcile() -> None:
    """List what changed since the last run on every portal and request its sync."""
    from .reconcile import reconcile_all

    click.echo(reconcile_all())
