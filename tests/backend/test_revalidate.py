"""The revalidation fast lane (``backend.revalidate``): its 304 is Flask's, and it answers
nothing else (issue 18).

The lane reads on its own autocommit connections, so these tests commit for real
(``committed``): rows inside the usual rolled-back test transaction are invisible to it.
Each comparison sends the same request with the lane on and off; ``lane`` records whether the
lane answered (a response) or let Flask answer (None)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from backend import revalidate
from backend.accounts.models import ApiToken, Role, UserSession
from backend.accounts.services import change_password, revoke_token, suspend_user
from backend.app import create_app
from backend.extensions import db as _db
from backend.extensions import limiter
from backend.timeutil import utcnow

from ..conftest import IsolatedClient
from ..factories import PASSWORD, Factories
from ..helpers import Auth

pytestmark = pytest.mark.postgres  # row versions (xmin) are PostgreSQL's

POINTS = "/api/v1/me/points?limit=20"


@pytest.fixture
def live(committed: Flask) -> Any:
    committed.test_client_class = IsolatedClient
    return committed.test_client()


@pytest.fixture
def make(committed: Flask) -> Factories:
    return Factories()


@pytest.fixture
def auth(live: Any, make: Factories) -> Auth:
    return Auth(live, make)


@pytest.fixture
def lane(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What the lane answered, request by request (None: it left the request to Flask)."""
    answers: list[Any] = []
    original = revalidate.FastLane.answer

    def spy(self: revalidate.FastLane, answer: Any, environ: dict[str, Any]) -> Any:
        result = original(self, answer, environ)
        answers.append(result)
        return result

    monkeypatch.setattr(revalidate.FastLane, "answer", spy)
    return answers


def _flask(app: Flask, client: Any, url: str, headers: dict[str, str]) -> Any:
    app.config["FAST_REVALIDATION"] = False
    try:
        return client.get(url, headers=headers)
    finally:
        app.config["FAST_REVALIDATION"] = True


def _same_as_flask(app: Flask, client: Any, lane: list[Any], url: str, **headers: str) -> Any:
    """The lane's answer, checked to be the one Flask gives (status, ETag, every header)."""
    lane.clear()
    fast = client.get(url, headers=headers)
    assert lane and lane[-1] is not None, "the lane should have answered"
    slow = _flask(app, client, url, headers)
    assert fast.status_code == slow.status_code == 304
    assert sorted(fast.headers.items()) == sorted(slow.headers.items())
    assert fast.get_data() == slow.get_data() == b""
    return fast


def _not_answered(client: Any, lane: list[Any], url: str, **headers: str) -> Any:
    """Flask's answer: the lane let the request through."""
    lane.clear()
    response = client.get(url, headers=headers)
    assert lane == [None] or lane == [], "the lane must not answer this request"
    return response


def test_each_page_answers_flasks_304_and_nothing_for_a_stale_etag(
    committed, live, make, auth, lane, monkeypatch
):
    monkeypatch.setitem(committed.config, "OFFERS_CACHE_SECONDS", 60)
    resident = make.resident()
    make.points(resident, 300)
    make.offer(title_zh="一杯咖啡")
    bearer = auth.bearer(resident)
    auth.login_page(resident)
    for url, headers in (("/home", {}), (POINTS, bearer), ("/api/v1/me/points", bearer)):
        first = live.get(url, headers=headers)
        assert first.status_code == 200
        etag = first.headers["ETag"]
        answer = _same_as_flask(committed, live, lane, url, **headers, **{"If-None-Match": etag})
        assert answer.headers["ETag"] == etag
        assert answer.headers["Cache-Control"] == "private, no-cache"
        assert "Content-Security-Policy" in answer.headers
        stale = _not_answered(live, lane, url, **headers, **{"If-None-Match": '"stale"'})
        assert stale.status_code == 200 and stale.headers["ETag"] == etag

    offers = live.get("/api/v1/offers")
    answer = _same_as_flask(
        committed, live, lane, "/api/v1/offers", **{"If-None-Match": offers.headers["ETag"]}
    )
    assert answer.headers["Cache-Control"] == "no-cache" and "Accept-Language" in answer.vary
    stale = _not_answered(live, lane, "/api/v1/offers", **{"If-None-Match": '"stale"'})
    assert stale.status_code == 200

    make.points(resident, 5)  # a credit: the page changed, the lane has no 304 for it
    old = live.get("/home").headers["ETag"]
    make.points(resident, 5)
    assert _not_answered(live, lane, "/home", **{"If-None-Match": old}).status_code == 200


