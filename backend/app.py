"""The application factory: config -> extensions -> blueprints -> CLI.

The one module that wires the features together: it imports every feature's models (so the
metadata, and Alembic, see every table), API blueprints, pages and CLI groups.
"""

from __future__ import annotations

import logging
import select
from pathlib import Path
from typing import Any

from flask import Flask, Request, g, request
from flask_babel import format_datetime, get_locale
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import Pool
from werkzeug.routing import IntegerConverter
from werkzeug.wsgi import LimitedStream

from admin import bp as admin_bp
from mobile_web import bp as mobile_bp

from . import docs, errors, health, i18n, pwa, revalidate, security
from .accounts import models as _accounts  # noqa: F401
from .accounts.cli import admins_cli, users_cli
from .accounts.models import mask_phone
from .accounts.routes import blp as accounts_blp
from .actions import models as _actions  # noqa: F401
from .actions.cli import register as register_actions_cli
from .actions.routes import blp as actions_blp
from .audit import models as _audit  # noqa: F401
from .auth import load_session_user
from .config import DISTRICTS, INSTANCE, ROOT, Config, TestConfig, config_for_env
from .demo.cli import demo_cli
from .events import models as _events  # noqa: F401
from .events.routes import blp as events_blp
from .extensions import (
    CarbonApi,
    babel,
    csrf,
    db,
    init_redis,
    limiter,
    login_manager,
    migrate,
)
from .jobs import worker_command
from .ledger import models as _ledger  # noqa: F401
from .ledger.cli import ledger_cli
from .merchants import models as _merchants  # noqa: F401
from .merchants.routes import blp as merchants_blp
from .methodology_versions import models as _methodology_versions  # noqa: F401
from .methodology_versions.cli import methodologies_cli
from .methodology_versions.routes import blp as methodologies_blp
from .notices import models as _notices  # noqa: F401
from .notifications import models as _notifications  # noqa: F401
from .notifications.cli import notifications_cli
from .partners import models as _partners  # noqa: F401
from .partners.cli import partners_cli
from .partners.routes import blp as partners_blp
from .ratelimit import one_trip_storage_uri
from .rewards import models as _rewards  # noqa: F401
from .rewards.routes import blp as rewards_blp
from .schemas import MAX_INT
from .settings import models as _settings  # noqa: F401
from .teams import models as _teams  # noqa: F401


class BoundedRequest(Request):
    """A streamed (chunked) body longer than ``MAX_CONTENT_LENGTH`` is refused with 413 like
    one that declares its length. Werkzeug stops reading such a body at the maximum but hands
    the first ``MAX_CONTENT_LENGTH`` bytes to the view as if they were all of it (an invalid
    JSON, a wrong signature); one byte more is read here, which raises 413 instead."""

    def get_data(self, *args: Any, **kwargs: Any) -> Any:
        data = super().get_data(*args, **kwargs)
        stream = self.stream
        # a streamed body that reached the maximum: reading on raises RequestEntityTooLarge
        if (
            self.content_length is None
            and isinstance(stream, LimitedStream)
            and (stream.is_exhausted)
        ):
            stream.read(1)
        return data


def create_app(config: type[Config] | dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(INSTANCE))
    app.request_class = BoundedRequest
    app.url_map.converters.update(int=IdConverter, bigid=BigIdConverter)  # before any rule
    if isinstance(config, dict):
        app.config.from_object(TestConfig)
        app.config.update(config)
    else:
        app.config.from_object(config or config_for_env())
    Config.check(app.config)
    _ensure_sqlite_dir(app)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    _init_extensions(app)
    _register_blueprints(app)
    _register_cli(app)
    errors.register_error_handlers(app)
    revalidate.init_app(app)  # before security's ProxyFix, which then wraps it
    security.init_app(app)
    _register_template_helpers(app)
    return app


class IdConverter(IntegerConverter):
    """``<int:...>`` in every rule is the id of an INTEGER primary key: a larger number does
    not match the rule (404) instead of overflowing the database driver (500). The OpenAPI
    document states the maximum."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_INT)
        super().__init__(map, *args, **kwargs)


class BigIdConverter(IdConverter):
    """``<bigid:...>``: the id of a BIGINT primary key (activity records)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


