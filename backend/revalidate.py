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
same parts, without a request context (opening one, with its signed cookie, URL matching and
every ``after_request`` hook, cost as much as the rest of the answer):

* the request as Flask reads it, from the environ: the signed session cookie through the
  app's own session interface and its signing serializer (``FastLane.session_of``),
  Flask-Login's session protection as it runs in the configured mode
  (``FastLane.session_protection_passes``), the language from ``i18n.unchosen`` (Flask's
  locale selector calls it too), ``If-None-Match`` with werkzeug's ``parse_etags``;
* the ETag from ``pagecache.etag_in`` (the language, the local day, the release), the
  validators from ``pagecache.validators`` / ``offers_validators`` (what Flask's 304 sets),
  then what the app's ``process_response`` adds to these answers (``FastLane.after``:
  ``security``'s headers, built once per process, and the session's ``Vary: Cookie``), sent
  as a WSGI header list without a response object; the tests compare the lane's 304 with
  Flask's header by header, for each page, language, cookie and scheme;
* the session's and token's rules from ``accounts.sessions.session_standing`` and
  ``accounts.services.token_live``; the user's from ``User`` itself (``is_active``,
  ``get_id``: the cookie's session version), and the role: residents only.

Everything else goes to Flask unchanged: another method or path, no ``If-None-Match``, a
query string the page does not use, a stale ETag, a database other than PostgreSQL, a pending
flash, a session whose ``last_seen_at`` is due to be written (``TOUCH_SECONDS``), a session
or token that is not plainly live (ended, idle, past its lifetime, a changed session version,
the account suspended or deleted, not a resident), a cookie the response would set (a fresh
session Flask-Login's protection would mark, a permanent session refreshed on every response,
a remember-me cookie), a session interface or identifier other than Flask's and
Flask-Login's own, and any error at all (PostgreSQL down or slow, a broken connection): the
lane never answers 500.

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

import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

import psycopg
from flask import Flask
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_login import utils as login_utils
from flask_login.signals import session_protected
from itsdangerous import BadSignature, URLSafeTimedSerializer
from marshmallow import ValidationError
from psycopg.pq import TransactionStatus
from werkzeug.datastructures import MultiDict
from werkzeug.http import parse_cookie, parse_etags

from . import pagecache
from .accounts.models import ApiToken, Role, User, UserSession
from .accounts.services import token_hash, token_live
from .accounts.sessions import LIVE, key_hash, session_standing
from .auth import SESSION_KEY, bearer_of
from .cache import peek
from .extensions import db
from .i18n import COOKIE as LANG_COOKIE
from .i18n import lang_of, unchosen
from .schemas import PageArgsSchema
from .security import security_headers
from .timeutil import utcnow

log = logging.getLogger(__name__)

NOT_MODIFIED = "304 NOT MODIFIED"  # werkzeug's status line, as Flask sends it
# Session cookies a process keeps verified (``FastLane.verified``): ~100 KB at most
VERIFIED_COOKIES = 1024

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
_POINTS_QUERY = re.compile(r"(?:limit=([1-9][0-9]{0,2}))?")
_PAGE_ARGS = PageArgsSchema()


@cache
def _points_limit(written: str | None) -> int | None:
    """The ``limit`` the route's own schema reads from the query's value (None: no limit
    written), or None where the schema refuses it (Flask answers). Read once per value and
    process: ``_POINTS_QUERY`` admits at most 999 values."""
    try:
        return int(_PAGE_ARGS.load({"limit": written} if written else {})["limit"])
    except ValidationError:
        return None


class Asked:
    """What the lane reads of one request, from its WSGI environ as Flask's request would
    read it (no request context): the query, the cookies, the signed session, the language."""

    def __init__(self, lane: FastLane, environ: dict[str, Any]) -> None:
        self.app = lane.app
        self.environ = environ
        self.path: str = environ["PATH_INFO"]
        self.query: str = environ.get("QUERY_STRING", "")
        self.cookies: MultiDict[str, str] = parse_cookie(environ.get("HTTP_COOKIE"))
        self.session = lane.session_of(self.cookies)
        config = self.app.config
        self.lang = lang_of(
            unchosen(
                self.path,
                self.cookies.get(LANG_COOKIE),
                environ.get("HTTP_ACCEPT_LANGUAGE"),
                str(config["BABEL_DEFAULT_LOCALE"]),
            )
        )

    def holds(self, tag: str) -> bool:
        """``request.if_none_match.contains(tag)``."""
        return parse_etags(self.environ.get("HTTP_IF_NONE_MATCH")).contains(tag)

    def bearer_token(self) -> str | None:
        """``auth.bearer_token`` of this request."""
        return bearer_of(self.environ.get("HTTP_AUTHORIZATION", ""))


