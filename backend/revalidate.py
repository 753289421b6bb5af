"""The revalidation fast lane: a resident's repeated load answered 304 before Flask
dispatches it (issue 18).

A browser revalidates the home, the points (``/api/v1/me/points``) and the offers list at
every use (``backend.pagecache``: ``no-cache``), and nearly every such request is answered
304. Through Flask that answer costs two statements in five round trips (the pool's pre-ping,
``BEGIN``, the session's or token's ORM lookup with its user, the page's version,
``ROLLBACK``) and every extension's per-request work. ``FastLane`` wraps the app's WSGI
callable and answers such a request itself, with **one** statement on an autocommit
connection: the session key's (or token's) row joined with its user and the page's version
subqueries (``pagecache.home_columns`` / ``ledger_columns``). The offers list needs no
statement: its ETag is the per-process copy's (``backend.cache.peek``).

It answers 304 only when Flask would answer 304 with the same ETag, and builds it from the
same parts:

* the ETag from ``pagecache.etag`` (the language, the local day, the release), the headers
  from ``pagecache.not_modified`` / ``offers_validated``, then the app's own
  ``process_response`` (every ``after_request`` hook: the security headers, ``no-store``
  rules, the session's ``Vary: Cookie``), in a request context Flask opens for the request
  (its signed session cookie, Flask-Login's session protection);
* the session's and token's rules from ``accounts.sessions.session_standing`` and
  ``accounts.services.token_live``; the user's from ``User`` itself (``is_active``,
  ``get_id``: the cookie's session version), and the role: residents only.

Everything else goes to Flask unchanged: another method or path, no ``If-None-Match``, a
query string the page does not use, a stale ETag, a database other than PostgreSQL, a pending
flash, a session whose ``last_seen_at`` is due to be written (``TOUCH_SECONDS``), a session
or token that is not plainly live (ended, idle, past its lifetime, a changed session version,
the account suspended or deleted, not a resident), a cookie the response would set, and any
error at all (PostgreSQL down or slow, a broken connection): the lane never answers 500.

Rate limits: the three routes carry none (the limiter has no default or application limits,
and none is declared on them; ``tests/backend/test_revalidate.py`` checks that Flask's answer
has no ``X-RateLimit`` headers with the limiter on), so there is nothing to count here.

The connections are the lane's own, a few per process (``Connections``), not the
SQLAlchemy pool's: a checkout there pre-pings (a round trip) and the ORM session begins a
transaction. The pre-ping exists so a request does not fail on a connection the server has
closed; here a failed statement simply falls through to Flask, which pre-pings, and the
broken connection is dropped. ``FAST_REVALIDATION=0`` turns the lane off.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from flask import Flask, Response, current_app, request, session
from marshmallow import ValidationError
from psycopg.pq import TransactionStatus

from . import pagecache
from .accounts.models import ApiToken, Role, User, UserSession
from .accounts.services import token_hash, token_live
from .accounts.sessions import LIVE, key_hash, session_standing
from .auth import bearer_token, current_session_key
from .cache import peek
from .extensions import db, login_manager
from .schemas import PageArgsSchema
from .timeutil import utcnow

log = logging.getLogger(__name__)

_USER = "u.id, u.session_version, u.role, u.suspended_at, u.deleted_at"

_HOME_SQL = (
    f"SELECT s.revoked_at, s.expires_at, s.last_seen_at, {_USER}, "  # noqa: S608 - our text
    f"{pagecache.home_columns('u.id')} "
    "FROM user_sessions s JOIN users u ON u.id = s.user_id WHERE s.key_hash = %s"
)
_POINTS_SQL = (
    f"SELECT t.revoked_at, t.expires_at, t.session_version, {_USER}, "  # noqa: S608 - our text
    f"{pagecache.ledger_columns('u.id')} "
    "FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = %s"
)

# The points page's query strings: none, or one ``limit`` written plainly (its range checked
# by the route's own schema); any other spelling is Flask's to parse.
_POINTS_QUERY = re.compile(rb"(?:limit=([1-9][0-9]{0,2}))?")
_PAGE_ARGS = PageArgsSchema()

Answer = Callable[["FastLane"], "Response | None"]


def _user(row: tuple[Any, ...]) -> User:
    """The user of a lookup's columns 3-7 (``_USER``), not attached to any session."""
    return User(
        id=row[3], session_version=row[4], role=Role(row[5]), suspended_at=row[6], deleted_at=row[7]
    )


def _home(lane: FastLane) -> Response | None:
    if request.query_string or session.get("_flashes"):
        return None
    cookie_user, raw = session.get("_user_id"), current_session_key()
    if not isinstance(cookie_user, str) or raw is None:
        return None
    # Flask-Login's own check; where it would mark the session (a new cookie), Flask answers
    if login_manager._session_protection_failed() or session.modified:
        return None
    row = lane.fetch(_HOME_SQL, key_hash(raw))
    if row is None:
        return None
    user = _user(row)
    held = UserSession(revoked_at=row[0], expires_at=row[1], last_seen_at=row[2])
    if (
        user.role is not Role.RESIDENT
        or user.get_id() != cookie_user
        or session_standing(held, user, utcnow()) != LIVE
    ):
        return None
    version = pagecache.home_version_of(row[8:])
    tag = pagecache.etag("home", user.id, version, pagecache.shared_bucket())
    return pagecache.not_modified(tag) if request.if_none_match.contains(tag) else None


