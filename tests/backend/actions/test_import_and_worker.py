from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend.actions.identities import bind_identity
from backend.actions.models import ActivityRecord, Outcome, PartnerBatch
from backend.extensions import db as _db
from backend.ledger.queries import resident_balance
from backend.ledger.reconcile import reconcile
from backend.methodology_versions.services import seed_versions

from ...factories import Factories
from ...helpers import DAY, as_json, recent_day, signed_headers
from .conftest import bus

ROOT = Path(__file__).resolve().parents[3]


def _trip_rows(n: int) -> list[str]:
    rows = ["record_id,action,identity,mode,distance_km,started_at,ended_at"]
    for i in range(n):
        day = 1 + i // 6  # six trips a day stay under the daily limit
        hour = 7 + i % 6 * 2
        rows.append(
            f"f-{i},public_transit,CARD0001,bus,8.2,{recent_day(day + 1)}T{hour:02d}:00:00"
            f"+08:00,{recent_day(day + 1)}T{hour:02d}:25:00+08:00"
        )
    return rows


def test_import_streams_a_file_with_the_same_rules(app, transit, rider, tmp_path, db):
    path = tmp_path / "day.csv"
    path.write_text(
        "\n".join(
            [
                *_trip_rows(30),
                f"f-0,public_transit,CARD0001,bus,8.2,{DAY}T07:00:00+08:00,{DAY}T07:25:00+08:00",
            ]
        )
        + "\n"
    )
    result = app.test_cli_runner().invoke(
        args=["partners", "import", str(path), "--partner", "bus-co", "--chunk", "7"]
    )
    assert result.exit_code == 0, result.output
    assert "31 records" in result.output and "credited 30" in result.output
    assert "duplicate 1" in result.output
    assert resident_balance(rider.id) == 30 * 359
    again = app.test_cli_runner().invoke(
        args=["partners", "import", str(path), "--partner", "bus-co"]
    )
    assert "credited 0" in again.output and "duplicate 31" in again.output
    assert resident_balance(rider.id) == 30 * 359
    assert reconcile().clean


def test_import_jsonl_and_unknown_partner(app, transit, rider, tmp_path):
    path = tmp_path / "day.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(
                bus(
                    f"j-{i}",
                    start=f"{DAY}T{7 + i:02d}:00:00+08:00",
                    end=f"{DAY}T{7 + i:02d}:20:00+08:00",
                )
            )
            for i in range(3)
        )
        + "\nnot json\n"
    )
    result = app.test_cli_runner().invoke(
        args=["partners", "import", str(path), "--partner", "bus-co"]
    )
    assert result.exit_code == 0, result.output
    assert "credited 3, rejected 1, duplicate 0, review 0, unmatched 0" in result.output
    bad = app.test_cli_runner().invoke(args=["partners", "import", str(path), "--partner", "nope"])
    assert bad.exit_code != 0 and "unknown partner" in bad.output


@pytest.mark.postgres
@pytest.mark.redis
def test_a_batch_goes_through_a_real_rq_worker(committed):
    """The API queues the batch on Redis; a separate `flask jobs worker --burst` process
    verifies and credits it; the ledger reconciles."""
    app = committed
    seed_versions()
    make = Factories()
    partner, key_id, secret = make.partner("rq-bus", kind="transit")
    rider = make.resident()
    bind_identity(rider, "rq-bus", "CARD0001")
    app.config["JOBS_INLINE"] = False
    app.extensions.pop("rq_queues", None)
    try:
        body = as_json(
            {
                "records": [
                    bus(
                        f"w-{h}",
                        start=f"{DAY}T{h:02d}:00:00+08:00",
                        end=f"{DAY}T{h:02d}:25:00+08:00",
                    )
                    for h in range(7, 12)
                ]
            }
        )
        path = "/api/v1/partner/batches"
        response = app.test_client().post(
            path,
            data=body,
            headers=signed_headers(
                key_id, secret, "POST", path, body, content_type="application/json"
            ),
        )
        assert response.status_code == 202
        batch_id = response.get_json()["batch_id"]
        assert _db.session.get(PartnerBatch, batch_id).status.value == "queued"
    finally:
        app.config["JOBS_INLINE"] = True
        app.extensions.pop("rq_queues", None)
    env = {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": app.config["SECRET_KEY"],
        "IDENTITY_KEY": app.config["IDENTITY_KEY"],
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": app.config["REDIS_URL"],
        "FLASK_APP": "backend.app:create_app",
    }
    subprocess.run(
        [sys.executable, "-m", "flask", "jobs", "worker", "--burst", "ingest"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    _db.session.expire_all()
    batch = _db.session.get(PartnerBatch, batch_id)
    assert batch.status.value == "done" and batch.processed == 5
    credited = _db.session.scalar(
        select(func.count())
        .select_from(ActivityRecord)
        .where(ActivityRecord.outcome == Outcome.CREDITED)
    )
    assert credited == 5
    assert resident_balance(rider.id) == 5 * 359
    assert reconcile().clean


def test_shards_split_residents_and_cover_every_record():
    from backend.actions.ingest import in_shard

    records = [{"identity": f"CARD{i:04d}"} for i in range(500)]
    shards = [[r for r in records if in_shard(r, (k, 3))] for k in range(3)]
    assert sum(len(s) for s in shards) == 500
    assert all(shards)  # every process gets work
    assert in_shard(records[0], None)


def test_reimporting_a_file_keeps_the_batch_row_bounded(app, transit, rider, tmp_path, db):
    """Every resend is counted, only the first ones (one request's worth) are listed, and the
    list is written only until it is full, not once per chunk: memory and writes stay bounded
    however large the file. The API says how many resends there were."""
    from sqlalchemy import event

    _, pusher = transit
    path = tmp_path / "day.csv"
    path.write_text("\n".join(_trip_rows(30)) + "\n")
    first = app.test_cli_runner().invoke(
        args=["partners", "import", str(path), "--partner", "bus-co"]
    )
    assert "credited 30" in first.output, first.output
    writes: list[str] = []

    def spy(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE partner_batches") and " resent=" in statement:
            writes.append(statement)

    app.config["BATCH_MAX_RECORDS"] = 4
    engine = _db.engine
    event.listen(engine, "before_cursor_execute", spy)
    try:
        again = app.test_cli_runner().invoke(
            args=["partners", "import", str(path), "--partner", "bus-co", "--chunk", "3"]
        )
    finally:
        event.remove(engine, "before_cursor_execute", spy)
        app.config["BATCH_MAX_RECORDS"] = 10000
    assert "credited 0" in again.output and "duplicate 30" in again.output, again.output
    batch = _db.session.scalars(select(PartnerBatch).order_by(PartnerBatch.id.desc())).first()
    assert batch.resent_count == 30 and batch.resent == ["f-0", "f-1", "f-2", "f-3"]
    assert len(writes) == 2  # chunk 1 (3 ids), chunk 2 (the 4th); chunks 3-10 only count
    status = pusher.get(batch.id, "per_page=10").get_json()
    assert status["progress"] == {"processed": 30, "total": 30}
    assert status["resent"] == {"count": 30, "listed": 4}
    assert [(o["record_id"], o["outcome"]) for o in status["outcomes"]] == [
        (f"f-{i}", "duplicate") for i in range(4)
    ]
    assert resident_balance(rider.id) == 30 * 359