Headers = list[tuple[str, str]]
# A page's 304: the validators of its headers, or None (Flask answers)
Answer = Callable[["FastLane", Asked], "Headers | None"]


def _user(row: tuple[Any, ...]) -> User:
    """The user of a lookup's columns 3-7 (``_USER``), not attached to any session."""
    return User(
        id=row[3], session_version=row[4], role=Role(row[5]), suspended_at=row[6], deleted_at=row[7]
    )


def _home(lane: FastLane, asked: Asked) -> Headers | None:
    session = asked.session
    if asked.query or session is None or session.get("_flashes"):
        return None
    cookie_user, raw = session.get("_user_id"), session.get(SESSION_KEY)
    if not isinstance(cookie_user, str) or not isinstance(raw, str):
        return None
    if not lane.session_protection_passes(session, asked.environ):
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
    tag = pagecache.etag_in(asked.lang, "home", user.id, version, pagecache.shared_bucket())
    return pagecache.validators(tag) if asked.holds(tag) else None


def _points(lane: FastLane, asked: Asked) -> Headers | None:
    query = _POINTS_QUERY.fullmatch(asked.query)
    raw = asked.bearer_token()
    if query is None or raw is None:
        return None
    limit = _points_limit(query[1])
    if limit is None:
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
    tag = pagecache.etag_in(asked.lang, "points", user.id, version, limit)
    return pagecache.validators(tag) if asked.holds(tag) else None


def _offers(lane: FastLane, asked: Asked) -> Headers | None:
    if asked.query:
        return None
    seconds = int(lane.app.config["OFFERS_CACHE_SECONDS"])
    held = peek(pagecache.offers_key(asked.lang), seconds)
    if held is None:
        return None
    _data, tag = held
    if not asked.holds(tag):
        return None
    return pagecache.offers_validators(tag)


PAGES: dict[str, Answer] = {
    "/home": _home,
    "/api/v1/me/points": _points,
    "/api/v1/offers": _offers,
}


def session_identifier(environ: Mapping[str, Any]) -> str:
    """Flask-Login's ``_create_identifier`` (its session protection's fingerprint of the
    client: the first forwarded address and the user agent) from the environ; the tests hold
    it equal to Flask-Login's own in a request."""
    agent = environ.get("HTTP_USER_AGENT")
    agent_bytes = agent.encode("utf-8") if agent is not None else None
    address = environ.get("HTTP_X_FORWARDED_FOR", environ.get("REMOTE_ADDR"))
    address_bytes = address.encode("utf-8").split(b",")[0].strip() if address is not None else None
    return hashlib.sha512(f"{address_bytes}|{agent_bytes}".encode()).hexdigest()


