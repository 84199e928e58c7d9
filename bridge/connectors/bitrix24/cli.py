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


@bitrix24_cli.command("settings")
@click.argument("installation_id", type=int)
@click.argument("section")
@click.argument("values")
def settings(installation_id: int, section: str, values: str) -> None:
    """Save one settings section as JSON, checked as the settings page checks it: how a portal
    in webhook mode, which has no settings page, maps taxes and accounts (docs/bitrix24.md).
    Example: flask bitrix24 settings 3 mapping '{"tax_rates": {"15": "OUTPUT2"}, "default_sales_account": "200"}'"""
    import json

    from ...extensions import db
    from ...models import Installation
    from ...settings import SECTIONS, SettingsError, save_section

    installation = db.session.get(Installation, installation_id)
    if installation is None:
        raise click.ClickException(f"No installation {installation_id}.")
    if section not in SECTIONS:
        raise click.ClickException(f"No settings section {section!r}; there are: {', '.join(sorted(SECTIONS))}.")
    try:
        save_section(installation, section, json.loads(values))
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"That is not JSON: {exc.msg}.") from None
    except SettingsError as exc:
        raise click.ClickException("; ".join(f"{field}: {why}" for field, why in exc.errors.items())) from None
    db.session.commit()
    click.echo(f"Saved {section} of installation {installation_id}.")


@bitrix24_cli.command("poll")
def poll() -> None:
    """List what changed on every portal in webhook mode and request its sync (what the worker
    does every few minutes; docs/bitrix24.md, "Webhook mode")."""
    from .webhook import poll_all

    click.echo(poll_all())


@bitrix24_cli.command("pages-link")
@click.argument("installation_id", type=int)
@click.option("--lang", default=None, help="The pages' language, e.g. de (default: the portal's).")
def pages_link(installation_id: int, lang: str | None) -> None:
    """Print links (valid an hour; the pages renew them while in use) to an installation's sync
    log, settings page and dashboard: how a portal in webhook mode, which has no app in Bitrix24
    to open them from, sees what was synced and what failed (docs/bitrix24.md, "Webhook mode")."""
    from flask import current_app, url_for

    from ...extensions import db
    from ...models import Installation
    from .iframe import pages_token

    installation = db.session.get(Installation, installation_id)
    if installation is None or installation.platform != "bitrix24" or installation.state != "active":
        raise click.ClickException(f"No active Bitrix24 installation {installation_id}.")
    token = pages_token(installation, lang or installation.language or "en")
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_URL"]):
        for title, endpoint in (("Sync log", "sync_log.page"), ("Settings", "app_settings.page"),
                                ("Dashboard", "dashboard.page")):
            click.echo(f"{title}: {url_for(endpoint, token=token, _external=True)}")
