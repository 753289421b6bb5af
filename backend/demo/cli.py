"""``flask demo load``: idempotent demo data for ``make run`` (never for production)."""

from __future__ import annotations

import dataclasses
import json

import click
from flask import current_app
from flask.cli import AppGroup

from . import data
from .generate import BENCH_PASSWORD, generate

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


@demo_cli.command("generate")
@click.option("--residents", type=int, default=1000, show_default=True)
@click.option("--records", type=int, default=10000, show_default=True)
@click.option(
    "--out",
    default="instance/generated",
    show_default=True,
    help="directory for the generated partner files (JSON Lines)",
)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option(
    "--staff",
    type=click.IntRange(1, 100),
    default=4,
    show_default=True,
    help="merchant staff, and as many recycling-station staff",
)
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
def generate_command(
    residents: int, records: int, out: str, seed: int, staff: int, as_json: bool
) -> None:
    """Synthetic residents, bindings, partners, offers and partner records for load tests."""
    result = generate(residents, records, out, seed=seed, staff=staff)
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(result)))
        return
    click.echo(
        f"residents: {result.residents} (password {BENCH_PASSWORD}); "
        f"staff: {', '.join(result.staff)}; offers: {result.offers}"
    )
    for code, (key_id, secret) in result.partners.items():
        click.echo(f"partner {code}: key_id={key_id} secret={secret}")
    for code, path in result.files.items():
        click.echo(f"records for {code}: {path}")
    click.echo(f"import with: flask partners import FILE --partner CODE ({result.records} records)")
