"""What each point-moving write costs in process: CPU, SQL statements and round trips.

``python -m loadtests.write_costs N [--profile OP]`` (bench environment, as ``bench.env``
sets it: production configuration, every rate limit on, Redis for the limiter) drives the
Flask test client through N rounds of the writes run's requests — a resident's claim code,
a counter claim with it, a redemption and its fulfilment — each with the next resident or
counter (so no limit is reached), and prints per request:

* CPU: ``time.process_time`` per request, the least mean over chunks of 10 (neighbours on a
  shared machine lengthen a chunk; they rarely shorten one);
* statements: SQLAlchemy ``before_cursor_execute`` (what the statement budget tests count);
* transaction commands: psycopg's ``BEGIN`` / ``COMMIT`` / ``ROLLBACK`` (each a round trip)
  and the pool's pre-ping, if any;
* Redis commands sent (a pipeline counts once: one round trip).

``--statements`` prints the SQL of the last round, 160 characters a statement.

``--profile OP`` (claim, claim-code, redeem, fulfil) prints cProfile's top functions for that
request too, by cumulative time (``PROFILE_SORT=tottime``: by their own time), timed with
this process's CPU clock (time spent waiting for PostgreSQL or Redis is not counted;
``PROFILE_TIMER=wall`` counts it).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import psycopg
import redis.connection
from sqlalchemy import event, select

from backend.accounts.models import User
from backend.accounts.services import issue_token
from backend.app import create_app
from backend.demo.generate import STAFF_BASE, STATION_STAFF_BASE, resident_phone
from backend.extensions import db

COUNTS: Counter[str] = Counter()
STATEMENTS: list[str] = []  # the current request's, for --statements


def _instrument() -> None:
    """Count statements, transaction commands, pings and Redis round trips in COUNTS."""

    def statement(_conn: Any, _cursor: Any, _statement: str, *_args: Any) -> None:
        COUNTS["statements"] += 1
        STATEMENTS.append(" ".join(_statement.split())[:160])

    event.listen(db.engine, "before_cursor_execute", statement)
    exec_command = psycopg.Connection._exec_command

    def command(self: Any, cmd: Any, *args: Any, **kwargs: Any) -> Any:
        text = bytes(cmd if isinstance(cmd, bytes) else str(cmd).encode()).split()[0]
        COUNTS[text.decode().upper()] += 1
        return exec_command(self, cmd, *args, **kwargs)

    psycopg.Connection._exec_command = command  # type: ignore[method-assign]
    dialect = db.engine.dialect
    do_ping = dialect.do_ping

    def ping(dbapi_connection: Any) -> Any:
        COUNTS["pre-ping"] += 1
        return do_ping(dbapi_connection)

    dialect.do_ping = ping  # type: ignore[method-assign]
    send = redis.connection.AbstractConnection.send_packed_command

    def sent(self: Any, *args: Any, **kwargs: Any) -> Any:
        COUNTS["redis"] += 1
        return send(self, *args, **kwargs)

    redis.connection.AbstractConnection.send_packed_command = sent  # type: ignore[method-assign]


def _tokens(phones: list[str]) -> list[str]:
    users = db.session.scalars(select(User).where(User.phone.in_(phones))).all()
    return [issue_token(user)[0] for user in users]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rounds", type=int)
    parser.add_argument("--profile", choices=["claim-code", "claim", "redeem", "fulfil"])
    parser.add_argument("--offer", type=int, default=1)
    # a resident's counter claims are capped per day: a run after another on the same day
    # takes residents from here, or its claims are refused (daily_limit_reached), not credited
    parser.add_argument("--first", type=int, default=0, help="the first resident's number")
    parser.add_argument("--statements", action="store_true", help="print the last round's SQL")
    args = parser.parse_args()
    app = create_app()
    client = app.test_client()
    people = max(args.rounds, 50)
    with app.app_context():
        residents = _tokens([resident_phone(args.first + i) for i in range(people)])
        stations = _tokens([str(STATION_STAFF_BASE + i) for i in range(min(people, 400))])
        merchants = _tokens([str(STAFF_BASE + i) for i in range(min(people, 400))])
        db.session.commit()
        db.session.remove()
        _instrument()

    def bearer(token: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", **extra}

    state: dict[str, Any] = {}

    def claim_code(i: int) -> Any:
        response = client.post("/api/v1/me/claim-codes", headers=bearer(residents[i]))
        state["code"] = response.get_json()["code"]
        return response

    def claim(i: int) -> Any:
        return client.post(
            "/api/v1/claims",
            headers=bearer(stations[i % len(stations)], **{"Idempotency-Key": uuid.uuid4().hex}),
            json={
                "code": state["code"],
                "activity": {"items": [{"category": "paper", "weight_kg": 1.2}]},
            },
        )

    def redeem(i: int) -> Any:
        response = client.post(
            f"/api/v1/offers/{args.offer}/redeem",
            headers=bearer(residents[i], **{"Idempotency-Key": uuid.uuid4().hex}),
        )
        state["short"] = response.get_json().get("short_code")
        return response

    def fulfil(i: int) -> Any:
        return client.post(
            "/api/v1/merchant/fulfil",
            headers=bearer(merchants[i % len(merchants)], **{"Idempotency-Key": uuid.uuid4().hex}),
            json={"code": state["short"]},
        )

    ops: list[tuple[str, Callable[[int], Any], int]] = [
        ("claim-code", claim_code, 201),
        ("claim", claim, 201),
        ("redeem", redeem, 201),
        ("fulfil", fulfil, 200),
    ]
    cpu: dict[str, list[float]] = {name: [] for name, _, _ in ops}
    counts: dict[str, Counter[str]] = {name: Counter() for name, _, _ in ops}
    statuses: dict[str, Counter[int]] = {name: Counter() for name, _, _ in ops}
    timer = time.perf_counter if os.environ.get("PROFILE_TIMER") == "wall" else time.process_time
    profiler = cProfile.Profile(timer)
    outcomes: Counter[str | None] = Counter()
    for i in range(args.rounds):
        for name, op, _ok in ops:
            COUNTS.clear()
            STATEMENTS.clear()
            profiling = args.profile == name
            if profiling:
                profiler.enable()
            start = time.process_time()
            response = op(i)
            cpu[name].append(time.process_time() - start)
            if profiling:
                profiler.disable()
            statuses[name][response.status_code] += 1
            if name == "claim":
                outcomes[(response.get_json() or {}).get("outcome")] += 1
            if i >= 2:  # the first rounds compile statements and warm caches
                counts[name].update(COUNTS)
            if args.statements and i == args.rounds - 1:
                print(f"-- {name}", *STATEMENTS, sep="\n   ")
    measured = max(args.rounds - 2, 1)
    for name, _, ok in ops:
        chunks = [cpu[name][k : k + 10] for k in range(2, len(cpu[name]) - 9, 10)]
        least = min((sum(c) / len(c) for c in chunks), default=float("nan"))
        per = {key: round(value / measured, 2) for key, value in sorted(counts[name].items())}
        print(f"{name:11} cpu {least * 1000:6.2f} ms  status {dict(statuses[name])}  {per}")
        if statuses[name][ok] != args.rounds:
            print(f"  warning: {name} answered {dict(statuses[name])}")
    print(f"claims' outcomes {dict(outcomes)}")
    if args.profile and os.environ.get("PROFILE_OUT"):
        profiler.dump_stats(os.environ["PROFILE_OUT"])
    if args.profile:
        pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(
            45
        )


if __name__ == "__main__":
    main()
