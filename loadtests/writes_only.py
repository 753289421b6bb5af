"""The point-moving writes against the one-INSERT ceiling, and nothing else of ``make bench``.

``python -m loadtests.writes_only TOKENS.json [--users 50] [--seconds 20]`` (bench environment:
``BENCH_DB``, ``BENCH_REDIS_DB``, ``BENCH_WEB_PORT``, ``BENCH_CEILING_PORT`` as for bench.py)
runs, on a database ``bench.py`` prepared (or a copy of one) and tokens from
``python -m loadtests.tokens TOKENS.json --residents N --staff 400``, the two closed loops the
writes target compares: the ceiling app's ``Insert`` persona, then ``Resident,MerchantStaff``
with the ``write`` tag against the platform, each through ``bench.serving`` and
``bench.locust`` exactly as ``bench.main`` runs them. It prints both rates, their ratio and
the CPU each process group used (per cent of a core), as the bench reports them.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from sqlalchemy import create_engine, text

from loadtests import bench
from loadtests.report import point_moving_rps, total_rps


def _offers() -> str:
    engine = create_engine(bench.env()["DATABASE_URL"])
    with engine.connect() as conn:
        ids = conn.execute(
            text("SELECT id FROM offers WHERE status = 'active' ORDER BY id LIMIT 3")
        )
        return ",".join(str(row[0]) for row in ids)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("tokens")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--residents", type=int, default=bench.TOKEN_RESIDENTS)
    args = parser.parse_args()
    meta: dict[str, Any] = {
        "tokens": args.tokens,
        "residents": args.residents,
        "offers": _offers(),
        "partners": {"bench-bus": ("", "")},  # no partner persona here
    }
    runs: dict[str, dict[str, Any]] = {}
    with bench.serving("loadtests.ceiling_app:app", bench.CEILING_PORT) as ceiling:
        bench.settle([ceiling.pid])
        watch = {"gunicorn": [ceiling.pid]}
        runs["insert"] = bench.locust(
            "Insert",
            "",
            args.users,
            args.seconds,
            bench.CEILING_PORT,
            1,
            meta,
            True,
            watch,
            label="insert",
        )
    with bench.serving("backend.wsgi:app", bench.WEB_PORT) as web:
        bench.settle([web.pid])
        watch = {"gunicorn": [web.pid]}
        runs["writes"] = bench.locust(
            "Resident,MerchantStaff",
            "write",
            args.users,
            args.seconds,
            bench.WEB_PORT,
            1,
            meta,
            True,
            watch,
            label="writes",
        )
    insert, writes = total_rps(runs["insert"]), point_moving_rps(runs["writes"])
    print(json.dumps({"insert": insert, "point_moving_writes": writes, "ratio": writes / insert}))
    for name, run in runs.items():
        print(name, json.dumps(run["cpu"].get("groups_pct_of_core"), default=str))


if __name__ == "__main__":
    main()
