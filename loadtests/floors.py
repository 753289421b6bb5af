"""The floor under a point-moving write: what the cheapest requests cost in process, beside
the ceilings the bench divides by (issue 18, round 9).

``python -m loadtests.floors [--requests N]`` (bench environment, as ``bench.env`` sets it:
production configuration, every rate limit on, Redis for the limiter) drives the Flask test
client, in one process, through N requests of each of:

* the ceiling app's ``/hello`` (no work) and ``/insert`` (one INSERT and COMMIT, no session,
  no user, no limit): what the bench's ratios divide by;
* the platform's ``/healthz`` (every middleware and hook of the app, no user, no statement);
* the platform's ``GET /api/v1/me`` with a bearer token: the least any API request that
  moves points must do before its own work (the token's lookup, the role check, the rate
  limit's Redis round trip, the schema's answer), one statement.

It prints the CPU per request (``time.process_time``, the least mean over chunks of 10, as
``write_costs`` prints the writes) and each one's ratio to ``/insert``. The closed loops run
these under gunicorn with the load generator and PostgreSQL on the same two cores, so the
ratios here are the application's share only.

``python -m loadtests.floors --rows N`` measures the database's share of ingestion instead:
the two rows every credited partner record leaves (its ``activity_records`` row and its
``reductions`` row), N of each, written by PostgreSQL alone (``INSERT … SELECT`` copies of
credited partner records the database holds, each copy with its own partner record id and
window) into the real tables with their indexes, constraints and triggers, then rolled back.
No Python touches a row, no context is read, no posting or notification is written: what it
prints is an upper bound on the records/s any ingestion can reach on this database server.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, text

from backend.accounts.models import User
from backend.accounts.services import issue_token
from backend.app import create_app
from backend.demo.generate import resident_phone
from backend.extensions import db


def _least(call: Callable[[int], Any], requests: int, ok: int) -> tuple[float, Counter[int]]:
    statuses: Counter[int] = Counter()
    for i in range(5):  # warm: compiled statements, templates, connections
        call(i)
    means = []
    for start in range(0, requests, 10):
        begun = time.process_time()
        for i in range(start, start + 10):
            statuses[call(i).status_code] += 1
        means.append((time.process_time() - begun) / 10)
    if statuses[ok] != sum(statuses.values()):
        print(f"  warning: answered {dict(statuses)}")
    return min(means), statuses


_COLUMNS = (
    "channel, action, resident_id, partner_id, partner_record_id, batch_id, identity_hash, "
    "activity, received_at, occurred_start, occurred_end, local_day, dedupe_group, outcome, "
    "reason_code, reason, flags, verified_at, review_comment"
)
_REDUCTION_COLUMNS = (
    "resident_id, methodology_code, module_version, version_id, params_hash, activity, "
    "baseline_g, project_g, reduction_g, credited_g, points, steps, local_day, created_at, "
    "ledger_entry_id, programme_capped"
)


def database_rows(rows: int) -> None:
    """N records' rows written by PostgreSQL alone, timed, then rolled back."""
    with db.engine.connect() as conn:
        conn.execute(
            text(
                "CREATE TEMP TABLE floor_src ON COMMIT DROP AS SELECT a.id, "
                f"{_COLUMNS} FROM activity_records a WHERE partner_id IS NOT NULL "
                "AND outcome = 'credited' AND EXISTS "
                "(SELECT 1 FROM reductions r WHERE r.record_id = a.id) LIMIT 25000"
            )
        )
        templates = conn.execute(text("SELECT count(*) FROM floor_src")).scalar_one()
        if not templates:
            raise SystemExit("no credited partner records to copy: run it on a bench database")
        copies = -(-rows // templates)
        conn.execute(
            text(
                "CREATE TEMP TABLE floor_ids ON COMMIT DROP AS SELECT s.id AS old, g, "
                "nextval('activity_records_id_seq') AS new FROM floor_src s, "
                "generate_series(1, :copies) g LIMIT :rows"
            ),
            {"copies": copies, "rows": rows},
        )
        conn.execute(text("ANALYZE floor_ids"))
        conn.execute(text("CHECKPOINT"))
        started = time.perf_counter()
        conn.execute(
            text(
                f"INSERT INTO activity_records (id, {_COLUMNS}) SELECT i.new, "
                + _COLUMNS.replace("partner_record_id", "partner_record_id || '-floor' || i.g")
                .replace("occurred_start,", "occurred_start + i.g * interval '1 second',")
                .replace("occurred_end,", "occurred_end + i.g * interval '1 second',")
                + " FROM floor_src s JOIN floor_ids i ON i.old = s.id"
            )
        )
        records = time.perf_counter() - started
        conn.execute(
            text(
                f"INSERT INTO reductions (record_id, {_REDUCTION_COLUMNS}) SELECT i.new, "
                + ", ".join(f"r.{c.strip()}" for c in _REDUCTION_COLUMNS.split(","))
                + " FROM reductions r JOIN floor_ids i ON i.old = r.record_id"
            )
        )
        both = time.perf_counter() - started
        conn.rollback()
    print(
        f"{rows:,} records' rows by PostgreSQL alone: activity_records {records:.1f} s, "
        f"reductions {both - records:.1f} s; {rows / both:,.0f} records/s at most "
        f"({both / rows * 1e6:.0f} us per record of wall time)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rows", type=int, help="the database's share of ingestion instead")
    args = parser.parse_args()
    if args.rows:
        app = create_app()
        with app.app_context():
            database_rows(args.rows)
        return

    from loadtests.ceiling_app import app as ceiling

    app = create_app()
    with app.app_context():
        user = db.session.scalars(select(User).where(User.phone == resident_phone(0))).one()
        token = issue_token(user)[0]
        db.session.commit()
        db.session.remove()
    outer = ceiling.test_client()
    inner = app.test_client()
    # each request from its own address (behind the trusted proxy), as the personas' are, so
    # no per-address limit is reached; the token's own limit allows far more than N
    runs: list[tuple[str, Callable[[int], Any]]] = [
        ("ceiling /hello", lambda i: outer.get("/hello")),
        ("ceiling /insert", lambda i: outer.get("/insert")),
        (
            "platform /healthz",
            lambda i: inner.get("/healthz", headers={"X-Forwarded-For": f"10.9.{i % 250}.1"}),
        ),
        (
            "platform GET /api/v1/me",
            lambda i: inner.get(
                "/api/v1/me",
                headers={
                    "Authorization": f"Bearer {token}",
                    "X-Forwarded-For": f"10.8.{i % 250}.{i // 250 + 1}",
                },
            ),
        ),
    ]
    results = {name: _least(call, args.requests, 200)[0] for name, call in runs}
    insert = results["ceiling /insert"]
    for name, cpu in results.items():
        print(f"{name:24} cpu {cpu * 1000:6.3f} ms  {cpu / insert:5.2f} x /insert")


if __name__ == "__main__":
    main()