def _points(lane: FastLane) -> Response | None:
    query = _POINTS_QUERY.fullmatch(request.query_string)
    raw = bearer_token()
    if query is None or raw is None:
        return None
    try:
        args = _PAGE_ARGS.load({"limit": query[1].decode()} if query[1] else {})
    except ValidationError:
        return None
    row = lane.fetch(_POINTS_SQL, token_hash(raw))
    if row is None:
        return None
    user = _user(row)
    token = ApiToken(revoked_at=row[0], expires_at=row[1], session_version=row[2])
    if (
        user.role is not Role.RESIDENT
        or not user.is_active
        or not token_live(token, user, utcnow())
    ):
        return None
    version = pagecache.ledger_version_of(row[8])
    tag = pagecache.etag("points", user.id, version, args["limit"])
    return pagecache.not_modified(tag) if request.if_none_match.contains(tag) else None


def _offers(_lane: FastLane) -> Response | None:
    if request.query_string:
        return None
    held = peek(pagecache.offers_key(), int(current_app.config["OFFERS_CACHE_SECONDS"]))
    if held is None:
        return None
    _data, tag = held
    if not request.if_none_match.contains(tag):
        return None
    return pagecache.offers_validated(Response(status=304), tag)


PAGES: dict[str, Answer] = {
    "/home": _home,
    "/api/v1/me/points": _points,
    "/api/v1/offers": _offers,
}


class FastLane:
    """The app's WSGI callable with the fast lane in front (see the module's docstring)."""

    def __init__(self, app: Flask, wsgi_app: Any) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.connections = Connections()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        answer = PAGES.get(environ.get("PATH_INFO", ""))
        if (
            answer is not None
            and environ.get("REQUEST_METHOD") == "GET"
            and environ.get("HTTP_IF_NONE_MATCH")
            and self.app.config["FAST_REVALIDATION"]
        ):
            response = self.answer(answer, environ)
            if response is not None:
                return response(environ, start_response)
        return self.wsgi_app(environ, start_response)

    def answer(self, answer: Answer, environ: dict[str, Any]) -> Response | None:
        """The 304 Flask would send, or None: Flask answers."""
        try:
            with self.app.request_context(environ):
                response = answer(self)
                if response is None:
                    return None
                response = self.app.process_response(response)
                if session.modified or "Set-Cookie" in response.headers:
                    return None
                return response
        except Exception:  # noqa: BLE001 - any failure here is Flask's to answer
            log.debug("fast lane: falling through", exc_info=True)
            return None

    def fetch(self, sql: str, key: str) -> tuple[Any, ...] | None:
        """The one row of ``sql`` for ``key`` on one of the lane's connections (PostgreSQL
        only: elsewhere there are no row versions, and Flask answers)."""
        if not self.connections.ready():
            engine = db.engine.engine  # the app's engine (a connection in some tests)
            if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg":
                return None
            self.connections.configure(*engine.dialect.create_connect_args(engine.url))
        with self.connections.connection() as conn:
            row = conn.execute(sql, (key,)).fetchone()
        return tuple(row) if row is not None else None


class Connections:
    """A few autocommit psycopg connections of one process, made on demand, kept while
    idle (at most ``size``) and dropped after any error."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._args: tuple[list[Any], dict[str, Any]] | None = None
        self._idle: list[psycopg.Connection[Any]] = []
        self._inherited: list[psycopg.Connection[Any]] = []
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def ready(self) -> bool:
        return self._args is not None

    def configure(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
        kwargs = dict(kwargs)
        kwargs.setdefault("connect_timeout", 2)
        # a statement stuck behind a lock or a busy server falls through to Flask instead
        kwargs["options"] = f"{kwargs.get('options', '')} -c statement_timeout=2000".strip()
        self._args = (list(args), kwargs)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        assert self._args is not None
        with self._lock:
            if os.getpid() != self._pid:
                # a forked child: the parent's connections share its sockets; never used or
                # closed here (closing would end them for the parent too)
                self._inherited.extend(self._idle)
                self._idle, self._pid = [], os.getpid()
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            args, kwargs = self._args
            conn = psycopg.connect(*args, autocommit=True, **kwargs)
        try:
            yield conn
        except BaseException:
            conn.close()
            raise
        if not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE:
            with self._lock:
                if len(self._idle) < self.size:
                    self._idle.append(conn)
                    return
        conn.close()


def init_app(app: Flask) -> None:
    """Put the fast lane in front of the app (inside any ProxyFix, which ``security``
    installs afterwards, so the lane sees the request as Flask does)."""
    app.wsgi_app = FastLane(app, app.wsgi_app)  # type: ignore[method-assign]
