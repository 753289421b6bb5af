"""Extension objects, created unbound and initialised by ``create_app``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from .schemas import ErrorSchema

# Deterministic constraint names, so migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class CarbonApi(Api):
    """flask-smorest Api whose documented error body is ours: {code, message, details}.

    One instance per app (made in ``create_app``): the OpenAPI spec is per application.
    """

    ERROR_SCHEMA = ErrorSchema


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
babel = Babel()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)


def redis_client() -> Any:
    """The app's Redis connection, or None when REDIS_URL is not configured."""
    from flask import current_app

    return current_app.extensions.get("redis")


def init_redis(app: Any) -> None:
    url = app.config.get("REDIS_URL")
    if url:
        from redis import Redis

        app.extensions["redis"] = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
    else:
        app.extensions["redis"] = None


def caller_key() -> str:
    """Rate-limit key for authenticated calls: the user behind a bearer token (however many
    tokens they hold), the signed-in user (pages) or the partner's key, so one busy caller
    cannot exhaust the limit of everyone behind the same address (a campus NAT, an
    operator's gateway); anonymous calls fall back to the address."""
    import hashlib

    from flask import request
    from flask_login import current_user

    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme == "HMAC-SHA256":
        from .errors import DomainError
        from .partners.auth import authenticated_partner

        try:  # only a valid signature counts against a partner's own limit
            return f"partner:{authenticated_partner().id}"
        except DomainError:  # forged or stale: counted against the sender's address
            return "ip:" + str(get_remote_address())
    if scheme.lower() == "bearer" and value:
        from .auth import api_user
        from .errors import DomainError

        try:  # per user, however many tokens they hold (the view reuses the lookup)
            return f"user:{api_user().id}"
        except DomainError:  # an invalid token: the view answers 401 after the count
            return "token:" + hashlib.sha256(value.encode()).hexdigest()[:32]
    if current_user and current_user.is_authenticated:
        return f"user:{current_user.id}"
    return "ip:" + str(get_remote_address())


def limit_setting(name: str) -> Callable[[], str]:
    """A rate limit read from the configuration when a request is checked, for
    ``limiter.limit(limit_setting("RATELIMIT_CARD"), key_func=caller_key)``."""

    def value() -> str:
        from flask import current_app

        return str(current_app.config[name])

    return value
