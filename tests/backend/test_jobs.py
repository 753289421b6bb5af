"""The periodic schedule: every job is importable and registered with RQ's cron; the
scheduler and the worker health check of docker-compose.yml work as written (on Redis)."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from redis import Redis

from backend.jobs import PERIODIC


def test_every_periodic_job_resolves_to_a_function():
    for target, expression in PERIODIC:
        module, _, name = target.partition(":")
        assert callable(getattr(importlib.import_module(module), name)), target
        assert len(expression.split()) == 5, expression


def test_the_cron_config_registers_every_periodic_job():
    from rq import cron

    module = importlib.import_module("backend.cron")
    cron._job_data_registry.clear()
    importlib.reload(module)
    names = [job["name"] for job in cron._job_data_registry]
    assert names == [target for target, _ in PERIODIC]
    cron._job_data_registry.clear()


def test_run_periodic_runs_each_job(app, db):
    result = app.test_cli_runner().invoke(args=["jobs", "run-periodic"])
    assert result.exit_code == 0, result.output
    for target, _ in PERIODIC:
        assert target in result.output


# --- docker-compose.yml's scheduler and worker health check, run for real on Redis ---------

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def _compose_service(name: str) -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    return services[name]


def _local(argv: list[str], redis_url: str) -> list[str]:
    """The compose command as this checkout runs it: the venv's executable, our Redis."""
    program = Path(sys.executable).parent / argv[0]
    assert program.exists(), program
    argv = [str(program), *argv[1:]]
    if "--url" in argv:
        argv[argv.index("--url") + 1] = redis_url
    return argv


@pytest.mark.redis
def test_the_compose_scheduler_starts_and_registers_the_periodic_jobs():
    from rq.cron import CronScheduler

    url = os.environ["TEST_REDIS_URL"]
    command = _compose_service("scheduler")["command"]
    assert command[:2] == ["rq", "cron"] and "--url" in command  # else adapt _local
    connection = Redis.from_url(url)
    proc = subprocess.Popen(
        _local(command, url),
        cwd=COMPOSE.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 8
        mine = None
        while mine is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            mine = next((s for s in CronScheduler.all(connection) if s.pid == proc.pid), None)
        assert mine is not None, "the scheduler did not register in Redis"
        assert [job.name for job in mine.get_jobs()] == [target for target, _ in PERIODIC]
        assert [job.cron for job in mine.get_jobs()] == [cron for _, cron in PERIODIC]
    finally:
        proc.send_signal(signal.SIGTERM)  # what `docker compose stop` sends
        output, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, output
    assert f"Successfully registered {len(PERIODIC)} cron jobs" in output, output
    assert "Failed" not in output and "Traceback" not in output, output
    assert mine.name not in [s.name for s in CronScheduler.all(connection)]  # said goodbye


def _worker_healthy(url: str) -> bool:
    command = _compose_service("worker")["healthcheck"]["test"]
    assert command[0] == "CMD"
    argv = _local(command[1:], url)
    result = subprocess.run(
        argv, env={**os.environ, "REDIS_URL": url}, capture_output=True, text=True, timeout=30
    )
    assert result.returncode in (0, 1), result.stderr  # 1: unhealthy; anything else: broken
    return result.returncode == 0


@pytest.mark.redis
def test_the_compose_worker_health_check_follows_the_worker_on_this_host():
    from rq import Worker

    url = os.environ["TEST_REDIS_URL"]
    connection = Redis.from_url(url)
    assert not _worker_healthy(url)  # no worker of this host is registered
    worker = Worker(["default"], connection=connection, name=f"health-{uuid.uuid4().hex[:8]}")
    worker.register_birth()  # what `flask jobs worker` does as it starts, with this pid
    try:
        assert _worker_healthy(url)
        dead = subprocess.Popen(["true"])  # its pid no longer runs once waited for
        dead.wait()
        connection.hset(worker.key, "pid", dead.pid)  # a killed worker's registration
        assert not _worker_healthy(url)
        connection.hset(worker.key, "pid", os.getpid())
        assert _worker_healthy(url)
    finally:
        worker.register_death()
    assert not _worker_healthy(url)
