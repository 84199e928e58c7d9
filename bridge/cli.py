"""``flask`` commands for operators: sweep, prune, the reconciliation report, and running
queued jobs by hand."""
from __future__ import annotations

import click
from flask import current_app


def register_cli(app) -> None:
    @app.cli.command("sweep")
    def sweep_command() -> None:
        """Re-enqueue inbox events and work a dead worker left unfinished."""
        from .engine import sweep_once

        click.echo(sweep_once())

    @app.cli.command("prune")
    @click.option("--days", type=int, default=None, help="retention in days (default RETENTION_DAYS)")
    def prune_command(days: int | None) -> None:
        """Delete inbox payloads and sync records older than the retention period."""
        from .engine import prune_once

        click.echo(prune_once(days if days is not None else current_app.config["RETENTION_DAYS"]))

    @app.cli.command("reconcile-report")
    @click.argument("installation_id", type=int)
    @click.option("--since", default=None, help="only links changed since (ISO date/time, UTC)")
    def reconcile_report_command(installation_id: int, since: str | None) -> None:
        """Where the platform and the ledger disagree (every kind of difference, not stored), as CSV
        (docs/sync.md)."""
        from datetime import datetime

        from .extensions import db
        from .models import Installation
        from .sync.reconciliation import as_csv, scan
        from .sync.registry import ledger_for, platform_for

        installation = db.session.get(Installation, installation_id)
        if installation is None:
            raise click.ClickException(f"no installation {installation_id}")
        ledger, _ = ledger_for(installation)
        found = scan(installation, platform_for(installation), ledger,
                     datetime.fromisoformat(since) if since else None)
        click.echo(as_csv(found.differences, "en"), nl=False)

    @app.cli.command("demo-seed")
    def demo_seed_command() -> None:
        """Fill the sandbox and bridge with sample data (demo mode only)."""
        if current_app.config["BRIDGE_ENV"] not in ("demo", "test"):
            raise click.ClickException("demo-seed only runs with BRIDGE_ENV=demo")
        from .demo_data import seed

        for line in seed():
            click.echo(line)