def _ensure_sqlite_dir(app: Flask) -> None:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """SQLite: real transactions (SAVEPOINT works), foreign keys on, wait on locks."""
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


@event.listens_for(Pool, "checkout")
def _closed_by_the_server(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled PostgreSQL connection the server has closed (a restart, a failover,
    ``pg_terminate_backend``, an idle timeout) is replaced before a request uses it.

    An idle connection receives nothing unless the server ends it: then its last message and
    the end of the stream are waiting on the socket. One ``poll(2)`` that does not wait sees
    them, where ``pool_pre_ping`` sent a ``SELECT 1`` round trip on every checkout (twice a
    write request). ``DisconnectionError`` makes the pool discard the connection and connect
    afresh. A connection lost without a word (a network partition) fails on its first
    statement instead, which the error handler answers with a 503 and a ``Retry-After``."""
    if not type(dbapi_connection).__module__.startswith("psycopg"):
        return
    try:
        fileno = dbapi_connection.fileno()
    except Exception as exc:  # noqa: BLE001 - closed on our side: as good as gone
        raise DisconnectionError() from exc
    poller = select.poll()
    poller.register(fileno, select.POLLIN | select.POLLPRI)
    if poller.poll(0):
        raise DisconnectionError()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn: Any) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN")


def _init_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    init_redis(app)
    babel.init_app(
        app,
        locale_selector=i18n.select_locale,
        default_translation_directories=str(Path(app.root_path) / "translations"),
    )
    i18n.init_app(app)
    csrf.init_app(app)
    app.config["RATELIMIT_STORAGE_URI"] = one_trip_storage_uri(app.config["RATELIMIT_STORAGE_URI"])
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.user_loader(load_session_user)
    login_manager.login_view = "mobile.login"
    login_manager.blueprint_login_views = {"admin": "admin.login"}
    login_manager.session_protection = "basic"
    api = CarbonApi(
        app,
        spec_kwargs={
            "info": {
                "description": "衢州碳普惠 platform API. Errors are JSON "
                "{code, message, details}; messages follow Accept-Language."
            },
        },
    )
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.spec.components.security_scheme(
        "partnerHmac",
        {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "HMAC-SHA256 key_id=<id>,signature=<hex>; with X-Timestamp",
        },
    )
    app.extensions["carbon_api"] = api


def _register_blueprints(app: Flask) -> None:
    api: CarbonApi = app.extensions["carbon_api"]
    for blp in (
        accounts_blp,
        partners_blp,
        methodologies_blp,
        rewards_blp,
        merchants_blp,
        actions_blp,
        events_blp,
    ):
        api.register_blueprint(blp)
        csrf.exempt(blp)  # the API authenticates by bearer token or HMAC, never by cookie
    app.register_blueprint(health.bp)
    app.register_blueprint(docs.bp)
    app.register_blueprint(pwa.bp)
    app.register_blueprint(mobile_bp)
    app.register_blueprint(admin_bp, url_prefix="/admin")


def _register_cli(app: Flask) -> None:
    register_actions_cli(partners_cli, methodologies_cli)
    for group in (
        admins_cli,
        users_cli,
        partners_cli,
        demo_cli,
        methodologies_cli,
        ledger_cli,
        notifications_cli,
        worker_command(),
    ):
        app.cli.add_command(group)


def _register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters["mask_phone"] = mask_phone
    app.jinja_env.filters["local_dt"] = lambda value, fmt="yyyy-MM-dd HH:mm": (
        format_datetime(value, fmt) if value else ""
    )

    app.jinja_env.filters["loc"] = lambda text: str(text.get(i18n.current_lang()))

    app.jinja_env.globals["action_name"] = i18n.action_name
    app.jinja_env.filters["cite"] = i18n.cite

    @app.context_processor
    def _globals() -> dict[str, Any]:
        current = get_locale()
        locale = "en" if current is not None and current.language == "en" else "zh_CN"
        other = "en" if locale == "zh_CN" else "zh_CN"
        return {
            "current_locale": locale,
            "other_locale": other,
            "districts": DISTRICTS,
            "html_lang": "zh-CN" if locale == "zh_CN" else "en",
        }

    @app.after_request
    def _no_store_for_private(response: Any) -> Any:
        if g.get("api_user") is not None or request.path.startswith("/admin"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
