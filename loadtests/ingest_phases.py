"""CPU and wall time per phase of one streaming import, in one process (issue 18, round 4).

    PYTHONPATH=. DATABASE_URL=... python -m loadtests.ingest_phases FILE --partner CODE

Each phase's function is wrapped in a timer (``time.process_time`` and ``perf_counter``);
nested phases are counted in their callers too. The import is the real one
(``ingest.import_file``, chunks of 10,000): the records are stored and credited. The least
and the median CPU per record of the whole chunks are printed too.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from backend.actions import columnar, ingest, verification
from backend.app import create_app
from backend.extensions import db
from backend.partners.models import Partner

PHASES: tuple[tuple[Any, str], ...] = (
    (ingest, "_ingest_chunk"),
    (ingest, "_identity_hashes"),
    (ingest, "_received"),
    (ingest, "verify_new"),
    (verification, "_decide"),
    (columnar, "prepare"),
    (columnar, "precompute"),
    (verification, "_verify_resident"),
    (verification, "_contexts"),
    (verification, "_stored_pg"),
    (verification, "_day_pairs"),
    (verification, "credit_many"),
    (verification, "notify_many"),
    (verification, "insert_rows"),
    (verification, "resident_account_ids"),
    (verification, "lock_account_ids"),
    (verification, "_consent_withdrawn"),
    (verification, "allocate_ids"),
    (verification, "_write"),
)


# CPU per record of each whole chunk (``_ingest_chunk``): on a shared machine the least of
# them is the steadier figure (loadtests/README.md, round 8)
CHUNKS: list[float] = []


def _wrap(spent: dict[str, list[float]], module: Any, name: str) -> None:
    original: Callable[..., Any] | None = getattr(module, name, None)
    if original is None:
        return

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            key = f"insert_rows {args[0].name}" if name == "insert_rows" else name
            used = time.process_time() - cpu
            spent[key][0] += used
            spent[key][1] += time.perf_counter() - wall
            if name == "_ingest_chunk" and len(args[2]) >= 5_000:
                CHUNKS.append(used / len(args[2]))

    setattr(module, name, timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--partner", required=True)
    args = parser.parse_args()
    spent: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for module, name in PHASES:
        _wrap(spent, module, name)
    with create_app().app_context():
        partner = db.session.scalar(select(Partner).where(Partner.code == args.partner))
        if partner is None:
            raise SystemExit(f"unknown partner {args.partner}")
        cpu, wall = time.process_time(), time.perf_counter()
        batch, summary = ingest.import_file(partner, args.path, chunk_size=10_000)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        n = max(1, batch.total)
        print(  # noqa: T201 - a command-line report
            f"records {batch.total}: {wall:.2f} s wall, {cpu:.2f} s CPU -> {n / wall:.0f} "
            f"records/s, {cpu / n * 1e6:.0f} us CPU per record; credited {summary.credited}"
        )
        if CHUNKS:
            print(  # noqa: T201
                f"chunks of >= 5,000 records: {len(CHUNKS)}, CPU per record least "
                f"{min(CHUNKS) * 1e6:.0f} us, median {statistics.median(CHUNKS) * 1e6:.0f} us"
            )
        for key, (phase_cpu, phase_wall) in sorted(spent.items(), key=lambda kv: -kv[1][1]):
            print(  # noqa: T201
                f"  {key:32s} CPU {phase_cpu / n * 1e6:6.1f} us/record  "
                f"wall {phase_wall / n * 1e6:6.1f} us/record"
            )


if __name__ == "__main__":
    main()
