"""``flask ledger reconcile`` and ``flask ledger expire``."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from .expiry import expire_due_points
from .reconcile import reconcile

ledger_cli = AppGroup("ledger", help="The points ledger.")


@ledger_cli.command("reconcile")
def reconcile_command() -> None:
    """Recompute every balance from postings; exit 1 on any discrepancy."""
    report = reconcile()
    click.echo(
        f"accounts: {report.accounts}  entries: {report.entries}  postings: {report.postings}"
    )
    click.echo(
        f"points issued: {report.points_issued}  "
        f"held by residents and merchants: {report.points_in_circulation}"
    )
    click.echo(f"reductions retired: {report.grams_retired} g CO2e")
    forest = report.forest_grams
    click.echo(
        f"forest removals: counted {forest.get('forest_counted', 0)} g  "
        f"buffer {forest.get('forest_buffer', 0)} g  "
        f"cancelled {forest.get('forest_cancelled', 0)} g CO2e"
    )
    if report.clean:
        click.echo("reconcile: clean")
        return
    for problem in report.problems:
        click.echo(f"PROBLEM: {problem}", err=True)
    click.echo(f"reconcile: {len(report.problems)} problem(s)", err=True)
    sys.exit(1)


@ledger_cli.command("expire")
def expire_command() -> None:
    """Post the expiry entries that are due now."""
    accounts, points = expire_due_points()
    click.echo(f"expired {points} points on {accounts} accounts")
