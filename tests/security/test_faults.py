"""Faults on real PostgreSQL and Redis, with real processes.

* An RQ worker is killed (SIGKILL) in the middle of a multi-chunk batch; a new worker finishes
  it (``recover_batches`` runs as a worker starts: the dead worker's advisory lock is gone, so
  the batch is queued again and resumes from its last committed chunk).
* The database connection of a redemption is terminated between the hold and the commit: the
  answer is a 503 ``service_unavailable``, nothing is half-written, and the retry with the same
  ``Idempotency-Key`` succeeds once.
* Redis is stopped while the web serves: reads keep working, ``/readyz`` says why it is not
  ready, a partner batch (it needs a job) is refused with 503 ``jobs_unavailable`` and nothing
  is stored; Redis restarts empty, and the batch it lost is queued again and processed.

After each, ``flask ledger reconcile`` and ``flask methodologies recompute --check`` (run as
real commands) are clean and no record was credited twice or lost.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from backend.actions.ingest import recover_batches
from backend.actions.models import ActivityRecord, BatchStatus, Outcome, PartnerBatch, Reduction
from backend.app import create_app
from backend.extensions import db as _db
from backend.extensions import limiter
from backend.ledger.queries import resident_balance
from backend.methodology_versions.services import seed_versions
from backend.rewards import services as rewards
from backend.rewards.models import Offer, Redemption

from ..factories import Factories
from ..helpers import Auth, as_json, link_proven, recent_day, signed_headers
from .figures import record

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]
BATCHES = "/api/v1/partner/batches"


def _env(app: Any, **extra: str) -> dict[str, str]:
    """The environment of a production process (worker, CLI) on the test's database."""
    return {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": app.config["SECRET_KEY"],
        "IDENTITY_KEY": app.config["IDENTITY_KEY"],
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": app.config["REDIS_URL"],
        "FLASK_APP": "backend.app:create_app",
        **extra,
    }


