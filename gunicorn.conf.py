"""gunicorn settings shared by docker-compose, `make bench` and any deployment."""

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


def post_worker_init(worker: object) -> None:
    """Compile every page template before the worker takes its first request. Otherwise
    the first view of each page in each process compiles its templates on a resident's
    request (the sign-in form: 55-64 ms of CPU the first time, 15-19 ms compiled ahead;
    ~1 s of CPU for all of them, at boot, while the other worker serves)."""
    env = getattr(getattr(worker, "wsgi", None), "jinja_env", None)
    if env is None:  # not the Flask application (the bench's ceiling app)
        return
    for name in env.list_templates(filter_func=lambda name: name.endswith(".html")):
        env.get_template(name)