class FastLane:
    """The app's WSGI callable with the fast lane in front (see the module's docstring)."""

    def __init__(self, app: Flask, wsgi_app: Any) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.connections = Connections()
        self._serializer: tuple[Any, URLSafeTimedSerializer | None] | None = None
        self._verified: dict[str, tuple[Any, int]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        answer = PAGES.get(environ.get("PATH_INFO", ""))
        if (
            answer is not None
            and environ.get("REQUEST_METHOD") == "GET"
            and environ.get("HTTP_IF_NONE_MATCH")
            and self.app.config["FAST_REVALIDATION"]
        ):
            headers = self.answer(answer, environ)
            if headers is not None:
                start_response(NOT_MODIFIED, headers)
                return []
        return self.wsgi_app(environ, start_response)

    def answer(self, answer: Answer, environ: dict[str, Any]) -> Headers | None:
        """The headers of the 304 Flask would send, or None: Flask answers."""
        config = self.app.config
        if config.get("TRUSTED_HOSTS") or config.get("SERVER_NAME"):
            return None  # Flask checks the Host then: its answer, not the lane's
        try:
            with self.app.app_context():  # the app's config and JSON; no request context
                asked = Asked(self, environ)
                if asked.session is None:
                    return None
                validators = answer(self, asked)
                if validators is None:
                    return None
                return self.after(validators, environ)
        except Exception:  # noqa: BLE001 - any failure here is Flask's to answer
            log.debug("fast lane: falling through", exc_info=True)
            return None

    @staticmethod
    def after(validators: Headers, environ: Mapping[str, Any]) -> Headers:
        """What the app's ``process_response`` adds to these 304s: the security headers
        (``backend.security``, built once per process) and the session's ``Vary: Cookie``
        (the session is always read, by ``security``'s ``no-store`` rule). The others add
        nothing here: no language is chosen by ``?lang=``, no rate limit applies, no view set
        ``api_user``, signed out or a push due; the session is left unchanged (``session_of``)."""
        secure = environ.get("wsgi.url_scheme") in {"https", "wss"}  # request.is_secure
        vary = [value for name, value in validators if name == "Vary"]
        return [
            *(header for header in validators if header[0] != "Vary"),
            *security_headers(secure),
            ("Vary", ", ".join([*vary, "Cookie"])),
        ]

    def session_of(self, cookies: MultiDict[str, str]) -> SecureCookieSession | None:
        """The session Flask would open from the request's cookie (empty without one or with
        a bad signature), or None where Flask's answer would set a cookie (a permanent
        session refreshed on every response, Flask-Login's remember-me) or the session is not
        Flask's signed cookie."""
        app = self.app
        interface = app.session_interface
        if type(interface) is not SecureCookieSessionInterface:
            return None
        value = cookies.get(interface.get_cookie_name(app))
        data: dict[str, Any] = {}
        if value:
            serializer = self.serializer()
            if serializer is None:
                return None
            data = self.verified(
                serializer, value, int(app.permanent_session_lifetime.total_seconds())
            )
        session = interface.session_class(data)
        if (
            interface.should_set_cookie(app, session)
            or "_remember" in session
            or app.config.get("REMEMBER_COOKIE_REFRESH_EACH_REQUEST")
        ):
            return None
        return session

    def serializer(self) -> URLSafeTimedSerializer | None:
        """The session interface's signing serializer, made once per secret key."""
        app = self.app
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        if self._serializer is None or self._serializer[0] != keys:
            interface = app.session_interface
            assert isinstance(interface, SecureCookieSessionInterface)
            self._serializer = (keys, interface.get_signing_serializer(app))
            self._verified = {}
        return self._serializer[1]

    def verified(self, serializer: URLSafeTimedSerializer, value: str, max_age: int) -> Any:
        """What ``open_session`` loads from the cookie's ``value`` (nothing when its signature
        is bad or too old). A cookie verified before is not verified again while its
        signature's age is within ``max_age`` (the same string under the same key verifies
        the same way; its age is all that changes); only valid cookies are remembered, a
        bounded number per process."""
        held = self._verified.get(value)
        if held is not None and 0 <= int(time.time()) - held[1] <= max_age:
            return held[0]
        try:
            data, signed = serializer.loads(value, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return {}
        if len(self._verified) >= VERIFIED_COOKIES:
            self._verified = {}
        self._verified[value] = (data, int(signed.timestamp()))
        return data

    def session_protection_passes(
        self, session: SecureCookieSession, environ: Mapping[str, Any]
    ) -> bool:
        """Flask-Login's session protection (``LoginManager._session_protection_failed``,
        run as it would run for this request): True where it leaves the session as it is,
        False where it would change it (a session no longer fresh, or cleared: Flask
        answers, with the new cookie)."""
        app = self.app
        manager = app.login_manager  # type: ignore[attr-defined]
        if manager._session_identifier_generator is not login_utils._create_identifier:
            return False
        mode = app.config.get("SESSION_PROTECTION", manager.session_protection)
        if not mode or mode not in ["basic", "strong"]:
            return True
        if session and session_identifier(environ) != session.get("_id", None):
            if mode == "basic" or session.permanent:
                if session.get("_fresh") is not False:
                    return False  # it would mark the session not fresh
                session_protected.send(app)
                return True
            return False  # strong: it would clear the session
        return True

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
