"""The entry point of RQ jobs, beside ``wsgi.py``: nothing in the app imports this module.

``backend.jobs.enqueue`` names ``run_in_app`` by string; RQ imports it in the worker process
(``flask jobs worker``, or inline without Redis), and ``backend/cron.py`` registers it for
the periodic schedule.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, has_app_context

from .app import create_app
from .extensions import db
from .jobs import call

_worker_app: Flask | None = None


def run_in_app(target: str, *args: Any, **kwargs: Any) -> Any:
    """Entry point of every job: import the target and call it inside an app context
    (the caller's, when there is one: ``flask jobs worker`` and inline jobs)."""
    if has_app_context():
        return call(target, *args, **kwargs)
    global _worker_app
    if _worker_app is None:
        _worker_app = create_app()
    with _worker_app.app_context():
        try:
            return call(target, *args, **kwargs)
        finally:
            db.session.remove()