def test_languages_have_their_own_etags(committed, live, make, auth, lane):
    resident = make.resident()
    bearer = auth.bearer(resident)
    auth.login_page(resident)
    zh = live.get("/home").headers["ETag"]
    en = live.get("/home?lang=en").headers["ETag"]  # sets the language cookie
    assert zh != en
    _same_as_flask(committed, live, lane, "/home", **{"If-None-Match": en})
    assert _not_answered(live, lane, "/home", **{"If-None-Match": zh}).status_code == 200

    api_zh = live.get(POINTS, headers=bearer).headers["ETag"]
    english = {**bearer, "Accept-Language": "en"}
    api_en = live.get(POINTS, headers=english).headers["ETag"]
    assert api_zh != api_en
    _same_as_flask(committed, live, lane, POINTS, **english, **{"If-None-Match": api_en})
    _same_as_flask(committed, live, lane, POINTS, **bearer, **{"If-None-Match": api_zh})
    assert _not_answered(
        live, lane, POINTS, **english, **{"If-None-Match": api_zh}
    ).status_code == (200)


def _session_cookie(client: Any) -> str:
    return str(client.get_cookie("session").value)


def _home_after(client: Any, lane: list[Any], cookie: str, etag: str) -> Any:
    client.set_cookie("session", cookie)
    return _not_answered(client, lane, "/home", **{"If-None-Match": etag})


def _signed_in_home(live: Any, auth: Auth, user: Any) -> tuple[str, str]:
    auth.login_page(user)
    etag = live.get("/home").headers["ETag"]
    assert live.get("/home", headers={"If-None-Match": etag}).status_code == 304
    return _session_cookie(live), etag


def test_an_ended_session_gets_the_sign_in_page_not_a_304(
    committed, live, make, auth, lane, monkeypatch
):
    resident = make.resident()

    cookie, etag = _signed_in_home(live, auth, resident)  # logout (the cookie kept elsewhere)
    live.post("/logout")
    assert _home_after(live, lane, cookie, etag).status_code == 302

    cookie, etag = _signed_in_home(live, auth, resident)  # sign out everywhere
    live.post("/account/sign-out-everywhere")
    assert _home_after(live, lane, cookie, etag).status_code == 302

    cookie, etag = _signed_in_home(live, auth, resident)  # a password change elsewhere
    change_password(
        _db.session.get(type(resident), resident.id), PASSWORD, "another-Long-pass-2026!"
    )
    assert _home_after(live, lane, cookie, etag).status_code == 302

    other = make.resident()
    cookie, etag = _signed_in_home(live, auth, other)  # the idle timeout
    monkeypatch.setitem(committed.config, "SESSION_IDLE_MINUTES", 0)
    assert _home_after(live, lane, cookie, etag).status_code == 302
    monkeypatch.setitem(committed.config, "SESSION_IDLE_MINUTES", 60)

    cookie, etag = _signed_in_home(live, auth, other)  # the absolute lifetime
    _db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == other.id)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    _db.session.commit()
    assert _home_after(live, lane, cookie, etag).status_code == 302

    third = make.resident()
    cookie, etag = _signed_in_home(live, auth, third)  # suspension
    admin = make.user(Role.ADMIN)
    suspend_user(admin, third.id, "测试停用")
    assert _home_after(live, lane, cookie, etag).status_code == 302


def test_a_revoked_or_foreign_token_gets_flasks_answer(committed, live, make, auth, lane):
    resident = make.resident()
    raw = auth.token(resident)
    bearer = {"Authorization": f"Bearer {raw}"}
    etag = live.get(POINTS, headers=bearer).headers["ETag"]
    _same_as_flask(committed, live, lane, POINTS, **bearer, **{"If-None-Match": etag})
    revoke_token(raw)
    assert _not_answered(live, lane, POINTS, **bearer, **{"If-None-Match": etag}).status_code == 401

    raw = auth.token(resident)  # a password change ends every token
    bearer = {"Authorization": f"Bearer {raw}"}
    etag = live.get(POINTS, headers=bearer).headers["ETag"]
    change_password(
        _db.session.get(type(resident), resident.id), PASSWORD, "another-Long-pass-2026!"
    )
    assert _not_answered(live, lane, POINTS, **bearer, **{"If-None-Match": etag}).status_code == 401

    staff = make.staff(make.merchant())  # not a resident: 403 from Flask, whatever the ETag
    staff_bearer = auth.bearer(staff)
    assert (
        _not_answered(live, lane, POINTS, **staff_bearer, **{"If-None-Match": etag}).status_code
        == 403
    )
    expired = make.resident()
    raw = auth.token(expired)
    bearer = {"Authorization": f"Bearer {raw}"}
    etag = live.get(POINTS, headers=bearer).headers["ETag"]
    _db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == expired.id)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    _db.session.commit()
    assert _not_answered(live, lane, POINTS, **bearer, **{"If-None-Match": etag}).status_code == 401


