"""Backups: build data (credits, a fulfilled redemption), back up with the script the Makefile
runs, wipe the database, restore, and check the figures and ``flask ledger reconcile``.

Runs on a database of its own (``<test database>_backup`` on the TEST_DATABASE_URL server),
so wiping it disturbs no other test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url

from backend.actions.ingest import receive_batch
from backend.actions.models import ActivityRecord, Reduction
from backend.app import create_app
from backend.extensions import db as _db
from backend.ledger.models import LedgerEntry, Posting
from backend.ledger.reconcile import reconcile
from backend.methodology_versions.services import seed_versions
from backend.rewards.models import Redemption
from backend.rewards.services import fulfil_redemption, redeem_offer

from ..factories import Factories
from ..helpers import DAY, as_json, link_proven
from .figures import record

ROOT = Path(__file__).resolve().parents[2]
TABLES = (ActivityRecord, Reduction, LedgerEntry, Posting, Redemption)


@pytest.fixture
def scratch(database_uri):
    """An empty database beside the test database, dropped afterwards."""
    url = make_url(database_uri)
    name = f"{url.database}_backup"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    scratch_url = url.set(database=name).render_as_string(hide_password=False)
    app = create_app({"SQLALCHEMY_DATABASE_URI": scratch_url, "REDIS_URL": None})
    try:
        with app.app_context():
            yield app
            _db.session.remove()
            _db.engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _figures() -> dict[str, Any]:
    report = reconcile()
    figures: dict[str, Any] = {
        table.__tablename__: _db.session.scalar(select(func.count()).select_from(table))
        for table in TABLES
    }
    figures.update(
        points_issued=report.points_issued,
        in_circulation=report.points_in_circulation,
        clean=report.clean,
    )
    return figures


def _tool(app: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"]}
    return subprocess.run(
        ["tools/backup.sh", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.postgres
def test_backup_wipe_restore_reconciles(scratch, tmp_path):
    from flask_migrate import upgrade

    app = scratch
    upgrade()
    seed_versions()
    make = Factories()
    partner, _, _ = make.partner("backup-bus", kind="transit")
    rider = make.resident()
    link_proven(rider, "backup-bus", "CARD-B1")
    trips = [
        {
            "record_id": f"b-{h}",
            "action": "public_transit",
            "identity": "CARD-B1",
            "activity": {
                "mode": "bus",
                "distance_km": 8.2,
                "started_at": f"{DAY}T{h:02d}:00:00+08:00",
                "ended_at": f"{DAY}T{h:02d}:25:00+08:00",
            },
        }
        for h in range(7, 12)
    ]
    receive_batch(partner, as_json({"records": trips}), "application/json")  # inline: credited
    merchant = make.merchant()
    offer = make.offer(merchant, points_price=300)
    fulfil_redemption(make.staff(merchant), code=redeem_offer(rider, offer.id).short_code)
    redeem_offer(rider, offer.id)  # one more, held
    before = _figures()
    assert before["clean"] and before["redemptions"] == 2 and before["reductions"] == 5

    assert "tools/backup.sh backup" in (ROOT / "Makefile").read_text()  # what `make backup` runs
    backup = _tool(app, "backup", str(tmp_path))
    assert backup.returncode == 0, backup.stderr
    dump = Path(backup.stdout.strip())
    assert dump.parent == tmp_path and dump.suffix == ".dump" and dump.stat().st_size > 0

    _db.session.remove()
    with _db.engine.begin() as conn:  # the disaster
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    assert inspect(_db.engine).get_table_names() == []

    restored = _tool(app, "restore", str(dump))
    assert restored.returncode == 0, restored.stderr
    after = _figures()
    assert after == before
    ledger = subprocess.run(
        [sys.executable, "-m", "flask", "ledger", "reconcile"],
        cwd=ROOT,
        env={
            **os.environ,
            "APP_ENV": "production",
            "SECRET_KEY": app.config["SECRET_KEY"],
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "FLASK_APP": "backend.app:create_app",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ledger.returncode == 0 and "reconcile: clean" in ledger.stdout, ledger
    rows = sum(after[table.__tablename__] for table in TABLES)
    record(
        "backup/restore",
        **{"dump bytes": dump.stat().st_size, "rows compared": rows},
        points=f"{after['points_issued']} issued, {after['in_circulation']} held, reconcile clean",
    )


def test_backup_refuses_sqlite():
    result = subprocess.run(
        ["tools/backup.sh", "backup"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": "sqlite:///instance/carbon.db"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "not a PostgreSQL URL" in result.stderr
