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
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

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