def _flask(app: Any, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=_env(app, **env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_books_clean(app: Any) -> None:
    """The two commands an operator runs after an incident."""
    ledger = _flask(app, "ledger", "reconcile")
    assert ledger.returncode == 0 and "reconcile: clean" in ledger.stdout, ledger
    recompute = _flask(app, "methodologies", "recompute", "--check")
    assert recompute.returncode == 0 and " 0 differences" in recompute.stdout, recompute
    # one reduction per credited record, and no record credited twice
    credited = _db.session.scalar(
        select(func.count())
        .select_from(ActivityRecord)
        .where(ActivityRecord.outcome == Outcome.CREDITED)
    )
    reductions = _db.session.scalar(select(func.count()).select_from(Reduction))
    distinct = _db.session.scalar(select(func.count(func.distinct(Reduction.record_id))))
    assert credited == reductions == distinct


def _trips(n: int, residents: int) -> list[dict[str, Any]]:
    """n bus trips of ``residents`` card holders, six a day each (under every cap)."""
    out = []
    for i in range(n):
        card, slot = i % residents, i // residents
        day, hour = 1 + slot // 6, 7 + slot % 6 * 2
        start = f"{recent_day(day)}T{hour:02d}:00:00+08:00"  # inside the claim window
        out.append(
            {
                "record_id": f"k-{i}",
                "action": "public_transit",
                "identity": f"FAULT-CARD-{card}",
                "activity": {
                    "mode": "bus",
                    "distance_km": 8.2,
                    "started_at": start,
                    "ended_at": start.replace(":00:00+", ":25:00+"),
                },
            }
        )
    return out


def _reap_group(pgid: int) -> bool:
    """Wait for what the killed worker forked (RQ's scheduler) to end by itself; kill and
    report it if it does not."""
    for _ in range(50):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    return True


def _push(app: Any, key: tuple[str, str], records: list[dict[str, Any]]) -> Any:
    body = as_json({"records": records})
    headers = signed_headers(*key, "POST", BATCHES, body, content_type="application/json")
    return app.test_client().post(BATCHES, data=body, headers=headers)


def _batch(batch_id: int) -> PartnerBatch:
    _db.session.expire_all()
    batch = _db.session.get(PartnerBatch, batch_id)
    assert batch is not None
    return batch


@pytest.fixture
def queued_jobs(committed):
    """Jobs go to Redis (as in production) instead of running inline; the queues are empty
    at the start and the end."""
    app = committed
    app.extensions["redis"].flushdb()
    app.config["JOBS_INLINE"] = False
    app.extensions.pop("rq_queues", None)
    try:
        yield app
    finally:
        app.config["JOBS_INLINE"] = True
        app.extensions.pop("rq_queues", None)
        app.extensions["redis"].flushdb()


def test_a_worker_killed_mid_batch_is_replaced_and_nothing_is_credited_twice(queued_jobs):
    app = queued_jobs
    seed_versions()
    make = Factories()
    _, *key = make.partner("fault-bus", kind="transit")
    residents = [make.resident() for _ in range(10)]
    for i, resident in enumerate(residents):
        link_proven(resident, "fault-bus", f"FAULT-CARD-{i}")
    records = _trips(1500, len(residents))
    response = _push(app, tuple(key), records)
    assert response.status_code == 202, response.get_json()
    batch_id = response.get_json()["batch_id"]

    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "jobs", "worker", "ingest"],
        cwd=ROOT,
        env=_env(app, INGEST_CHUNK="20"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, to find what it forked
    )
    try:
        deadline = time.monotonic() + 120
        while _batch(batch_id).processed < 200:  # ten chunks in: well inside the batch
            assert worker.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, "the worker made no progress"
            time.sleep(0.05)
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        orphans = _reap_group(worker.pid)
    assert not orphans, "RQ's scheduler outlived the killed worker"

    killed_at = _batch(batch_id).processed
    batch = _batch(batch_id)
    assert batch.status is BatchStatus.PROCESSING and killed_at < len(records)
    # chunks are atomic: every processed record is stored, none beyond
    stored = _db.session.scalar(
        select(func.count()).select_from(ActivityRecord).filter_by(batch_id=batch_id)
    )
    assert stored == killed_at
    assert_books_clean(app)

    # a new worker: it queues the abandoned batch again as it starts, then drains the queue
    restarted = _flask(app, "jobs", "worker", "--burst", "ingest", INGEST_CHUNK="20")
    assert restarted.returncode == 0, restarted.stderr[-2000:]
    assert "recover_batches: 1" in restarted.stdout
    batch = _batch(batch_id)
    assert batch.status is BatchStatus.DONE and batch.processed == len(records)
    assert not batch.resent  # nothing was received twice
    credited = _db.session.scalar(
        select(func.count())
        .select_from(ActivityRecord)
        .where(ActivityRecord.batch_id == batch_id, ActivityRecord.outcome == Outcome.CREDITED)
    )
    assert credited == len(records)
    points = _db.session.scalar(select(func.sum(Reduction.points)))
    assert sum(resident_balance(r.id) for r in residents) == points
    assert recover_batches() == 0  # nothing left behind
    assert_books_clean(app)
    record(
        "faults",
        **{"worker SIGKILL mid-batch:": f"killed at {killed_at}/{len(records)}, resumed, done"},
    )


def test_a_connection_dropped_mid_redemption_writes_nothing_and_the_retry_succeeds_once(
    committed, monkeypatch
):
    app = committed
    make = Factories()
    resident = make.resident()
    make.points(resident, 500)
    offer = make.offer(points_price=100, stock=5)
    client = app.test_client()
    headers = {**Auth(client, make).bearer(resident), "Idempotency-Key": "counter-1"}
    url = f"/api/v1/offers/{offer.id}/redeem"
    post_entry = rewards.post_entry
    dropped = []

    def drop_connection_then_post(*args: Any, **kwargs: Any) -> Any:
        """Between the hold's stock update and its ledger entry: the server ends the
        request's connection (as a failover or an administrator would)."""
        if not dropped:
            pid = _db.session.execute(text("SELECT pg_backend_pid()")).scalar()
            with _db.engine.connect() as other:
                dropped.append(other.execute(text(f"SELECT pg_terminate_backend({pid})")))
                other.commit()
        return post_entry(*args, **kwargs)

    monkeypatch.setattr(rewards, "post_entry", drop_connection_then_post)
    response = client.post(url, headers=headers)
    assert dropped and response.status_code == 503, response.get_data(as_text=True)
    assert response.get_json()["code"] == "service_unavailable"
    assert response.headers["Retry-After"]
    _db.session.expire_all()
    assert _db.session.scalar(select(func.count()).select_from(Redemption)) == 0
    assert _db.session.get(Offer, offer.id).stock == 5
    assert resident_balance(resident.id) == 500
    assert_books_clean(app)

    first = client.post(url, headers=headers)
    again = client.post(url, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.get_json()["id"] == again.get_json()["id"]
    _db.session.expire_all()
    assert _db.session.scalar(select(func.count()).select_from(Redemption)) == 1
    assert _db.session.get(Offer, offer.id).stock == 4
    assert resident_balance(resident.id) == 400
    assert_books_clean(app)
    record("faults", **{"DB connection dropped mid-redemption:": "503, nothing written, retry ok"})


def test_pooled_connections_the_server_closed_are_replaced_before_a_request_uses_them(committed):
    """PostgreSQL restarted (or a failover, or an idle timeout) while the connections sat in
    the pool: the next requests are answered as usual, on fresh connections, without the
    ``SELECT 1`` pre-ping a checkout used to send (app._closed_by_the_server)."""
    app = committed
    make = Factories()
    resident = make.resident()
    make.points(resident, 500)
    offer = make.offer(points_price=100, stock=5)
    client = app.test_client()
    headers = Auth(client, make).bearer(resident)
    resident_id, url = resident.id, f"/api/v1/offers/{offer.id}/redeem"
    assert client.get("/api/v1/me/points", headers=headers).status_code == 200
    _db.session.remove()
    outside = create_engine(_db.engine.url, poolclass=NullPool)  # not one of the pool's
    with outside.connect() as other:
        ended = other.execute(
            text(
                "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND backend_type = 'client backend'"
            )
        ).scalar()
    outside.dispose()
    assert ended, "the pool held no connection to end"
    points = client.get("/api/v1/me/points", headers=headers)
    assert points.status_code == 200 and points.get_json()["balance"] == 500
    redeemed = client.post(url, headers={**headers, "Idempotency-Key": "after"})
    assert redeemed.status_code == 201, redeemed.get_data(as_text=True)
    assert resident_balance(resident_id) == 400
    assert_books_clean(app)
    record("faults", **{"pooled connections closed by the server:": "replaced, no error"})


REDIS_PORT = 16390  # a Redis of this test's own, so stopping it disturbs no one


def _redis_server(directory: Path, action: str) -> None:
    if action == "start":
        subprocess.run(
            [
                "redis-server",
                "--port",
                str(REDIS_PORT),
                "--bind",
                "127.0.0.1",
                "--daemonize",
                "yes",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(directory),
                "--pidfile",
                str(directory / "redis.pid"),
                "--logfile",
                str(directory / "log"),
            ],
            check=True,
        )
        for _ in range(100):
            ping = subprocess.run(
                ["redis-cli", "-p", str(REDIS_PORT), "ping"], capture_output=True, text=True
            )
            if "PONG" in ping.stdout:
                return
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")
    subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "shutdown", "nosave"], check=False)
    for _ in range(100):
        ping = subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "ping"], capture_output=True)
        if ping.returncode != 0:
            return
        time.sleep(0.05)