def test_a_pending_flash_or_a_due_touch_is_flasks(committed, live, make, auth, lane):
    resident = make.resident()
    _cookie, etag = _signed_in_home(live, auth, resident)
    with live.session_transaction() as session:
        session["_flashes"] = [("success", "一条提示")]
    flashed = _not_answered(live, lane, "/home", **{"If-None-Match": etag})
    assert flashed.status_code == 200 and "一条提示" in flashed.get_data(as_text=True)

    _db.session.execute(  # the idle timeout's note is due: Flask writes it
        update(UserSession)
        .where(UserSession.user_id == resident.id)
        .values(last_seen_at=utcnow() - timedelta(minutes=5))
    )
    _db.session.commit()
    assert _not_answered(live, lane, "/home", **{"If-None-Match": etag}).status_code == 304
    seen = _db.session.scalar(
        UserSession.__table__.select()
        .with_only_columns(UserSession.last_seen_at)
        .where(UserSession.user_id == resident.id, UserSession.revoked_at.is_(None))
    )
    assert seen > utcnow() - timedelta(minutes=1)
    _same_as_flask(committed, live, lane, "/home", **{"If-None-Match": etag})


def test_a_query_the_page_does_not_use_is_flasks(committed, live, make, auth, lane):
    resident = make.resident()
    bearer = auth.bearer(resident)
    etag = live.get("/api/v1/me/points?limit=5", headers=bearer).headers["ETag"]
    for url in ("/api/v1/me/points?limit=5&lang=en", "/api/v1/me/points?limit=05"):
        _not_answered(live, lane, url, **bearer, **{"If-None-Match": etag})
    refused = _not_answered(
        live, lane, "/api/v1/me/points?limit=999", **bearer, **{"If-None-Match": etag}
    )
    assert refused.status_code == 422  # out of the schema's range: Flask's error


def test_redis_or_the_lanes_database_down_never_500(committed, live, make, auth, lane, monkeypatch):
    from redis import Redis

    resident = make.resident()
    _cookie, etag = _signed_in_home(live, auth, resident)
    down = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    monkeypatch.setitem(committed.extensions, "redis", down)
    _same_as_flask(committed, live, lane, "/home", **{"If-None-Match": etag})

    fast_lane = committed.wsgi_app
    while not isinstance(fast_lane, revalidate.FastLane):
        fast_lane = fast_lane.app  # inside ProxyFix, where one is configured
    broken = revalidate.Connections()
    broken.configure([], {"host": "127.0.0.1", "port": 1, "dbname": "none", "user": "none"})
    monkeypatch.setattr(fast_lane, "connections", broken)
    answer = _not_answered(live, lane, "/home", **{"If-None-Match": etag})
    assert answer.status_code == 304  # Flask's own, on its own connections

    monkeypatch.setattr(fast_lane, "connections", revalidate.Connections())
    monkeypatch.setattr(revalidate, "_HOME_SQL", "SELECT no_such_column FROM user_sessions")
    assert _not_answered(live, lane, "/home", **{"If-None-Match": etag}).status_code == 304
    assert fast_lane.connections._idle == []  # the connection of the failed statement is gone


@pytest.fixture
def limited(database_uri: str) -> Iterator[Flask]:
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_uri, "RATELIMIT_ENABLED": True})
    try:
        yield app
    finally:
        limiter.enabled = False  # the limiter object is shared by every app in this process
        limiter.reset()


def test_the_three_pages_carry_no_rate_limit(limited):
    """Any limit the limiter checked would show in its headers (``RATELIMIT_HEADERS_ENABLED``),
    on a redirect or a 401 as on a 200; the lane has nothing to count."""
    client = limited.test_client()
    control = client.post("/api/v1/auth/token", json={})
    assert "X-RateLimit-Limit" in control.headers  # a limited route shows them
    for url in ("/home", POINTS, "/api/v1/offers"):
        response = client.get(url, headers={"If-None-Match": '"x"'})
        assert response.status_code in (200, 302, 401)
        assert not [name for name, _ in response.headers.items() if name.startswith("X-RateLimit")]


