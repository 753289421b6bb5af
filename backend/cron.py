"""RQ cron configuration: ``rq cron backend/cron.py --url $REDIS_URL`` (one process per site).

Each periodic job of ``backend.jobs.PERIODIC`` is enqueued on its schedule and run by the
workers inside an app context.
"""

from rq import cron

from backend.jobs import PERIODIC
from backend.worker import run_in_app

for target, expression in PERIODIC:
    cron.register(run_in_app, "default", args=(target,), cron=expression, name=target)
