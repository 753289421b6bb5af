"""Test harness: one migrated database per run, one rolled-back transaction per test.

* SQLite (a temporary file) by default; real PostgreSQL when ``TEST_DATABASE_URL`` is set
  and real Redis when ``TEST_REDIS_URL`` is set.
* ``--require-services`` (CI) turns a missing PostgreSQL, Redis, Chromium (the ``e2e``
  browser journeys) or PDF tool chain (the ``pdf`` tests: WeasyPrint's Pango, a Simplified
  Chinese font, poppler; see ``missing_pdf_tools``) into a failure instead of a skip, so a
  broken CI machine cannot pass silently.
* The ``db`` fixture binds every session to one connection inside an outer transaction and
  lets services ``commit()`` into savepoints: commit semantics stay real, and the outer
  rollback leaves the database clean for the next test.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.globals import _cv_app
from flask.testing import FlaskClient
from sqlalchemy import text

from backend.app import create_app
from backend.config import TestConfig, database_url
from backend.extensions import db as _db

from .factories import Factories

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")  # Debian's; see tests/e2e
# The families backend/templates/reports/print.css asks for (Simplified Chinese glyph forms).
PDF_FONTS = ("Noto Sans CJK SC", "WenQuanYi Micro Hei")
PDF_READERS = ("pdftotext", "pdftoppm", "pdffonts")  # poppler: the tests read PDFs back


PDF_NEEDS = ("pango", "font", "poppler")


@functools.cache
def missing_pdf_tools(needs: tuple[str, ...] = PDF_NEEDS) -> tuple[str, ...]:
    """What the ``pdf`` tests need from the system and this machine lacks (empty: all there).

    They render PDFs with WeasyPrint ("pango"), with a Simplified Chinese font ("font"), and
    read them back with poppler ("poppler"); ``@pytest.mark.pdf("pango")`` asks for less
    than all three. ``.ci/run`` installs all of it; ``make test`` on a bare machine skips
    those tests with this list as the reason (a failure with ``--require-services``)."""
    missing: list[str] = []
    if "pango" in needs:
        try:
            import weasyprint  # noqa: F401  - loads Pango (cffi dlopen) on import
        except OSError:
            missing.append(
                "Pango for WeasyPrint (apt-get install libpango-1.0-0 libpangoft2-1.0-0)"
            )
    if "font" in needs and shutil.which("fc-list") is None:
        missing.append("fontconfig's fc-list, to find a Chinese font (apt-get install fontconfig)")
    elif "font" in needs:
        listed = subprocess.run(
            ["fc-list", ":lang=zh-cn", "family"], capture_output=True, text=True, check=False
        ).stdout
        families = {name.strip() for line in listed.splitlines() for name in line.split(",")}
        if not families.intersection(PDF_FONTS):
            missing.append(
                f"a Simplified Chinese font ({' or '.join(PDF_FONTS)}; "
                "apt-get install fonts-noto-cjk)"
            )
    lacking = [tool for tool in PDF_READERS if shutil.which(tool) is None]
    if "poppler" in needs and lacking:
        missing.append(f"poppler's {', '.join(lacking)} (apt-get install poppler-utils)")
    return tuple(missing)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--require-services",
        action="store_true",
        help="fail (not skip) when TEST_DATABASE_URL / TEST_REDIS_URL are missing",
    )


def _pg_url() -> str | None:
    raw = os.environ.get("TEST_DATABASE_URL")
    return database_url(raw, "") if raw else None


def _redis_url() -> str | None:
    return os.environ.get("TEST_REDIS_URL") or None


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--require-services"):
        missing = [
            name
            for name, value in (("TEST_DATABASE_URL", _pg_url()), ("TEST_REDIS_URL", _redis_url()))
            if not value
        ]
        if missing:
            raise pytest.UsageError(f"--require-services: {', '.join(missing)} not set")
    config.addinivalue_line(
        "markers",
        "pdf(*needs): renders PDFs and reads them back; needs 'pango', 'font', 'poppler' "
        "(all three unless named)",
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    pg = _pg_url()
    return [
        f"database: {'PostgreSQL ' + pg.split('@')[-1] if pg else 'SQLite (temporary file)'}",
        f"redis: {_redis_url() or 'not configured (jobs inline, fakeredis)'}",
    ]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    required = config.getoption("--require-services")
    for item in items:
        if "postgres" in item.keywords and not _pg_url():
            if required:
                raise pytest.UsageError("postgres tests need TEST_DATABASE_URL")
            item.add_marker(pytest.mark.skip(reason="needs TEST_DATABASE_URL (PostgreSQL)"))
        if "redis" in item.keywords and not _redis_url():
            if required:
                raise pytest.UsageError("redis tests need TEST_REDIS_URL")
            item.add_marker(pytest.mark.skip(reason="needs TEST_REDIS_URL (Redis)"))
        if "e2e" in item.keywords and not os.access(CHROMIUM, os.X_OK):
            if required:
                raise pytest.UsageError(f"e2e tests need Chromium at {CHROMIUM}")
            item.add_marker(
                pytest.mark.skip(reason=f"needs Chromium at {CHROMIUM} (apt-get install chromium)")
            )
        pdf = item.get_closest_marker("pdf")
        if pdf is not None and missing_pdf_tools(tuple(pdf.args) or PDF_NEEDS):
            reason = "needs " + "; ".join(missing_pdf_tools(tuple(pdf.args) or PDF_NEEDS))
            if required:
                raise pytest.UsageError(f"pdf tests {reason}")
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Say which database and Redis the suite ran on, and how many service-bound tests ran
    (CI must show that the PostgreSQL-backed tests really ran)."""
    passed = terminalreporter.stats.get("passed", [])
    for marker in ("postgres", "redis", "e2e", "pdf"):
        ran = sum(1 for report in passed if marker in report.keywords)
        terminalreporter.write_line(f"{marker}-marked tests passed: {ran}")
    for line in pytest_report_header(config):
        terminalreporter.write_line(line)


