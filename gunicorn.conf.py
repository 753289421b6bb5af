"""gunicorn settings shared by docker-compose, `make bench` and any deployment."""

import gc
import itertools
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Threads, not only processes (issue 18): with sync workers, one slow request (an argon2
# sign-in, a second factor, a report) held a whole process and every resident behind it
# waited (p99 in seconds). A gthread worker gives a slow request one of its threads; argon2
# releases the GIL while it hashes, and Python-bound requests interleave instead of queueing.
# docker-compose.yml also routes the slow paths to a pool of their own (deploy/nginx.conf).
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
# Idle keep-alive connections wait in the worker's poller (not in a thread); longer than a
# client's pause between requests, so the server rarely closes one as a request arrives.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "30"))
# A worker is replaced after this many requests (a guard against slow leaks). Each
# replacement re-imports the app (~2 s) while that worker's share of requests waits: at 5,000
# a busy node recycled a worker every ~20 s and the realistic mix's p99 caught the restarts.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "100000"))
max_requests_jitter = max_requests // 10
accesslog = os.environ.get("GUNICORN_ACCESSLOG")  # off by default: logs carry no phone numbers
# When on: the path without its query string or referrer (an administrator's search by phone
# number, ?q=..., stays out of the log), the worker process, status, size and milliseconds.
access_log_format = '%(h)s %(t)s %(p)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


# Python's cyclic garbage collector stops every thread of a worker while a full
# (generation-2) collection walks all the objects the process holds: ~210,000 once the app is
# loaded and has served a while, ~130-150 ms of CPU per collection here, 300-960 ms of wall
# time on a busy machine, every 20-30 s per worker under load (loadtests/README.md, round 8).
# Every request in flight in that worker waits, which is the realistic mix's p99. The objects
# the app loads at start-up (modules, mappers, templates) and those its first requests add
# (lazy imports, compiled statements, translations) live as long as the worker: they are
# moved out of the collector's sight (``gc.freeze``) after the templates are compiled and
# again after the worker's first GC_WARM_REQUESTS requests, so a full collection walks only
# what requests made since (~16,000 objects). Reference counting still frees them all; only
# a reference cycle among frozen objects is never collected (a bounded, one-off amount).
GC_WARM_REQUESTS = int(os.environ.get("GC_WARM_REQUESTS", "1000"))
_served = itertools.count(1)  # per worker (forked from the master before any request)


def _freeze_long_lived() -> None:
    gc.collect()
    gc.freeze()


def post_worker_init(worker: object) -> None:
    """Compile every page template before the worker takes its first request. Otherwise
    the first view of each page in each process compiles its templates on a resident's
    request (the sign-in form: 55-64 ms of CPU the first time, 15-19 ms compiled ahead;
    ~1 s of CPU for all of them, at boot, while the other worker serves). Then freeze what
    the worker has loaded (above), whatever the application (the bench's ceiling app too)."""
    env = getattr(getattr(worker, "wsgi", None), "jinja_env", None)
    if env is not None:  # None: not the Flask application (the bench's ceiling app)
        for name in env.list_templates(filter_func=lambda name: name.endswith(".html")):
            env.get_template(name)
    _freeze_long_lived()


def post_request(worker: object, req: object, environ: object, resp: object) -> None:
    """Freeze once more after the worker's first GC_WARM_REQUESTS requests (above)."""
    if next(_served) == GC_WARM_REQUESTS:
        _freeze_long_lived()
