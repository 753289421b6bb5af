"""The periodic schedule: every job is importable and registered with RQ's cron."""

from __future__ import annotations

import importlib

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
