"""Extension objects, created unbound and initialised by ``create_app``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import current_app
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from redis import Redis
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase, scoped_session

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
    return current_app.extensions.get("redis")


def init_redis(app: Any) -> None:
    url = app.config.get("REDIS_URL")
    if url:
        app.extensions["redis"] = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
    else:
        app.extensions["redis"] = None


def commit_keeping_loaded() -> None:
    """Commit without expiring what the session has loaded, for a write whose answer is the
    rows it has just written or read under its locks (a claim, a redemption, a fulfilment).

    After an ordinary commit every attribute is expired, and serialising the answer reads
    the same rows again in a second transaction: BEGIN, a SELECT and, when the request ends,
    ROLLBACK, three round trips for values the request already holds. The caller makes sure
    that what the answer reads is loaded and current when it commits (a row changed by a Core
    ``UPDATE`` is synchronised by the ORM or expired); an attribute left expired still loads
    on access, afresh. The request's session ends right after, so nothing kept outlives it."""
    session = db.session()
    expire = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


@contextmanager
def unit_of_work(*, keep_loaded: bool = False) -> Iterator[scoped_session[Any]]:
    """One transaction of a service: committed when the block ends, or, whatever stops it (a
    domain error, a lost race, a dropped connection), rolled back whole and re-raised, so
    nothing is saved half-way. A caller that handles the error (an ``IntegrityError`` from a
    race) finds the session clean. ``keep_loaded``: commit with ``commit_keeping_loaded``."""
    try:
        yield db.session
        if keep_loaded:
            commit_keeping_loaded()
        else:
            db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
