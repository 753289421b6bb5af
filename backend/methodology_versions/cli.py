"""``flask methodologies seed|list|recompute``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from . import queries, services

methodologies_cli = AppGroup("methodologies", help="Methodology versions.")


@methodologies_cli.command("seed")
def seed() -> None:
    """Approve each module's cited defaults as v1 where a methodology has no version yet,
    and offer newer module versions (e.g. 2.0.0: credits rounded down) as drafts."""
    created = services.seed_versions()
    click.echo(f"seeded {created} methodology versions" if created else "nothing to seed")
    offered = services.offer_module_versions()
    if offered:
        click.echo(
            f"offered {offered} new module versions as drafts: an administrator submits "
            "each for review and another approves it (admin → Methodologies)"
        )


@methodologies_cli.command("list")
def list_versions() -> None:
    """Each methodology with its version in force and pending proposals."""
    for row in queries.overview():
        version = row.in_force
        label = f"{version.label} ({version.params_hash[:12]})" if version else "none in force"
        click.echo(f"{row.code:<16} {label:<24} pending: {row.pending}")
