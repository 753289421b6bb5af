"""Background jobs on RQ.

With ``REDIS_URL`` jobs go to Redis and run in ``rq worker`` processes; without it they run
inline in the caller (RQ's synchronous mode over an in-memory fake Redis), so ``make run``
needs nothing else installed. A job is "load by id, call the service, commit": the business
rules stay in services.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, has_app_context
from rq import Queue, Retry

QUEUES = ("default", "ingest")

# The periodic schedule, in one list: (target, cron expression in UTC). ``rq cron
# backend/cron.py`` enqueues them in production; ``flask jobs run-periodic`` runs them by hand.
PERIODIC: list[tuple[str, str]] = [
    ("backend.rewards.services:expire_redemptions", "*/5 * * * *"),
    ("backend.ledger.expiry:expire_due_points", "30 16 * * *"),  # 00:30 Asia/Shanghai
    ("backend.actions.verification:verify_pending", "*/10 * * * *"),
]
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


def worker_command() -> Any:
    """``flask jobs worker``: an RQ worker with the app loaded once (no fork per job)."""
    import click
    from flask.cli import AppGroup
    from rq.worker import SimpleWorker

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
        SimpleWorker([Queue(n, connection=redis) for n in names], connection=redis).work(
            burst=burst, with_scheduler=True
        )

    @group.command("run-periodic")
    def run_periodic() -> None:
        """Run every periodic job once, now, in this process."""
        for target, _ in PERIODIC:
            click.echo(f"{target}: {run_in_app(target)}")

    return group
