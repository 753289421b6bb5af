"""Only the hello-world ceiling and the resident reads of ``make bench``, on a database the
bench prepared before (a minute instead of seventeen): the reads' ratio to the ceiling of the
same moment, as the report computes it, with each process group's CPU per request.

    BENCH_DB=carbon_bench_r BENCH_REDIS_DB=5 BENCH_WEB_PORT=8301 BENCH_CEILING_PORT=8302 \\
    BENCH_LOCUST_PORT=5571 python loadtests/reads.py --residents 5000 [--users 50 --seconds 20]

It runs what ``bench.py --reuse`` runs first, with the same functions: ``prepare`` without
recreating the database (migrations, the demo data kept, tokens and page sessions issued
again), ``quiesce`` (the database vacuumed, analyzed and checkpointed, autovacuum idle, as
the bench does before its closed loops), the ceiling app's ``Hello`` persona, then the
platform's ``Resident`` persona with its ``read`` tasks; both closed loops, each under
gunicorn as the bench serves it. ``--order reads-first`` swaps the two runs. One line of
JSON per run, then the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from loadtests import bench  # noqa: E402 - the repository on the path first
from loadtests.report import READS, total_rps  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, required=True, help="as the bench prepared")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--locust-processes", type=int, default=2)
    parser.add_argument("--order", choices=("hello-first", "reads-first"), default="hello-first")
    args = parser.parse_args()

    meta = bench.prepare(args.residents, fresh=False)
    meta["residents"] = args.residents
    bench.log(f"quiet database: {bench.quiesce()}")
    runs: dict[str, dict[str, object]] = {}

    def closed_loop(name: str, app: str, port: int, classes: str, tags: str) -> None:
        with bench.serving(app, port) as server:
            bench.settle([server.pid])
            runs[name] = bench.locust(
                classes,
                tags,
                args.users,
                args.seconds,
                port,
                args.locust_processes,
                meta,
                True,
                {"gunicorn": [server.pid]},
                label=name,
            )

    steps = [
        ("hello", "loadtests.ceiling_app:app", bench.CEILING_PORT, "Hello", ""),
        ("reads", "backend.wsgi:app", bench.WEB_PORT, "Resident", "read"),
    ]
    for step in steps if args.order == "hello-first" else steps[::-1]:
        closed_loop(*step)
    hello_rps = total_rps(runs["hello"])
    reads_rps = round(sum(total_rps(runs["reads"], name) for name in READS), 1)
    for name, data in runs.items():
        endpoints = data["endpoints"]
        assert isinstance(endpoints, dict)
        cpu = data["cpu"]
        assert isinstance(cpu, dict)
        requests = max(1, sum(value["requests"] for value in endpoints.values()))
        print(
            json.dumps(
                {
                    "run": name,
                    "rps": {key: value["rps"] for key, value in endpoints.items()},
                    "failed": sum(value["failed"] for value in endpoints.values()),
                    "cpu_pct_of_core": cpu["groups_pct_of_core"],
                    # each group's CPU over the run per request measured (the groups'
                    # "postgresql" is every PostgreSQL process: neighbours' too)
                    "cpu_ms_per_request": {
                        group: round(pct / 100 * cpu["seconds"] / requests * 1000, 3)
                        for group, pct in cpu["groups_pct_of_core"].items()
                    },
                    "load": [round(value, 2) for value in os.getloadavg()],
                }
            )
        )
    print(
        json.dumps(
            {
                "hello_rps": hello_rps,
                "reads_rps": reads_rps,
                "ratio": round(reads_rps / hello_rps, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