# --- the request as Flask reads it, without a request context ----------------------------


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"HTTP_USER_AGENT": "Mozilla/5.0 (iPhone) MicroMessenger/8.0"},
        {"HTTP_USER_AGENT": "caf\u00e9 \u00ff"},  # a WSGI header holding latin-1 bytes
        {"HTTP_X_FORWARDED_FOR": "203.0.113.9, 10.0.0.1", "HTTP_USER_AGENT": "x"},
        {"HTTP_X_FORWARDED_FOR": "", "HTTP_USER_AGENT": ""},
        {"REMOTE_ADDR": "198.51.100.7", "HTTP_X_FORWARDED_FOR": " 2001:db8::1 ,x"},
    ],
)
def test_the_session_identifier_is_flask_logins(app, environ):
    from flask_login.utils import _create_identifier

    base = {"REMOTE_ADDR": "127.0.0.1", **environ}
    with app.test_request_context("/home", environ_base=base):
        from flask import request

        assert revalidate.session_identifier(request.environ) == _create_identifier()
    without = {key: value for key, value in base.items() if key != "REMOTE_ADDR"}
    with app.test_request_context("/home", environ_base=without) as ctx:
        ctx.request.environ.pop("REMOTE_ADDR", None)
        assert revalidate.session_identifier(ctx.request.environ) == _create_identifier()


@pytest.mark.parametrize(
    ("path", "cookie", "accept"),
    [
        ("/home", None, None),
        ("/home", "en", "zh-CN"),
        ("/home", "zh_CN", "en"),
        ("/home", "fr", "en"),
        ("/api/v1/me/points", "en", None),
        ("/api/v1/me/points", None, "en-US,en;q=0.9"),
        ("/api/v1/me/points", None, "en;q=0.1, zh;q=0.9"),
        ("/api/v1/me/points", None, "fr, de;q=0.5"),
        ("/api/v1/offers", None, "zh-TW"),
        ("/api/v1/offers", None, "EN"),
    ],
)
def test_the_lanes_language_is_flasks(app, path, cookie, accept):
    from backend.i18n import COOKIE, current_lang

    headers = {"Accept-Language": accept} if accept else {}
    if cookie:
        headers["Cookie"] = f"{COOKIE}={cookie}"
    with app.test_request_context(path, headers=headers) as ctx:
        environ = ctx.request.environ
        lane = revalidate.FastLane(app, app.wsgi_app)
        with app.app_context():
            asked = revalidate.Asked(lane, environ)
        assert asked.lang == current_lang()


def _https(app: Flask, client: Any, lane: list[Any], url: str, headers: dict[str, str]) -> Any:
    """A conditional request over TLS (``request.is_secure``), lane then Flask."""
    lane.clear()
    fast = client.get(url, headers=headers, base_url="https://localhost")
    assert lane and lane[-1] is not None
    app.config["FAST_REVALIDATION"] = False
    try:
        slow = client.get(url, headers=headers, base_url="https://localhost")
    finally:
        app.config["FAST_REVALIDATION"] = True
    assert fast.status_code == slow.status_code == 304
    assert sorted(fast.headers.items()) == sorted(slow.headers.items())
    assert "Strict-Transport-Security" in fast.headers
    return fast


def test_every_variation_of_the_304_is_flasks(committed, live, make, auth, lane, monkeypatch):
    """Languages, cookies (none, a page session, a bad signature), TLS, and the offers'
    Vary: the lane's 304 is Flask's header by header in each."""
    monkeypatch.setitem(committed.config, "OFFERS_CACHE_SECONDS", 60)
    resident = make.resident()
    make.offer(title_zh="一杯咖啡")
    bearer = auth.bearer(resident)
    for accept in ("en", "zh-CN", "fr"):  # the API by Accept-Language, no cookie at all
        live.delete_cookie("session")
        headers = {**bearer, "Accept-Language": accept}
        for url in (POINTS, "/api/v1/offers"):
            tag = live.get(url, headers=headers).headers["ETag"]
            answer = _same_as_flask(committed, live, lane, url, **headers, **{"If-None-Match": tag})
            assert "Cookie" in answer.vary
    auth.login_page(resident)  # the API with a page session's cookie beside the token
    tag = live.get(POINTS, headers=bearer).headers["ETag"]
    _same_as_flask(committed, live, lane, POINTS, **bearer, **{"If-None-Match": tag})
    _https(committed, live, lane, POINTS, {**bearer, "If-None-Match": tag})
    offers = live.get("/api/v1/offers").headers["ETag"]
    answer = _same_as_flask(committed, live, lane, "/api/v1/offers", **{"If-None-Match": offers})
    assert answer.headers["Vary"] == "Accept-Language, Cookie"
    home = live.get("/home").headers["ETag"]
    _https(committed, live, lane, "/home", {"If-None-Match": home})
    for lang in ("en", "zh_CN"):
        tag = live.get(f"/home?lang={lang}").headers["ETag"]  # the language cookie set
        _same_as_flask(committed, live, lane, "/home", **{"If-None-Match": tag})

    signed = _session_cookie(live)  # a bad signature: Flask reads no session at all
    live.set_cookie("session", signed[:-3] + ("aaa" if not signed.endswith("aaa") else "bbb"))
    _same_as_flask(
        committed, live, lane, POINTS, **bearer, **{"If-None-Match": tag_of(live, bearer)}
    )
    assert _not_answered(live, lane, "/home", **{"If-None-Match": home}).status_code == 302


