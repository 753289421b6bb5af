"""A resident's pages served again from what they show, not recomputed (issue 18).

A page here is a pure function of a few rows the resident owns, the language, the local day
and the release; ``serve`` keys it by a *version* of those rows read in one statement, answers
304 to a client that already holds that version (``If-None-Match``), and otherwise serves the
rendered body kept in Redis under that key (``PAGE_CACHE_SECONDS``; 0 turns the body cache
off, the ETag stays).

The versions are correct by construction because PostgreSQL keeps one on every row: ``xmin``,
the transaction that wrote the row's current version. Every posting to a resident's account
moves the cached balance with an UPDATE of the account's row in the posting's own transaction
(``backend.ledger.services``: ``post_entry`` and ``credit_many`` alike), so the row's ``xmin``
changes with every credit, hold, release, refund, expiry, donation or correction, in the same
transaction; a rolled-back write is never visible, and a reader that sees the new version
reads the rows of that commit or a later one (its later statements cannot see older data).
Notices are versioned by their count and the sum of their rows' ``xmin``: an insert, an
update or a delete of any of them changes it. A resident's activity records and reductions
(~100 rows each, each on its own heap page) are versioned without visiting their rows: by
the count of each (an index-only scan of the resident's entries) and the count of the
resident's rows in ``resident_changes``, an append-only log to which the database itself adds
one row per resident whose records or reductions an UPDATE or a DELETE touched, in the
statement's own transaction (statement-level triggers with transition tables, old and new
rows alike, whoever the writer: the ORM, raw SQL, a cascade; migration 0018). Between two
reads of the version, either some committed write updated or deleted one of the resident's
rows, and the log's count grew (it never shrinks), or only inserts happened, and a table's
count grew: the version differs either way. Nothing has to remember to bump anything: a
writer cannot forget. (``TRUNCATE`` fires no row or statement trigger of these; the
application never truncates, and the tests that do wipe every table at once.)

On other databases (SQLite, development) there is no row version: pages are computed every
time and carry no ETag.

A versioned page is sent ``Cache-Control: private, no-cache``: a browser may keep the copy
for this resident only (never a shared cache), must ask the server before every use and
sends ``If-None-Match`` when it does, so a repeated load is a 304 without a body. Signing out
(``backend.auth.sign_out``) answers ``Clear-Site-Data: "cache"``, so a shared phone keeps no
copy after logout (a session that ends otherwise, by the idle timeout, leaves the copy until
the browser evicts it; every use still asks the server, but Back may show it). Everything
else a signed-in session sees stays ``no-store`` (``backend.security``).

What the home shows of other people (the district leaderboard, a team's goal, a forest
project's standing) is not the resident's to version: it was already cached for
``READ_CACHE_SECONDS``; here it is as fresh as ``PAGE_SHARED_SECONDS`` (a time bucket in the
key). Flash messages are never cached: a request with one pending renders afresh.

A repeated load that is a 304 usually never reaches ``serve``: ``backend.revalidate`` (a
WSGI layer in front of Flask) answers a conditional GET of the home, the points and the
offers list with the same 304 from one statement (the session's or token's row, its user and
these version columns: ``home_columns`` / ``ledger_columns``), with the ETag from ``etag_in``
and the headers from ``validators``, and leaves every other request, and every doubt, to Flask.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from functools import cache
from pathlib import Path

from flask import Response, current_app, request, session
from redis.exceptions import RedisError
from sqlalchemy import BigInteger, Integer, text
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.http import quote_etag

from .extensions import db, redis_client
from .i18n import current_lang
from .timeutil import LOCAL_TZ, utcnow

ROOT = Path(__file__).resolve().parent.parent

# The ledger account's row: its version and balance (one index lookup on the user id). The
# version queries are written for any SQL expression of the user's id: ``:u`` here, the
# joined user's id in ``backend.revalidate``'s one statement (one recipe for both).
_LEDGER = "(SELECT xmin::text || '.' || balance FROM ledger_accounts WHERE user_id = {u})"

# Everything of the resident's own that the home shows.
_HOME = (
    _LEDGER,
    "(SELECT xmin::text FROM users WHERE id = {u})",
    "(SELECT count(*) FROM activity_records WHERE resident_id = {u})",
    "(SELECT count(*) FROM reductions WHERE resident_id = {u})",
    "(SELECT count(*) FROM resident_changes WHERE resident_id = {u})",
    """(SELECT count(*) || '.' || coalesce(sum(xmin::text::bigint), 0)
     FROM notices WHERE user_id = {u})""",
    "(SELECT count(*) FROM notifications WHERE resident_id = {u} AND read_at IS NULL)",
)


class ResidentChange(db.Model):
    """One row per resident per UPDATE or DELETE statement that touched the resident's
    activity records or reductions, added by the database's triggers (migration 0018), never
    by the application; append-only (a trigger refuses UPDATE and DELETE). Its count per
    resident is part of the home's version (see the module's docstring)."""

    __tablename__ = "resident_changes"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    resident_id: Mapped[int] = mapped_column(BigInteger, index=True)


def ledger_columns(user: str) -> str:
    """The select-list of a resident's points version, for the user id expression ``user``."""
    return _LEDGER.format(u=user)


