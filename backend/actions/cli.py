"""``flask partners import`` and ``flask methodologies recompute --check``."""

from __future__ import annotations

import os
import sys
import time

import click

from ..errors import DomainError
from .ingest import import_file
from .recompute import recompute_check
from .routes import partner_by_code


def register(partners_cli: click.Group, methodologies_cli: click.Group) -> None:
    @partners_cli.command("import")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    @click.option("--partner", "partner_code", required=True, help="the partner's code")
    @click.option("--chunk", default=2000, show_default=True, help="records per transaction")
    def import_command(path: str, partner_code: str, chunk: int) -> None:
        """Stream a day's file (CSV or JSON Lines) through verification and crediting."""
        partner = partner_by_code(partner_code)
        if partner is None:
            raise click.ClickException(f"unknown partner {partner_code}")
        started = time.perf_counter()
        try:
            with click.progressbar(
                length=os.path.getsize(path), label="importing", file=sys.stderr
            ) as bar:
                batch, summary = import_file(partner, path, chunk_size=chunk, progress=bar.update)
        except DomainError as exc:
            raise click.ClickException(f"{exc.code}: {exc.localized_message()}") from exc
        seconds = time.perf_counter() - started
        rate = batch.total / seconds if seconds else 0
        click.echo(
            f"batch {batch.id}: {batch.total} records in {seconds:.1f} s ({rate:,.0f} records/s)"
        )
        click.echo(
            f"credited {summary.credited}, rejected {summary.rejected}, "
            f"duplicate {summary.duplicate}, review {summary.review}, "
            f"unmatched {summary.unmatched}"
        )
        click.echo(f"reduction {summary.reduction_g} g, points {summary.points}")

    @methodologies_cli.command("recompute")
    @click.option(
        "--check",
        is_flag=True,
        required=True,
        help="re-derive every stored reduction and report differences",
    )
    def recompute(check: bool) -> None:
        """Re-derive every stored reduction; exit 1 on any difference."""
        report = recompute_check()
        for difference in report.differences:
            click.echo(f"DIFFERENCE: {difference}", err=True)
        click.echo(
            f"recompute: {report.checked} reductions checked, {len(report.differences)} differences"
        )
        if report.differences:
            sys.exit(1)
