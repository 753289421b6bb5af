"""What a resident's repeated load costs in process, with the revalidation fast lane
(``backend.revalidate``) and without it (``FAST_REVALIDATION`` off): CPU per request, Python
function calls, statements and round trips, beside the hello-world route of the same moment.

Run in the bench environment against a bench database with residents (a page session and a
token are issued for one of them)::

    APP_ENV=production SECRET_KEY=x IDENTITY_KEY=y SESSION_COOKIE_SECURE=false \\
    RATELIMIT_ENABLED=true TRUSTED_PROXIES=1 \\
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:15432/carbon_bench_f \\
    REDIS_URL=redis://127.0.0.1:16379/12 python -m loadtests.revalidation [--chunks 6 --size 200]

Each request is the WSGI call gunicorn makes (an environ dict, the body consumed). CPU is
``time.process_time`` per request, the least over the chunks, the lane on and off alternating
chunk by chunk so a neighbour's load falls on both alike.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, select
from werkzeug.test import EnvironBuilder

from backend import revalidate
from backend.accounts.models import Role, User
from backend.accounts.services import issue_token
from backend.app import create_app
from backend.extensions import db

from .tokens import sessions_for

COUNTS = {"statements": 0, "checkouts": 0, "begins": 0, "ends": 0, "lane": 0}


def _count_round_trips() -> None:
    """Round trips of the Flask path (pre-ping per checkout, BEGIN, statements, the end of
    the transaction) and the lane's statements."""
    engine = db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(*_args: Any) -> None:
        COUNTS["statements"] += 1

    @event.listens_for(engine.pool, "checkout")
    def _checkout(*_args: Any) -> None:
        COUNTS["checkouts"] += 1

    @event.listens_for(engine, "begin")
    def _begin(*_args: Any) -> None:
        COUNTS["begins"] += 1

    @event.listens_for(engine, "rollback")
    @event.listens_for(engine, "commit")
    def _end(*_args: Any) -> None:
        COUNTS["ends"] += 1

    fetch = revalidate.FastLane.fetch

    def counted(self: revalidate.FastLane, sql: str, key: str) -> Any:
        COUNTS["lane"] += 1
        return fetch(self, sql, key)

    revalidate.FastLane.fetch = counted  # type: ignore[method-assign]


def _caller(app: Any, environ: dict[str, Any]) -> Callable[[], str]:
    status: list[str] = []

    def start_response(value: str, _headers: Any, _exc: Any = None) -> None:
        status.append(value)

    def call() -> str:
        status.clear()
        body = app(dict(environ), start_response)
        try:
            for _chunk in body:
                pass
        finally:
            if hasattr(body, "close"):
                body.close()
        return status[0]

    return call


def _environ(path: str, headers: dict[str, str]) -> dict[str, Any]:
    builder = EnvironBuilder(path=path, headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    return builder.get_environ()


def _etag(app: Any, path: str, headers: dict[str, str]) -> str:
    client = app.test_client()
    headers = dict(headers)
    cookie = headers.pop("Cookie", None)
    if cookie:  # the test client sends its own cookie jar, not a Cookie header
        client.set_cookie(*cookie.split("=", 1))
    response = client.get(path, headers=headers)
    assert response.status_code == 200, (path, response.status_code)
    return str(response.headers["ETag"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=6)
    parser.add_argument("--size", type=int, default=200)
    args = parser.parse_args()

    app = create_app()
    app.config["OFFERS_CACHE_SECONDS"] = max(60, app.config["OFFERS_CACHE_SECONDS"])
    with app.app_context():
        resident = db.session.scalars(
            select(User).where(User.role == Role.RESIDENT).order_by(User.id).limit(1)
        ).one()
        token = issue_token(resident)[0]
        cookie = sessions_for(app, [str(resident.phone)])[0]
        _count_round_trips()
    browser = {"Cookie": f"session={cookie}", "User-Agent": "bench", "X-Forwarded-For": "10.1.1.1"}
    bearer = {"Authorization": f"Bearer {token}", "User-Agent": "bench"}
    cases = {
        "home": ("/home", browser),
        "points": ("/api/v1/me/points?limit=20", bearer),
        "offers": ("/api/v1/offers", {"User-Agent": "bench"}),
    }
    calls = {}
    for name, (path, headers) in cases.items():
        tag = _etag(app, path, headers)
        calls[name] = _caller(app, _environ(path, {**headers, "If-None-Match": tag}))

    from .ceiling_app import app as ceiling

    hello = _caller(ceiling, _environ("/hello", {"User-Agent": "bench"}))
    results: dict[str, Any] = {}

    def measure(call: Callable[[], str], expect: str) -> float:
        start = time.process_time()
        for _ in range(args.size):
            status = call()
        assert status.startswith(expect), status
        return (time.process_time() - start) / args.size * 1000

    for name, call in calls.items():
        cpu: dict[str, list[float]] = {"lane": [], "flask": []}
        per_request: dict[str, dict[str, float]] = {}
        for _chunk in range(args.chunks):
            for mode in ("lane", "flask"):
                app.config["FAST_REVALIDATION"] = mode == "lane"
                cpu[mode].append(measure(call, "304"))
        for mode in ("lane", "flask"):
            app.config["FAST_REVALIDATION"] = mode == "lane"
            for key in COUNTS:
                COUNTS[key] = 0
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(20):
                call()
            profile.disable()
            counts = {key: value / 20 for key, value in COUNTS.items()}
            per_request[mode] = {
                "cpu_ms_min": round(min(cpu[mode]), 3),
                "cpu_ms_all": [round(value, 3) for value in cpu[mode]],
                "python_calls": pstats.Stats(profile).total_calls / 20,  # type: ignore[attr-defined]
                **counts,
                "round_trips": counts["checkouts"]
                + counts["begins"]
                + counts["statements"]
                + counts["ends"]
                + counts["lane"],
            }
        results[name] = per_request
    hello_cpu = [measure(hello, "200") for _ in range(args.chunks)]
    results["hello"] = {"cpu_ms_min": round(min(hello_cpu), 3)}
    for name, modes in results.items():
        print(name, json.dumps(modes))


if __name__ == "__main__":
    main()