def tag_of(client: Any, bearer: dict[str, str]) -> str:
    return str(client.get(POINTS, headers=bearer).headers["ETag"])


def test_flask_logins_session_protection_as_configured(
    committed, live, make, auth, lane, monkeypatch
):
    """Another client fingerprint than the sign-in's: basic mode marks a fresh session not
    fresh (a new cookie, so Flask answers) and then lets it be (the lane answers, with
    Flask-Login's signal); strong mode clears it (Flask's sign-in redirect)."""
    from flask_login.signals import session_protected

    resident = make.resident()
    _cookie, etag = _signed_in_home(live, auth, resident)
    elsewhere = {"User-Agent": "another browser", "If-None-Match": etag}
    marked = _not_answered(live, lane, "/home", **elsewhere)
    assert marked.status_code == 304 and "Set-Cookie" in marked.headers
    with live.session_transaction() as session:
        assert session["_fresh"] is False
    sent: list[Any] = []

    def note(app: Any, **_kwargs: Any) -> None:
        sent.append(app)

    session_protected.connect(note)
    try:
        lane.clear()
        live.get("/home", headers=elsewhere)
        assert lane[-1] is not None and sent == [committed]
    finally:
        session_protected.disconnect(note)
    _same_as_flask(committed, live, lane, "/home", **elsewhere)

    monkeypatch.setitem(committed.config, "SESSION_PROTECTION", "strong")
    assert _not_answered(live, lane, "/home", **elsewhere).status_code == 302


def test_a_cookie_flask_would_write_is_flasks(committed, live, make, auth, lane, monkeypatch):
    """A permanent session (refreshed on every response), Flask-Login's remember-me note and
    a signature past the session lifetime (also when the lane verified it before) go to
    Flask."""
    from datetime import timedelta as seconds

    resident = make.resident()
    bearer = auth.bearer(resident)
    _cookie, etag = _signed_in_home(live, auth, resident)
    points = tag_of(live, bearer)
    with live.session_transaction() as session:
        session.permanent = True
    for url, headers, tag in (("/home", {}, etag), (POINTS, bearer, points)):
        answer = _not_answered(live, lane, url, **headers, **{"If-None-Match": tag})
        assert answer.status_code == 304 and "Set-Cookie" in answer.headers
    with live.session_transaction() as session:
        session.permanent = False
        session["_remember"] = "set"
    answer = _not_answered(live, lane, "/home", **{"If-None-Match": etag})
    assert answer.status_code == 304 and "Set-Cookie" in answer.headers
    _same_as_flask(committed, live, lane, "/home", **{"If-None-Match": etag})  # verified

    monkeypatch.setattr(committed, "permanent_session_lifetime", seconds(seconds=-1))
    assert _not_answered(live, lane, "/home", **{"If-None-Match": etag}).status_code == 302


def test_a_host_flask_checks_is_flasks(committed, live, make, auth, lane, monkeypatch):
    """With trusted hosts (or a server name) configured, Flask checks the Host: the lane
    leaves every request to it."""
    resident = make.resident()
    _cookie, etag = _signed_in_home(live, auth, resident)
    monkeypatch.setitem(committed.config, "TRUSTED_HOSTS", ["localhost"])
    assert _not_answered(live, lane, "/home", **{"If-None-Match": etag}).status_code == 304


def test_the_points_limit_is_read_as_the_routes_schema_reads_it():
    from backend.schemas import PageArgsSchema

    schema = PageArgsSchema()
    assert revalidate._points_limit(None) == schema.load({})["limit"]
    for written in ("1", "20", "500"):
        assert revalidate._points_limit(written) == schema.load({"limit": written})["limit"]
    assert revalidate._points_limit("501") is None  # out of range: Flask's 422
    assert revalidate._points_limit("999") is None