def home_columns(user: str) -> str:
    """The select-list of a resident's home version (one column per part), for ``user``."""
    return ", ".join(part.format(u=user) for part in _HOME)


def ledger_version_of(value: object) -> str:
    """The points version from its column (``ledger_columns``)."""
    return str(value or "none")


def home_version_of(row: tuple[object, ...] | Sequence[object]) -> str:
    """The home version from its columns (``home_columns``)."""
    return "/".join(str(part) for part in row)


_LEDGER_SQL = text(f"SELECT {ledger_columns(':u')}")
_HOME_SQL = text(f"SELECT {home_columns(':u')}")


def _versioned() -> bool:
    return bool(db.session.get_bind().dialect.name == "postgresql")


def ledger_version(user_id: int) -> str | None:
    """The version of a resident's points (balance, movements, expiries), or None where the
    database keeps no row versions."""
    if not _versioned():
        return None
    return ledger_version_of(db.session.scalar(_LEDGER_SQL, {"u": user_id}))


def home_version(user_id: int) -> str | None:
    """The version of everything of the resident's own that the home page shows."""
    if not _versioned():
        return None
    row = db.session.execute(_HOME_SQL, {"u": user_id}).one()
    return home_version_of(tuple(row))


def local_day() -> str:
    return utcnow().astimezone(LOCAL_TZ).date().isoformat()


def shared_bucket() -> int:
    """The time bucket for what a page shows of other people."""
    seconds = max(1, int(current_app.config["PAGE_SHARED_SECONDS"]))
    return int(time.time() // seconds)


@cache
def release() -> str:
    """What the rendering code and texts are (templates, compiled translations): a new
    release never serves a body or a 304 of the previous one."""
    digest = hashlib.sha256()
    for pattern in ("*/templates/**/*.html", "backend/translations/**/*.mo"):
        for path in sorted(ROOT.glob(pattern)):
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def serve(
    page: str,
    user_id: int,
    version: str | None,
    render: Callable[[], bytes],
    mimetype: str,
    *extra: object,
) -> Response:
    """The page ``render`` makes, answered 304 or from the cache when ``version`` (with
    the language, the local day, ``extra`` and the release) is one already seen."""
    if version is None or session.get("_flashes"):
        return Response(render(), mimetype=mimetype)
    tag = etag(page, user_id, version, *extra)
    if request.if_none_match.contains(tag):
        return not_modified(tag)
    return validated(Response(_cached_body(tag, render), mimetype=mimetype), tag)


def etag(page: str, user_id: int, version: str, *extra: object) -> str:
    """The ETag of a resident's page: its version with the request's language, the local
    day, ``extra`` and the release (``serve`` and ``backend.revalidate`` alike)."""
    return etag_in(current_lang(), page, user_id, version, *extra)


def etag_in(lang: str, page: str, user_id: int, version: str, *extra: object) -> str:
    """``etag`` for a request whose language (``i18n.current_lang``) is ``lang``."""
    key = "/".join(str(part) for part in (page, user_id, version, lang, local_day(), *extra))
    return hashlib.sha256(f"{release()}|{key}".encode()).hexdigest()[:32]


def validated(response: Response, tag: str) -> Response:
    """``response`` with the validators of a resident's page: its ETag, revalidated always."""
    return _with(response, validators(tag))


def validators(tag: str) -> list[tuple[str, str]]:
    """The headers ``validated`` sets (``backend.revalidate`` sends them as they are)."""
    return [("ETag", quote_etag(tag)), ("Cache-Control", REVALIDATE)]


def not_modified(tag: str) -> Response:
    """The 304 of a resident's page whose version the client holds."""
    return validated(Response(status=304), tag)


def offers_key(lang: str | None = None) -> tuple[str, str]:
    """The per-process cache key (``backend.cache.cached``) of the offers list, the same for
    every resident: its body and ETag in the request's language (or in ``lang``)."""
    return ("offers", lang or current_lang())


def offers_validated(response: Response, tag: str) -> Response:
    """The offers list's validators, on its 200 and its 304 alike."""
    return _with(response, offers_validators(tag))


def offers_validators(tag: str) -> list[tuple[str, str]]:
    """The headers ``offers_validated`` sets: the same list for everyone (per language), so
    any cache may keep it, asking every time."""
    return [("ETag", quote_etag(tag)), ("Cache-Control", "no-cache"), ("Vary", "Accept-Language")]


def _with(response: Response, headers: list[tuple[str, str]]) -> Response:
    for name, value in headers:
        if name == "Vary":
            response.vary.add(value)
        else:
            response.headers[name] = value
    return response


# The resident's own copy only, revalidated before every use (see the module's docstring).
REVALIDATE = "private, no-cache"


def _cached_body(etag: str, render: Callable[[], bytes]) -> bytes:
    ttl = int(current_app.config["PAGE_CACHE_SECONDS"])
    redis = redis_client()
    if ttl <= 0 or redis is None:
        return render()
    name = f"page:{etag}"
    try:
        hit = redis.get(name)
    except RedisError:
        return render()
    if hit is not None:
        return bytes(hit)
    body = render()
    with suppress(RedisError):  # Redis down: the next request renders again
        redis.set(name, body, ex=ttl)
    return body
