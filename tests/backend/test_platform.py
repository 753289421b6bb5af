"""Health probes, configuration safety, CLI commands, demo data and migrations."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import func, select

from backend.accounts.models import Role, User
from backend.app import create_app
from backend.config import Config
from backend.extensions import db as _db
from backend.methodology_versions.services import active_version


def test_healthz_and_readyz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["database"] == "ok"


def test_readyz_is_503_when_the_database_is_unreachable(db):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none",
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 1}},
        }
    )
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"].startswith("error")


def test_production_refuses_to_start_without_a_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)

    class Production(Config):
        SECRET_KEY = None

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(Production)


def test_production_is_the_default_environment():
    code = (
        "import os; os.environ.pop('SECRET_KEY', None); os.environ.pop('APP_ENV', None)\n"
        "from backend.app import create_app\n"
        "try:\n    create_app()\nexcept RuntimeError as e:\n    print('refused', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("refused")


def test_admins_create_and_users_create_cli(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["admins", "create", "13700000009", "--password", "admin2026"])
    assert result.exit_code == 0, result.output
    assert "137****0009" in result.output
    bad = runner.invoke(args=["admins", "create", "123", "--password", "admin2026"])
    assert bad.exit_code != 0 and "invalid_phone" in bad.output
    no_merchant = runner.invoke(
        args=[
            "users",
            "create",
            "13700000010",
            "--role",
            "merchant_staff",
            "--password",
            "staff2026",
        ]
    )
    assert no_merchant.exit_code != 0 and "unknown_merchant" in no_merchant.output
    admin = _db.session.scalar(select(User).where(User.phone == "13700000009"))
    assert admin.role is Role.ADMIN


def test_partners_cli_prints_the_secret_once(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["partners", "create", "waste-1", "--name", "虎哥环境", "--kind", "waste_station"]
    )
    assert result.exit_code == 0, result.output
    assert "key_id: pk_" in result.output and "secret: " in result.output
    again = runner.invoke(
        args=["partners", "create", "waste-1", "--name", "x", "--kind", "waste_station"]
    )
    assert again.exit_code != 0 and "partner_exists" in again.output
    rotated = runner.invoke(args=["partners", "rotate", "waste-1"])
    assert rotated.exit_code == 0 and "key_id: pk_" in rotated.output


def test_demo_load_is_idempotent(app, db):
    app.config["APP_ENV"] = "development"
    try:
        runner = app.test_cli_runner()
        first = runner.invoke(args=["demo", "load"])
        assert first.exit_code == 0, first.output
        count = _db.session.scalar(select(func.count()).select_from(User))
        second = runner.invoke(args=["demo", "load"])
        assert "already loaded" in second.output
        assert _db.session.scalar(select(func.count()).select_from(User)) == count
        roles = set(_db.session.scalars(select(User.role)).all())
        assert roles == set(Role)
        # the resident methodologies' module 2.0.0 (rounding down) is approved by the second
        # demo administrator, the demo's past trips keep the version of their time, and
        # both the ledger and the recomputation are clean
        for code in ("public_transit", "bike_sharing", "waste_sorting", "food_waste"):
            in_force = active_version(code)
            assert in_force.module_version == "2.0.0" and in_force.reviewed_by_id is not None
            assert in_force.proposed_by_id != in_force.reviewed_by_id
        assert (
            "0 differences" in runner.invoke(args=["methodologies", "recompute", "--check"]).output
        )
    finally:
        app.config["APP_ENV"] = "test"


def test_demo_load_refuses_production(app, db):
    app.config["APP_ENV"] = "production"
    try:
        result = app.test_cli_runner().invoke(args=["demo", "load"])
        assert result.exit_code != 0 and "production" in result.output
    finally:
        app.config["APP_ENV"] = "test"


def test_migrations_match_the_models(app):
    """The schema comes from migrations; they must describe exactly what the models say."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with app.app_context(), _db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), _db.metadata)
    assert diff == []


def test_methodologies_do_not_import_flask_or_sqlalchemy():
    code = (
        "import sys, methodologies\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in {'flask', 'sqlalchemy', 'backend'}]\n"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