@pytest.fixture
def own_redis(committed, tmp_path):
    """A web app as production runs it (jobs and rate limits on Redis) on a Redis of its own."""
    _redis_server(tmp_path, "start")
    saved = dict(limiter.__dict__)  # one limiter object serves every app of the process
    url = f"redis://127.0.0.1:{REDIS_PORT}/0"
    web = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": committed.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": url,
            "JOBS_INLINE": False,
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": url,
        }
    )
    try:
        yield web, tmp_path
    finally:
        _redis_server(tmp_path, "stop")
        limiter.__dict__.clear()
        limiter.__dict__.update(saved)
        with web.app_context():
            _db.session.remove()
            _db.engine.dispose()


def test_redis_stopped_reads_work_jobs_are_refused_and_recover_after_restart(own_redis):
    web, directory = own_redis
    seed_versions()
    make = Factories()
    _, *key = make.partner("redis-bus", kind="transit")
    rider = make.resident()
    link_proven(rider, "redis-bus", "FAULT-CARD-0")
    make.points(rider, 10)
    offer = make.offer(points_price=10)
    client = web.test_client()
    bearer = {"Authorization": f"Bearer {Auth(client, make).token(rider)}"}

    def batches() -> int:
        return _db.session.scalar(select(func.count()).select_from(PartnerBatch)) or 0

    queued = _push(web, tuple(key), _trips(12, 1)[:6])
    assert queued.status_code == 202  # queued on Redis, not processed yet
    lost_id = queued.get_json()["batch_id"]

    _redis_server(directory, "stop")
    assert client.get("/api/v1/offers").status_code == 200
    assert client.get(f"/api/v1/offers/{offer.id}").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["checks"]["redis"].startswith("error")
    assert ready.get_json()["checks"]["database"] == "ok"
    status_path = f"{BATCHES}/{lost_id}"
    status = client.get(status_path, headers=signed_headers(*key, "GET", status_path))
    assert status.status_code == 200 and status.get_json()["status"] == "queued"
    before = batches()
    refused = _push(web, tuple(key), _trips(12, 1)[6:])
    assert refused.status_code == 503, refused.get_data(as_text=True)
    assert refused.get_json()["code"] == "jobs_unavailable"
    assert batches() == before  # nothing half-stored
    # writes that need no job go on: sign in, redeem
    signed_in = client.post("/api/v1/auth/token", json=Auth(client, make).credentials(rider))
    assert signed_in.status_code == 201
    assert client.post(f"/api/v1/offers/{offer.id}/redeem", headers=bearer).status_code == 201

    _redis_server(directory, "start")  # back, and empty: the queued job was lost with it
    assert client.get("/readyz").status_code == 200
    again = _push(web, tuple(key), _trips(12, 1)[6:])
    assert again.status_code == 202
    worker = _flask(web, "jobs", "worker", "--burst", "ingest", REDIS_URL=web.config["REDIS_URL"])
    assert worker.returncode == 0, worker.stderr[-2000:]
    assert "recover_batches: 1" in worker.stdout  # the lost batch
    for batch_id in (lost_id, again.get_json()["batch_id"]):
        assert _batch(batch_id).status is BatchStatus.DONE
    assert resident_balance(rider.id) == 12 * 359  # plus 10, less the 10 redeemed
    assert_books_clean(web)
    record("faults", **{"Redis stopped:": "reads 200, /readyz 503, batch 503, lost job re-queued"})