def _reset_schema(app: Flask) -> None:
    """Empty database, then the real migrations (the schema is never made by create_all)."""
    from flask_migrate import upgrade

    with app.app_context():
        if _db.engine.dialect.name == "postgresql":
            with _db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        redis = app.extensions.get("redis")
        if redis is not None:
            redis.flushdb()


@pytest.fixture(scope="session")
def database_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    pg = _pg_url()
    if pg:
        return pg
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def app(database_uri: str) -> Iterator[Flask]:
    application = create_app({"SQLALCHEMY_DATABASE_URI": database_uri, "REDIS_URL": _redis_url()})
    _reset_schema(application)
    yield application


@pytest.fixture
def db(app: Flask) -> Iterator[Any]:
    """A clean database for one test: everything is rolled back afterwards."""
    with app.app_context():
        connection = _db.engine.connect()
        outer = connection.begin()
        engines = _db._app_engines[app]
        saved = engines[None]
        engines[None] = connection  # every session now runs inside ``outer``
        _db.session.remove()
        _db.session.configure(join_transaction_mode="create_savepoint")
        try:
            yield _db
        finally:
            _db.session.remove()
            engines[None] = saved
            outer.rollback()
            connection.close()


@pytest.fixture
def committed(app: Flask) -> Iterator[Flask]:
    """Real commits, for tests that race parallel connections (PostgreSQL); wiped after."""
    with app.app_context():
        try:
            yield app
        finally:
            _db.session.remove()
            tables = ", ".join(t.name for t in reversed(_db.metadata.sorted_tables))
            with _db.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
                else:
                    for table in reversed(_db.metadata.sorted_tables):
                        conn.execute(table.delete())


def run_parallel(app: Flask, func: Any, args: list[Any]) -> list[Any]:
    """Run ``func(arg)`` in one thread per arg, each in its own app context and connection,
    released together by a barrier; returns results or the exceptions raised."""
    import threading

    barrier = threading.Barrier(len(args))
    results: list[Any] = [None] * len(args)

    def work(index: int, arg: Any) -> None:
        with app.app_context():
            try:
                barrier.wait()
                results[index] = func(arg)
            except Exception as exc:  # noqa: BLE001 - the test inspects what each got
                _db.session.rollback()
                results[index] = exc
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=work, args=(i, a)) for i, a in enumerate(args)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _db.session.expire_all()  # the caller's session reads what the threads committed
    return results


class IsolatedClient(FlaskClient):
    """Each request gets its own app context (``g``, Flask-Login's user, the session), as in
    production, even though the test itself runs inside one; afterwards the test's own
    session is expired so it reads what the request committed."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        token = _cv_app.set(None)  # type: ignore[arg-type]
        try:
            return super().open(*args, **kwargs)
        finally:
            _cv_app.reset(token)
            _db.session.expire_all()


@pytest.fixture
def client(app: Flask, db: Any) -> Any:
    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture
def make(db: Any) -> Factories:
    """Factory functions: ``make.resident(**overrides)``, ``make.merchant()``, ..."""
    return Factories()


@pytest.fixture
def auth(client: Any, make: Factories) -> Any:
    from .helpers import Auth

    return Auth(client, make)


def pytest_sessionstart(session: pytest.Session) -> None:
    os.environ.setdefault("APP_ENV", "test")


assert TestConfig.TESTING
