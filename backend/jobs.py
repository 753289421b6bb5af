"""Background jobs on RQ.

With ``REDIS_URL`` jobs go to Redis and run in ``rq worker`` processes; without it they run
inline in the caller (RQ's synchronous mode over an in-memory fake Redis), so ``make run``
needs nothing else installed. A job is "load by id, call the service, commit": the business
rules stay in services.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import signal
import sys
from typing import Any

import click
import fakeredis
from flask import current_app
from flask.cli import AppGroup
from rq import Queue, Retry
from rq.worker import SimpleWorker
from sqlalchemy.exc import DBAPIError

from .errors import describe
from .extensions import db

QUEUES = ("default", "ingest")

# The periodic schedule, in one list: (target, cron expression in UTC). ``rq cron
# backend/cron.py`` enqueues them in production; ``flask jobs run-periodic`` runs them by hand.
PERIODIC: list[tuple[str, str]] = [
    ("backend.rewards.services:expire_redemptions", "*/5 * * * *"),
    ("backend.ledger.expiry:expire_due_points", "30 16 * * *"),  # 00:30 Asia/Shanghai
    ("backend.actions.verification:verify_pending", "*/10 * * * *"),
    ("backend.actions.identities:credit_all_waiting", "*/10 * * * *"),
    ("backend.actions.ingest:recover_batches", "*/5 * * * *"),
    ("backend.actions.retention:purge_raw_records", "15 17 * * *"),  # 01:15 Asia/Shanghai
    ("backend.accounts.sessions:purge_sessions", "45 17 * * *"),  # 01:45 Asia/Shanghai
    ("backend.accounts.throttle:purge_throttles", "*/30 * * * *"),
    ("backend.accounts.phone_codes:purge_codes", "50 17 * * *"),
    ("backend.actions.claims:purge_claim_codes", "5 * * * *"),  # a day after they expired
    # ahead of READ_CACHE_SECONDS (300 s): the dashboard in the shared cache never runs out
    ("backend.reporting.queries:refresh_dashboard", "*/4 * * * *"),
    ("backend.notifications.services:deliver_pushes", "* * * * *"),  # what commits left
    ("backend.notifications.services:notify_expiring_points", "0 1 * * *"),  # 09:00 local
    ("backend.events.claims:remind_deadlines", "0 1 * * *"),  # 09:00 Asia/Shanghai
]
# Run by every worker as it starts, before taking jobs: work a dead worker left behind.
ON_WORKER_START: list[str] = ["backend.actions.ingest:recover_batches"]
# The entry point of every job, imported by RQ in the worker process (see backend/worker.py).
WORKER_ENTRY = "backend.worker.run_in_app"


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
            queues[name] = Queue(name, connection=fakeredis.FakeStrictRedis(), is_async=False)
    return queues[name]


def enqueue(func: Any, *args: Any, queue: str = "default", retries: int = 3, **kwargs: Any) -> Any:
    """Enqueue ``func`` (a module-level function); the worker runs it in an app context
    through ``backend.worker.run_in_app``, named here by string (nothing imports the worker)."""
    return get_queue(queue).enqueue(
        WORKER_ENTRY,
        f"{func.__module__}:{func.__qualname__}",
        *args,
        retry=Retry(max=retries, interval=[5, 30, 120]),
        **kwargs,
    )


def call(target: str, *args: Any, **kwargs: Any) -> Any:
    """Import ``target`` (``"module:function"``) and call it in the current app context; a
    database error is retold as ``JobFailed`` (RQ logs and stores what a job raises)."""
    module_name, _, attr = target.partition(":")
    func = getattr(importlib.import_module(module_name), attr)
    try:
        return func(*args, **kwargs)
    except DBAPIError as exc:
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
            pr_set_pdeathsig = 1
            ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)

    return after_fork


def worker_command() -> Any:
    """``flask jobs worker``: an RQ worker with the app loaded once (no fork per job)."""
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
            click.echo(f"{target}: {call(target)}")
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
            click.echo(f"{target}: {call(target)}")

    return group
