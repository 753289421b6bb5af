"""``make bench``: the platform's speed, measured next to the machine's own ceilings.

One run, on 127.0.0.1: PostgreSQL + Redis (tools/services.sh), gunicorn (gunicorn.conf.py)
and RQ workers (``flask jobs worker``), exactly as docker-compose runs them. It measures

1. the ceilings: loadtests/ceiling_app.py's /hello and /insert under the same gunicorn;
2. the personas (loadtests/locustfile.py, locust headless, FastHttpUser): resident reads and
   point-moving writes as closed-loop throughput runs at a fixed user count (ratios against
   the ceilings), then the realistic mix with think times for latency percentiles;
3. bulk ingestion: synthetic partner records through the streaming import and through the
   push API with RQ workers: records/s end to end (verified, quantified, deduplicated,
   credited, reconciled) and peak RSS; the import at growing sizes shows the per-record cost;
4. ledger contention: concurrent redemptions on one account and on many accounts.

It writes loadtests/results/<date>.json and .md. ``--smoke`` (CI) runs small sizes briefly.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from loadtests.report import (  # noqa: E402 - ROOT on the path first
    class_percentiles,
    markdown,
    summary,
    total_rps,
)

RESULTS = ROOT / "loadtests" / "results"
BIN = Path(sys.executable).parent
PGPORT = int(os.environ.get("PGPORT", "15432"))
REDISPORT = int(os.environ.get("REDISPORT", "16379"))
# The database, ports and Redis DB are configurable so that several benches (or a bench and
# a development server) can share one machine; the defaults are those of `make bench`.
DB = os.environ.get("BENCH_DB", "carbon_bench")
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "3"))
# Counter staff of the bench's merchant and of its recycling station. The API limits each
# staff account (120 claims, 60 fulfilments a minute: more than one counter ever does), so
# the closed-loop runs need as many counters as a busy evening in a district has.
STAFF = 400
# Residents whose tokens the personas use in turn (each within its own limits: 30 claim codes
# and 30 redemptions a minute): enough for ~2,000 redemptions/s before a persona must wait.
TOKEN_RESIDENTS = 5000
WEB_PORT = int(os.environ.get("BENCH_WEB_PORT", "18080"))
CEILING_PORT = int(os.environ.get("BENCH_CEILING_PORT", "18081"))
# The port locust's master and its worker processes (--processes) talk on: two benches on one
# machine with locust's default (5557) share a master, and one measures the other's users.
LOCUST_PORT = int(os.environ.get("BENCH_LOCUST_PORT", "5557"))
# The realistic mix's users arrive over this many seconds (the closed loops start at once).
# Started in one instant, 50 users sent their first requests together and both
# administrators signed in (argon2) in the same second: a stampede real traffic does not
# have, which made most of the mix's p99 (loadtests/README.md, round 6). The statistics
# start once every user is in, and the run lasts this much longer so the measured time is
# unchanged. BENCH_SPAWN_SECONDS=0 measures the stampede.
SPAWN_SECONDS = float(os.environ.get("BENCH_SPAWN_SECONDS", "10"))


def log(message: str) -> None:
    print(f"[bench {datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def env(**extra: str) -> dict[str, str]:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{PGPORT}/{DB}"
    return {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": "bench-secret-key",
        "IDENTITY_KEY": "bench-identity-key",
        "DATABASE_URL": url,
        "REDIS_URL": f"redis://127.0.0.1:{REDISPORT}/{REDIS_DB}",
        "SESSION_COOKIE_SECURE": "false",
        "FLASK_APP": "backend.app:create_app",
        # Every limit as configured: the personas stay within them (loadtests/locustfile.py
        # LIMITS). The platform runs behind one trusted proxy, as behind a load balancer, so
        # simulated residents signing in come from their own addresses (X-Forwarded-For).
        "RATELIMIT_ENABLED": "true",
        "TRUSTED_PROXIES": "1",
        # the synthetic history spreads ~2 M records over ~40 past days (a few actions per
        # resident per day); the 30-day partner claim window would refuse its oldest part,
        # so the bench imports it as a one-off backfill with the widest window allowed
        "CLAIM_WINDOW_PARTNER_DAYS": "366",
        "PYTHONPATH": str(ROOT),
        **extra,
    }


def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=ROOT,
        env=kwargs.pop("env", env()),
        check=True,
        text=True,
        capture_output=True,
        **kwargs,
    )


def flask(*args: str) -> str:
    return run([str(BIN / "flask"), *args]).stdout


# --- processes ---------------------------------------------------------------------------


# The environment gunicorn last ran with (the report describes the worker model from it).
SERVED: dict[str, dict[str, str]] = {}


@contextmanager
def serving(app: str, port: int, workers: int = 2) -> Iterator[subprocess.Popen[bytes]]:
    errors = RESULTS / "locust" / f"gunicorn-{port}.log"  # kept when the bench fails
    errors.parent.mkdir(parents=True, exist_ok=True)
    SERVED["env"] = env(GUNICORN_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY=str(workers))
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", app],
        cwd=ROOT,
        env=SERVED["env"],
        stdout=subprocess.DEVNULL,
        stderr=errors.open("ab"),
        start_new_session=True,
    )
    try:
        import urllib.request

        for _ in range(100):
            try:
                urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/hello"
                    if "ceiling" in app  # noqa: S310
                    else f"http://127.0.0.1:{port}/healthz",
                    timeout=1,
                )
                break
            except OSError:
                time.sleep(0.2)
        time.sleep(1)  # every worker booted (a worker failing to boot stops gunicorn)
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn {app} did not start on port {port}; see {errors}")
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


@contextmanager
def workers(count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs = [
        subprocess.Popen(
            [str(BIN / "flask"), "jobs", "worker", "ingest", "default"],
            cwd=ROOT,
            env=env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(count)
    ]
    try:
        yield procs
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)


class RssWatch:
    """Peak resident set size of any one of the processes or their children (an import's
    shard processes, an RQ worker's work horse), sampled every 0.2 s: the target is per
    process. ``tree_peak`` is the largest sum over one process and its children."""

    def __init__(self, pids: list[int]) -> None:
        self.pids, self.peak, self.tree_peak = pids, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            for pid in self.pids:
                tree = 0
                for proc in _tree([pid]):
                    try:
                        rss = proc.memory_info().rss
                    except psutil.Error:
                        continue
                    self.peak = max(self.peak, rss)
                    tree += rss
                self.tree_peak = max(self.tree_peak, tree)
            time.sleep(0.2)

    def __enter__(self) -> RssWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _tree(pids: list[int]) -> list[psutil.Process]:
    procs = []
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs += [root, *root.children(recursive=True)]
        except psutil.Error:
            pass
    return procs


def _service_pids(name: str) -> list[int]:
    """The root processes of a service (PostgreSQL's postmaster, redis-server)."""
    roots = []
    for proc in psutil.process_iter(["name", "ppid"]):
        try:
            if proc.info["name"] == name and psutil.Process(proc.info["ppid"]).name() != name:
                roots.append(proc.pid)
        except psutil.Error:
            continue
    return roots


class CpuWatch:
    """CPU time of process groups over a step, in % of one core, sampled every 0.5 s.

    A group's time is the sum over its live processes of their own CPU time and that of their
    children already waited for (rusage), so a child that exits (an RQ work horse, a
    PostgreSQL backend) moves its time to its parent without loss or double count. Every
    process's own share is kept too: the load generator is flagged when one of its processes
    (single-threaded gevent) passes ``GENERATOR_FLAG`` of a core, where its figures would be
    its own ceiling, not the platform's. PostgreSQL and Redis are the machine's servers: they
    include whatever else uses them; ``machine`` is every core's busy time, ``other`` what
    none of the groups used (other work on a shared machine)."""

    GENERATOR_FLAG = 80.0

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = {
            **groups,
            "postgresql": _service_pids("postgres"),
            "redis": _service_pids("redis-server"),
        }
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.own: dict[int, tuple[str, float, float, float, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def add(self, group: str, pids: list[int]) -> None:
        self.groups[group] = self.groups.get(group, []) + pids

    def _sample(self) -> None:
        now = time.monotonic()
        for group, roots in list(self.groups.items()):
            total = 0.0
            for proc in _tree(roots):
                try:
                    t = proc.cpu_times()
                except psutil.Error:
                    continue
                own = t.user + t.system
                total += own + t.children_user + t.children_system
                seen = self.own.get(proc.pid)
                self.own[proc.pid] = (
                    (group, own, now, own, now)
                    if seen is None
                    else (group, seen[1], seen[2], own, now)
                )
            self.first.setdefault(group, total)
            self.last[group] = max(total, self.last.get(group, 0.0))

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def __enter__(self) -> CpuWatch:
        self.started, self.busy = time.monotonic(), _busy()
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.seconds = max(1e-6, time.monotonic() - self.started)
        self.machine = (_busy() - self.busy) / self.seconds * 100

    def result(self) -> dict[str, Any]:
        """% of one core per group over the step; the busiest process of each group."""
        groups = {
            g: round((self.last.get(g, 0.0) - self.first.get(g, 0.0)) / self.seconds * 100, 1)
            for g in self.groups
        }
        busiest: dict[str, float] = {}
        for group, first, since, last, until in self.own.values():
            if until - since >= 1.0:
                share = (last - first) / (until - since) * 100
                busiest[group] = round(max(busiest.get(group, 0.0), share), 1)
        generator = busiest.get("locust", 0.0)
        return {
            "seconds": round(self.seconds, 1),
            "groups_pct_of_core": groups,
            "busiest_process_pct": busiest,
            "machine_pct_of_core": round(self.machine, 1),
            "other_pct_of_core": round(max(0.0, self.machine - sum(groups.values())), 1),
            "generator_bound": generator > self.GENERATOR_FLAG,
        }


def settle(pids: list[int], limit: float = 30.0) -> None:
    """Until the processes (and children) have finished starting: less than 10% of a core
    over a second (RQ workers import the app and recover batches as they start; measured
    runs should not pay for it)."""
    deadline = time.monotonic() + limit

    def used() -> float:
        total = 0.0
        for proc in _tree(pids):
            try:
                t = proc.cpu_times()
            except psutil.Error:
                continue
            total += t.user + t.system + t.children_user + t.children_system
        return total

    while time.monotonic() < deadline:
        before = used()
        time.sleep(1)
        if used() - before < 0.1:
            return


def quiesce(limit: float = 300.0) -> dict[str, float]:
    """The database in a steady state before the closed loops. After a bulk load PostgreSQL
    still has work of its own queued: autovacuum's insert-triggered vacuums and analyzes of
    the loaded tables (a minute's naptime, then throttled), the hint bits that the first
    reader of each fresh row sets (dirtying its page), and the dirty buffers of the next
    checkpoint. Left alone, that work falls on whichever closed loop runs then. ``VACUUM
    (ANALYZE)`` of the whole database does it now at full speed, ``CHECKPOINT`` writes it
    out, then the bench waits until no autovacuum worker is busy on the database (at most
    ``limit`` seconds). The same for every run that follows, the ceilings' and the
    personas'."""
    marks = [time.perf_counter()]
    psql("VACUUM (ANALYZE)")
    marks.append(time.perf_counter())
    psql("CHECKPOINT")
    marks.append(time.perf_counter())
    busy = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE backend_type = 'autovacuum worker' AND datname = current_database()"
    )
    while psql(busy) != "0" and time.perf_counter() - marks[-1] < limit:
        time.sleep(1)
    marks.append(time.perf_counter())
    steps = ("vacuum_analyze_s", "checkpoint_s", "autovacuum_wait_s")
    return {step: round(b - a, 1) for step, a, b in zip(steps, marks[:-1], marks[1:], strict=True)}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _busy() -> float:
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0))


# --- steps -------------------------------------------------------------------------------


def prepare(residents: int, fresh: bool = True) -> dict[str, Any]:
    log("services, database, migrations" if fresh else "services (reusing the database)")
    run(
        ["bash", "tools/services.sh", "start"],
        env={**os.environ, "PGPORT": str(PGPORT), "REDISPORT": str(REDISPORT)},
    )
    if fresh:
        for sql in (f"DROP DATABASE IF EXISTS {DB}", f"CREATE DATABASE {DB}"):
            subprocess.run(
                ["psql", "-h", "127.0.0.1", "-p", str(PGPORT), "-U", "postgres", "-qc", sql],
                check=True,
                capture_output=True,
            )
        subprocess.run(
            ["redis-cli", "-p", str(REDISPORT), "-n", str(REDIS_DB), "flushdb"],
            check=True,
            capture_output=True,
        )
    flask("db", "upgrade")
    log(f"generating {residents} residents, partners, merchants and offers")
    out = json.loads(
        flask(
            "demo",
            "generate",
            "--residents",
            str(residents),
            "--records",
            "0",
            "--staff",
            str(STAFF),
            "--json",
        )
        .strip()
        .splitlines()[-1]
    )
    from backend.demo.generate import BENCH_TOTP_SECRET

    tokens = RESULTS / "tokens.json"
    run(
        [
            sys.executable,
            "-m",
            "loadtests.tokens",
            str(tokens),
            "--residents",
            str(min(residents, TOKEN_RESIDENTS)),
            "--staff",
            str(STAFF),
        ]
    )
    partners = {code: tuple(pair) for code, pair in out["partners"].items()}
    if "bench-bus" not in partners:  # reused database: the secret was shown once; rotate
        lines = dict(
            line.split(": ", 1)
            for line in flask("partners", "rotate", "bench-bus").splitlines()
            if ": " in line
        )
        partners["bench-bus"] = (lines["key_id"], lines["secret"])
    return {
        "tokens": str(tokens),
        "partners": partners,
        "offers": ",".join(str(o) for o in out["offers"]),
        "admins": ",".join(out["admins"]),
        "admin_totp": BENCH_TOTP_SECRET,
    }


def write_files(records: int, residents: int, seed: int, days_back: int) -> dict[str, str]:
    from backend.demo.generate import write_records

    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=days_back)
    return write_records(RESULTS / "data", records, residents, seed=seed, start=start)


