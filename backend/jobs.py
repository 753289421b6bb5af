"""Background jobs on RQ.

With ``REDIS_URL`` jobs go to Redis and run in ``rq worker`` processes; without it they run
inline in the caller (RQ's synchronous mode over an in-memory fake Redis), so ``make run``
needs nothing else installed. A job is "load by id, call the service, commit": the business
rules stay in services.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from flask import Flask, current_app, has_app_context
from rq import Queue, Retry
from sqlalchemy.exc import DBAPIError

from .errors import describe

QUEUES = ("default", "ingest")

# The periodic schedule, in one list: (target, cron expression in UTC). ``rq cron
# backend/cron.py`` enqueues them in production; ``flask jobs run-periodic`` runs them by hand.
PERIODIC: list[tuple[str, str]] = [
    ("backend.rewards.services:expire_redemptions", "*/5 * * * *"),
    ("backend.ledger.expiry:expire_due_points", "30 16 * * *"),  # 00:30 Asia/Shanghai
    ("backend.actions.verification:verify_pending", "*/10 * * * *"),
    ("backend.actions.ingest:recover_batches", "*/5 * * * *"),
    ("backend.actions.retention:purge_raw_records", "15 17 * * *"),  # 01:15 Asia/Shanghai
    # ahead of READ_CACHE_SECONDS (300 s): the dashboard in the shared cache never runs out
    ("backend.admin_console.queries:refresh_dashboard", "*/4 * * * *"),
    ("backend.notifications.services:deliver_pushes", "* * * * *"),  # what commits left
    ("backend.notifications.services:notify_expiring_points", "0 1 * * *"),  # 09:00 local
]
# Run by every worker as it starts, before taking jobs: work a dead worker left behind.
ON_WORKER_START: list[str] = ["backend.actions.ingest:recover_batches"]
_worker_app: Flask | None = None


def get_queue(name: str = "default") -> Queue:
    queues: dict[str, Queue] = current_app.extensions.setdefault("rq_queues", {})
    if name not in queues:
        redis = current_app.extensions.get("redis")
        if redis is not None:
            queues[name] = Queue(
                name,
                connection=redis,
                default_timeout=1800,
                is_async=not current_app.config["JOBS_INLINE"],
            )
        else:
            import fakeredis

            queues[name] = Queue(name, connection=fakeredis.FakeStrictRedis(), is_async=False)
    return queues[name]


def enqueue(func: Any, *args: Any, queue: str = "default", retries: int = 3, **kwargs: Any) -> Any:
    """Enqueue ``func`` (a module-level function) wrapped in an app context."""
    return get_queue(queue).enqueue(
        run_in_app,
        f"{func.__module__}:{func.__qualname__}",
        *args,
        retry=Retry(max=retries, interval=[5, 30, 120]),
        **kwargs,
    )


def run_in_app(target: str, *args: Any, **kwargs: Any) -> Any:
    """Entry point of every job: import the target and call it inside an app context."""
    import importlib

    module_name, _, attr = target.partition(":")
    func = getattr(importlib.import_module(module_name), attr)
    try:
        if has_app_context():
            return func(*args, **kwargs)
        global _worker_app
        if _worker_app is None:
            from .app import create_app

            _worker_app = create_app()
        with _worker_app.app_context():
            try:
                return func(*args, **kwargs)
            finally:
                from .extensions import db

                db.session.remove()
    except DBAPIError as exc:  # RQ logs and stores what a job raises: retell it safely
        raise JobFailed(f"{target}: {describe(exc)}") from None


class JobFailed(Exception):
    """A job's database error without the values of the rows it touched (``describe``)."""


def _scheduler_child(engine: Any) -> Any:
    """What a process forked by the worker (RQ's scheduler) does first: leave the parent's
    database connections alone (shared sockets would keep a dead worker's locks alive), and
    end when the worker ends, even by SIGKILL, instead of living on as an orphan."""

    def after_fork() -> None:
        engine.dispose(close=False)
        if sys.platform.startswith("linux"):
            import ctypes

            pr_set_pdeathsig = 1
            ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)

    return after_fork


def worker_command() -> Any:
    """``flask jobs worker``: an RQ worker with the app loaded once (no fork per job)."""
    import click
    from flask.cli import AppGroup
    from rq.worker import SimpleWorker

    from .extensions import db

    group = AppGroup("jobs", help="Background jobs (RQ).")

    @group.command("worker")
    @click.option("--burst", is_flag=True, help="exit when the queues are empty")
    @click.argument("queues", nargs=-1)
    def worker(burst: bool, queues: tuple[str, ...]) -> None:
        """Process jobs from Redis (SimpleWorker: jobs carry chunks, a fork per job is waste)."""
        redis = current_app.extensions.get("redis")
        if redis is None:
            raise click.ClickException("REDIS_URL is not set: without Redis jobs run inline")
        names = queues or QUEUES
        for target in ON_WORKER_START:
            click.echo(f"{target}: {run_in_app(target)}")
        db.session.remove()
        db.engine.dispose()  # no open connection for RQ's scheduler process to inherit
        os.register_at_fork(after_in_child=_scheduler_child(db.engine))
        SimpleWorker([Queue(n, connection=redis) for n in names], connection=redis).work(
            burst=burst, with_scheduler=True
        )

    @group.command("run-periodic")
    def run_periodic() -> None:
        """Run every periodic job once, now, in this process."""
        for target, _ in PERIODIC:
            click.echo(f"{target}: {run_in_app(target)}")

    return group
