"""``flask demo load``: idempotent demo data for ``make run`` (never for production)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from . import data

demo_cli = AppGroup("demo", help="Demo data for local runs.")


@demo_cli.command("load")
@click.option("--allow-production", is_flag=True, help="load even with APP_ENV=production")
def load(allow_production: bool) -> None:
    """Create demo accounts, a merchant and a partner; a second run adds nothing."""
    if current_app.config["APP_ENV"] == "production" and not allow_production:
        raise click.ClickException("refusing to load demo accounts into a production config")
    created = data.load_demo()
    click.echo(f"demo data: {created} new objects" if created else "demo data: already loaded")
    click.echo(data.logins_text())
