"""``flask partners import`` and ``flask methodologies recompute --check``."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from typing import Any

import click

from ..errors import DomainError
from ..partners.queries import partner_by_code
from .ingest import import_file
from .recompute import recompute_check


def register(partners_cli: click.Group, methodologies_cli: click.Group) -> None:
    @partners_cli.command("import")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    @click.option("--partner", "partner_code", required=True, help="the partner's code")
    @click.option("--chunk", default=10000, show_default=True, help="records per transaction")
    @click.option(
        "--workers",
        default=1,
        show_default=True,
        help="parallel processes, each taking a share of the residents",
    )
    @click.option("--shard", default=None, hidden=True, help="k/n: this process's share")
    @click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
    def import_command(
        path: str, partner_code: str, chunk: int, workers: int, shard: str | None, as_json: bool
    ) -> None:
        """Stream a day's file (CSV or JSON Lines) through verification and crediting."""
        partner = partner_by_code(partner_code)
        if partner is None:
            raise click.ClickException(f"unknown partner {partner_code}")
        started = time.perf_counter()
        if workers > 1:
            result = _parallel(path, partner_code, chunk, workers)
        else:
            result = _import(partner, path, chunk, _shard(shard), show=not as_json)
        result["seconds"] = round(time.perf_counter() - started, 2)
        result.setdefault("work_seconds", result["seconds"])
        if as_json:
            click.echo(json.dumps(result))
            return
        rate = result["records"] / result["seconds"] if result["seconds"] else 0
        click.echo(
            f"batch {result['batches']}: {result['records']} records in "
            f"{result['seconds']:.1f} s ({rate:,.0f} records/s)"
        )
        click.echo(
            f"credited {result['credited']}, rejected {result['rejected']}, "
            f"duplicate {result['duplicate']}, review {result['review']}, "
            f"unmatched {result['unmatched']}"
        )
        click.echo(f"reduction {result['reduction_g']} g, points {result['points']}")

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


def _shard(raw: str | None) -> tuple[int, int] | None:
    if not raw:
        return None
    k, n = (int(part) for part in raw.split("/"))
    return k, n


def _import(
    partner: Any, path: str, chunk: int, shard: tuple[int, int] | None, show: bool
) -> dict[str, Any]:
    try:
        if show:
            with click.progressbar(
                length=os.path.getsize(path), label="importing", file=sys.stderr
            ) as bar:
                batch, summary = import_file(
                    partner, path, chunk_size=chunk, progress=bar.update, shard=shard
                )
        else:
            batch, summary = import_file(partner, path, chunk_size=chunk, shard=shard)
    except DomainError as exc:
        raise click.ClickException(f"{exc.code}: {exc.localized_message()}") from exc
    return {"batches": str(batch.id), "records": batch.total, **dataclasses.asdict(summary)}


def _parallel(path: str, partner_code: str, chunk: int, workers: int) -> dict[str, Any]:
    """Run ``workers`` processes on disjoint shards of the residents and add up their results."""
    procs = [
        subprocess.Popen(  # noqa: S603 - our own CLI with our arguments
            [
                sys.executable,
                "-m",
                "flask",
                "partners",
                "import",
                path,
                "--partner",
                partner_code,
                "--chunk",
                str(chunk),
                "--shard",
                f"{k}/{workers}",
                "--json",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for k in range(workers)
    ]
    total: dict[str, Any] = {"batches": []}
    for proc in procs:
        output, _ = proc.communicate()
        if proc.returncode:
            raise click.ClickException(f"a worker failed (exit {proc.returncode})")
        part = json.loads(output.strip().splitlines()[-1])
        total["batches"].append(part.pop("batches"))
        # the slowest shard's own clock: the work, without the processes' start-up
        total["work_seconds"] = max(total.get("work_seconds", 0.0), part.pop("seconds", 0.0))
        part.pop("work_seconds", None)  # the same clock again: not a count to add up
        for key, value in part.items():
            total[key] = total.get(key, 0) + value
    total["batches"] = ",".join(total["batches"])
    return total