def import_files(files: dict[str, str], workers: int) -> dict[str, Any]:
    """The streaming import of every partner's file (each with ``workers`` processes on
    disjoint shards of the residents), one file after the other. The time is the import's
    own clock (its slowest shard), without the processes' start-up, so the per-record cost
    of a small file is not inflated by a constant."""
    peak, total, seconds = 0, 0, 0.0
    cpus: list[dict[str, Any]] = []
    for code, path in files.items():
        proc = subprocess.Popen(
            [
                str(BIN / "flask"),
                "partners",
                "import",
                path,
                "--partner",
                code,
                "--chunk",
                "10000",
                "--workers",
                str(workers),
                "--json",
            ],
            cwd=ROOT,
            env=env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        with RssWatch([proc.pid]) as watch, CpuWatch({"import": [proc.pid]}) as cpu:
            output, _ = proc.communicate()
        cpus.append(cpu.result())
        if proc.returncode:
            raise RuntimeError(f"import failed: {output}")
        result = json.loads(output.strip().splitlines()[-1])
        seconds += float(result["work_seconds"])
        peak = max(peak, watch.peak)
        total += int(result["records"])
    return {
        "records": total,
        "seconds": round(seconds, 2),
        "workers": workers,
        "records_per_s": round(total / seconds, 1),
        "peak_rss_mb_per_process": round(peak / 2**20, 1),
        "us_per_record": round(seconds / total * 1e6, 1),
        "cpu": max(cpus, key=lambda c: c["seconds"]),  # the longest file's
    }


def push_api(
    files: dict[str, str], partners: dict[str, tuple[str, str]], worker_count: int
) -> dict[str, Any]:
    """Push the files through the signed API in 10,000-record batches; RQ workers process
    them; timed until every batch is done.

    Each batch holds one of ``worker_count`` identity shards (``shard_of``, as the import's
    ``--workers``), the shards taken in turn, as an operator exporting by card range would:
    workers on consecutive batches then touch different residents. Batches that mix every
    resident make the workers take turns on the residents' account locks (docs/scaling.md)."""
    batches, total = 0, 0
    # The bodies are encoded ahead, out of the timed window: the partner's JSON encoding is
    # the load generator's work, not the platform's (1M records are ~10 s of a core).
    bodies: list[tuple[str, Path, int]] = []
    for code, path in files.items():
        for index, chunk in enumerate(_sharded_chunks(path, 10_000, worker_count)):
            body = Path(path).with_name(f"push-{code}-{index}.json")
            body.write_bytes(json.dumps({"records": chunk}).encode())
            bodies.append((code, body, len(chunk)))
    with (
        serving("backend.wsgi:app", WEB_PORT) as web,
        workers(worker_count) as procs,
        RssWatch([p.pid for p in procs]) as watch,
    ):
        settle([web.pid, *(p.pid for p in procs)])  # workers running, as in production
        done_before = _batches_done()
        with CpuWatch({"gunicorn": [web.pid], "rq": [p.pid for p in procs]}) as cpu:
            started = time.perf_counter()
            for code, body, count in bodies:
                _post(*partners[code], body.read_bytes())
                batches, total = batches + 1, total + count
            accepted = time.perf_counter() - started
            _wait_batches(done_before + batches)
            seconds = time.perf_counter() - started
    for _code, body, _count in bodies:
        body.unlink(missing_ok=True)
    return {
        "records": total,
        "batches": batches,
        "workers": worker_count,
        "accepted_in_s": round(accepted, 2),
        "seconds": round(seconds, 2),
        "records_per_s": round(total / seconds, 1),
        "us_per_record": round(seconds / total * 1e6, 1),
        "peak_rss_mb_per_worker": round(watch.peak / 2**20, 1),  # any one process
        "cpu": cpu.result(),
    }


def _sharded_chunks(path: str, size: int, shards: int) -> Iterator[list[Any]]:
    """Chunks of ``size`` records of one identity shard each, the shards in turn."""
    from backend.actions.ingest import shard_of

    pending: list[list[Any]] = [[] for _ in range(shards)]
    for chunk in _chunks(path, size):
        for record in chunk:
            pending[shard_of(record, shards)].append(record)
        while all(len(p) >= size for p in pending):
            for k in range(shards):
                yield pending[k][:size]
                pending[k] = pending[k][size:]
    for rest in pending:
        for start in range(0, len(rest), size):
            yield rest[start : start + size]


def _chunks(path: str, size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            chunk.append(json.loads(line))
            if len(chunk) == size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def _post(key_id: str, secret: str, body: bytes) -> int:
    import urllib.request

    from backend.partners.services import sign

    path = "/api/v1/partner/batches"
    stamp = str(int(time.time()))
    request = urllib.request.Request(
        f"http://127.0.0.1:{WEB_PORT}{path}",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Timestamp": stamp,
            "Authorization": f"HMAC-SHA256 key_id={key_id},"
            f"signature={sign(secret, 'POST', path, stamp, body)}",
        },
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - localhost
        return int(json.loads(response.read())["batch_id"])


def _batches_done() -> int:
    return int(
        psql(
            "SELECT count(*) FROM partner_batches WHERE source <> 'file' "
            "AND status IN ('done', 'failed')"
        )
    )


def _wait_batches(count: int) -> None:
    """Until ``count`` pushed batches (all runs so far) are done."""
    while _batches_done() < count:
        time.sleep(0.5)


def psql(query: str) -> str:
    return subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", str(PGPORT), "-U", "postgres", "-d", DB, "-tAc", query],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def recompute() -> dict[str, Any]:
    """``flask methodologies recompute --check``: every stored reduction derived again from
    its inputs and its exact methodology version; clean when there is no difference."""
    started = time.perf_counter()
    result = subprocess.run(
        [str(BIN / "flask"), "methodologies", "recompute", "--check"],
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
    )
    lines = result.stdout.strip().splitlines()
    return {
        "clean": result.returncode == 0,
        "summary": lines[-1] if lines else result.stderr.strip()[-200:],
        "differences": result.stderr.count("DIFFERENCE:"),
        "seconds": round(time.perf_counter() - started, 1),
    }


def reconcile() -> bool:
    result = subprocess.run(
        [str(BIN / "flask"), "ledger", "reconcile"],
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
    )
    return result.returncode == 0


def spawning(users: int, seconds: int, throughput: bool) -> tuple[float, float, int]:
    """Locust's spawn rate (users a second), the seconds the users take to arrive, and the
    run's length (``-t``): closed loops start every user at once; the realistic mix's users
    arrive over ``SPAWN_SECONDS``, which is added to the run (the statistics start once every
    user is in, so ``seconds`` are measured either way)."""
    ramp = 0.0 if throughput else max(0.0, SPAWN_SECONDS)
    if ramp == 0:
        return float(users), 0.0, seconds
    return users / ramp, ramp, seconds + math.ceil(ramp)


def locust(
    classes: str,
    tags: str,
    users: int,
    seconds: int,
    port: int,
    processes: int,
    meta: dict[str, Any],
    throughput: bool,
    watch: dict[str, list[int]],
    label: str = "",
) -> dict[str, Any]:
    """A headless locust run of some persona classes: per-request-name stats from its CSV,
    the percentiles of each endpoint class from its histograms, the personas' waits for a
    credential with room under its rate limit, and the CPU of every process group meanwhile
    (``watch``: the platform's processes by group; the load generator's are added).

    Statistics are reset once every user has spawned (sign-ins with argon2 happen in
    on_start and are not what is being measured). With think time (the realistic mix) the
    users arrive over ``SPAWN_SECONDS``, added to the run, rather than in one instant."""
    name = label or f"{classes}-{tags}".replace(",", "-")
    prefix = RESULTS / "locust" / name
    out = RESULTS / "locust" / f"{name}-out"
    shutil.rmtree(out, ignore_errors=True)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    extra = {
        "BENCH_RESIDENTS": str(meta["residents"]),
        "BENCH_OFFERS": meta["offers"],
        "BENCH_PARTNER_KEY_ID": meta["partners"]["bench-bus"][0],
        "BENCH_PARTNER_SECRET": meta["partners"]["bench-bus"][1],
        "BENCH_ADMINS": meta.get("admins", ""),
        "BENCH_TOKENS": meta["tokens"],
        "BENCH_ADMIN_TOTP_SECRET": meta.get("admin_totp", ""),
        "BENCH_CLASSES": classes,
        "BENCH_STAFF": str(STAFF),
        "BENCH_OUT": str(out),
        "BENCH_PROCESSES": str(processes),
    }
    if throughput:
        extra["BENCH_THROUGHPUT"] = "1"
    rate, ramp, run_seconds = spawning(users, seconds, throughput)
    command = [
        str(BIN / "locust"),
        "-f",
        "loadtests/locustfile.py",
        "--headless",
        "-u",
        str(users),
        "-r",
        str(rate),
        "-t",
        f"{run_seconds}s",
        "-H",
        f"http://127.0.0.1:{port}",
        "--csv",
        str(prefix),
        "--only-summary",
        "--stop-timeout",
        "5",
        "--reset-stats",
    ]
    if tags:
        command += ["--tags", *tags.split(",")]
    command += classes.split(",")
    if processes > 1:
        command += ["--processes", str(processes)]
        command += ["--master-bind-port", str(LOCUST_PORT), "--master-port", str(LOCUST_PORT)]
    before = _children_cpu()
    with CpuWatch(watch) as cpu:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env(**extra),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        cpu.add("locust", [proc.pid])
        try:
            proc.wait(timeout=seconds + ramp + 120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
    usage = cpu.result()
    # The generator's whole CPU time, exactly: locust is this process's child, waited for
    # (its worker processes waited for by it); sampling alone misses its last half second.
    usage["groups_pct_of_core"]["locust"] = round(
        (_children_cpu() - before) / usage["seconds"] * 100, 1
    )
    usage["generator_bound"] = usage["generator_bound"] or (
        usage["groups_pct_of_core"]["locust"] / processes > CpuWatch.GENERATOR_FLAG
    )
    stats: dict[str, dict[str, Any]] = {}
    with open(f"{prefix}_stats.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            count = int(row["Request Count"])
            # A name seen only before the statistics were reset (the administrators'
            # sign-ins while users arrive) has no percentiles ("N/A"): not measured.
            if row["Name"] == "Aggregated" or count == 0:
                continue
            stats[row["Name"]] = {
                "requests": count,
                "failed": int(row["Failure Count"]),
                "rps": round(float(row["Requests/s"]), 1),
                "p50_ms": float(row["50%"] or 0),
                "p95_ms": float(row["95%"] or 0),
                "p99_ms": float(row["99%"] or 0),
                "error_rate": round(int(row["Failure Count"]) / count, 4) if count else 0.0,
                "failures": {},
            }
    with open(f"{prefix}_failures.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] in stats:
                stats[row["Name"]]["failures"][row["Error"][:120]] = int(row["Occurrences"])
    histograms = _read_json(out / "histograms.json")
    pools: dict[str, dict[str, float]] = {"waits": {}, "waited_s": {}, "answers": {}}
    for path in out.glob("pools-*.json"):
        for key, values in _read_json(path).items():
            for kind, value in values.items():
                pools[key][kind] = round(pools[key].get(kind, 0) + value, 1)
    return {
        "users": users,
        "seconds": seconds,
        "spawn_seconds": ramp,
        "endpoints": stats,
        "classes": class_percentiles(histograms),
        "pools": pools,
        "cpu": usage,
    }


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data


def contention(meta: dict[str, Any], concurrency: int, redemptions: int) -> dict[str, Any]:
    """Concurrent redemptions through the service layer on PostgreSQL (loadtests/contention)."""
    result = run(
        [
            sys.executable,
            "-m",
            "loadtests.contention",
            "--offer",
            meta["offers"].split(",")[0],
            "--concurrency",
            str(concurrency),
            "--redemptions",
            str(redemptions),
        ]
    )
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def machine() -> dict[str, Any]:
    pg = f"{psql('show server_version')}, shared_buffers {psql('show shared_buffers')}"
    redis = (
        subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
        .stdout.split()[2]
        .removeprefix("v=")
    )
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "os": platform.platform(),
        "postgresql": pg,
        "redis": redis,
        "note": "load generator, gunicorn, RQ workers, PostgreSQL and Redis share the cores",
    }


def ingest(
    args: Any, meta: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
    """The streaming import at growing sizes, then the push API at growing sizes (each size
    a new file of new records at earlier days, so nothing is a resend)."""
    growth, api, days_back = [], [], 0
    for index, size in enumerate(int(x) for x in args.growth.split(",")):
        log(f"import {size} records")
        files = write_files(size, args.residents, seed=100 + index, days_back=days_back)
        days_back += size // (args.residents * 3) + 2
        growth.append(import_files(files, args.workers))
        log(f"  {growth[-1]}")
    for index, size in enumerate(int(x) for x in args.api_records.split(",")):
        log(f"push API {size} records with {args.workers} RQ workers")
        files = write_files(size, args.residents, seed=99 - index, days_back=days_back)
        days_back += size // (args.residents * 3) + 2
        api.append(push_api(files, meta["partners"], args.workers))
        log(f"  {api[-1]}")
    return growth, api, reconcile()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="small sizes, short runs (CI)")
    parser.add_argument(
        "--growth", default="10000,100000,1000000", help="import sizes, comma separated"
    )
    parser.add_argument(
        "--api-records", default="10000,1000000", help="push API sizes, comma separated"
    )
    parser.add_argument("--residents", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=50, help="closed loops and the mix")
    parser.add_argument(
        "--more-users", type=int, default=200, help="the mix again, with this many users"
    )
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--locust-processes", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--reuse",
        metavar="RESULT.json",
        help="keep that run's database, ingestion and contention figures; "
        "measure the ceilings and personas again",
    )
    args = parser.parse_args()
    if args.smoke:
        args.growth, args.api_records, args.residents = "2000,10000", "2000,10000", 1000
        args.users, args.more_users, args.seconds, args.locust_processes = 10, 40, 10, 1
    began = time.perf_counter()
    steps: dict[str, float] = {}
    mark = [began]

    def lap(step: str) -> None:
        now = time.perf_counter()
        steps[step] = round(now - mark[0], 1)
        mark[0] = now

    previous = json.loads(Path(args.reuse).read_text()) if args.reuse else None
    meta = prepare(args.residents, fresh=previous is None)
    meta["residents"] = args.residents
    lap("prepare")
    if previous:
        growth, api = previous["growth"], previous["api_ingestion"]
        # the smallest size is quick: measure it again with the current clock
        size = growth[0]["records"]
        log(f"import {size} records (again)")
        growth[0] = import_files(
            write_files(size, args.residents, seed=300, days_back=400), args.workers
        )
        clean_after_ingest = reconcile()
    else:
        growth, api, clean_after_ingest = ingest(args, meta)
    lap("ingestion")
    # What the scheduler (rq cron backend/cron.py) would have run by now; among them the
    # admin dashboard's refresh-ahead, which a fresh database has not had yet.
    log("periodic jobs")
    flask("jobs", "run-periodic")
    lap("periodic jobs")
    log("quiet database: VACUUM (ANALYZE), CHECKPOINT, autovacuum done")
    quiet = quiesce()
    log(f"  {quiet}")
    lap("quiesce")
    log("ceilings and personas")
    runs: dict[str, Any] = {}

    def persona_run(
        name: str,
        classes: str,
        tags: str,
        users: int,
        seconds: int,
        port: int,
        throughput: bool,
        watch: dict[str, list[int]],
    ) -> None:
        log(f"  {name}: {classes} {tags or '(all tasks)'}, {users} users, {seconds} s")
        runs[name] = locust(
            classes,
            tags,
            users,
            seconds,
            port,
            args.locust_processes,
            meta,
            throughput,
            watch,
            label=name,
        )
        log(f"    {total_rps(runs[name])} req/s, cpu {runs[name]['cpu']['groups_pct_of_core']}")

    with serving("loadtests.ceiling_app:app", CEILING_PORT) as ceiling:
        watch = {"gunicorn": [ceiling.pid]}
        settle([ceiling.pid])
        persona_run("hello", "Hello", "", args.users, args.seconds, CEILING_PORT, True, watch)
        persona_run("insert", "Insert", "", args.users, args.seconds, CEILING_PORT, True, watch)
    everyone = "Resident,MerchantStaff,Partner,Administrator"
    with serving("backend.wsgi:app", WEB_PORT) as web, workers(args.workers) as rq:
        watch = {"gunicorn": [web.pid], "rq": [p.pid for p in rq]}
        settle([web.pid, *watch["rq"]])
        persona_run("reads", "Resident", "read", args.users, args.seconds, WEB_PORT, True, watch)
        persona_run(
            "writes",
            "Resident,MerchantStaff",
            "write",
            args.users,
            args.seconds,
            WEB_PORT,
            True,
            watch,
        )
        persona_run("mix", everyone, "", args.users, args.seconds * 2, WEB_PORT, False, watch)
        persona_run(
            "mix_more", everyone, "", args.more_users, args.seconds * 2, WEB_PORT, False, watch
        )
    lap("personas")
    if previous:
        contended = previous["contention"]
    else:
        log("ledger contention")
        contended = contention(meta, 50 if not args.smoke else 10, 1000 if not args.smoke else 100)
    lap("contention")
    log("audit: ledger reconcile and methodologies recompute --check")
    clean = reconcile() and clean_after_ingest and contended["reconcile_clean"]
    checked = recompute()
    lap("audit")
    log(f"  reconcile clean: {clean}; recompute: {checked['summary']} ({checked['seconds']} s)")
    result = {
        "date": date.today().isoformat(),
        "smoke": args.smoke,
        "command": "make bench-smoke" if args.smoke else "make bench",
        "machine": machine(),
        "gunicorn": gunicorn_description(),
        "users": args.users,
        "seconds": args.seconds,
        "locust_processes": args.locust_processes,
        **runs,
        "growth": growth,
        "api_ingestion": api,
        "contention": contended,
        "reconcile_clean": clean,
        "recompute": checked,
        "quiesce": quiet,
        "steps_seconds": steps,
    }
    result["wall_seconds"] = round(time.perf_counter() - began, 1)
    result["summary"] = summary(result)
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"{result['date']}{'-smoke' if args.smoke else ''}"
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    (RESULTS / f"{name}.md").write_text(markdown(result))
    shutil.rmtree(RESULTS / "data", ignore_errors=True)
    shutil.rmtree(RESULTS / "locust", ignore_errors=True)
    (RESULTS / "tokens.json").unlink(missing_ok=True)
    print(markdown(result))
    log(f"done in {result['wall_seconds']} s; report {RESULTS / (name + '.md')}")
    return 0 if clean and checked["clean"] else 1


def gunicorn_description() -> str:
    """The web worker model the personas met: gunicorn.conf.py read under the environment
    the bench served the platform with."""
    code = (
        "import json, runpy; c = runpy.run_path('gunicorn.conf.py'); "
        "print(json.dumps({k: c.get(k) for k in ('workers', 'worker_class', 'threads')}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=SERVED.get("env") or env(),
        capture_output=True,
        text=True,
    )
    try:
        c = json.loads(result.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return "see gunicorn.conf.py"
    return f"{c['workers']} {c['worker_class']} workers x {c['threads']} threads (gunicorn.conf.py)"


if __name__ == "__main__":
    sys.exit(main())
