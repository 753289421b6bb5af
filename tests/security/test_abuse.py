"""Abuse: rate limits, oversized bodies and uploads, QR tokens, CSRF on every page form.

* Every rate limit answers 429 with ``Retry-After`` and the common error body (JSON for the
  API, a localized HTML page for pages), counts per caller (API token, partner key, signed-in
  user; the address only for anonymous forms) so another caller is not affected, and a page
  is limited like its API twin.
* A body over ``MAX_CONTENT_LENGTH`` is refused (413) without being read (or, streamed, read
  no further than the limit); an image over ``MAX_IMAGE_BYTES`` is refused where images are
  stored, and one declaring more than ``MAX_IMAGE_PIXELS`` (a decompression bomb: 48 KB of
  PNG, 20000 x 20000 pixels) at every upload entrance before it is decoded; never a 500.
* A QR token works only for its purpose and only once (claims and vouchers).
* Every POST rule outside ``/api/`` (enumerated from the URL map, so a new form is covered
  when it is added) refuses a request without a CSRF token and changes nothing.

The test configuration turns the limiter and CSRF off; these tests build apps of their own
with them on, bound to a rolled-back transaction like the ``db`` fixture.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import struct
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import lru_cache
from typing import Any

import pytest
from flask import Flask
from flask_limiter.util import get_qualified_name
from limits import parse
from sqlalchemy import func, select

from backend.accounts.models import Role
from backend.accounts.services import issue_token
from backend.actions.models import ActivityRecord, ClaimCode
from backend.app import create_app
from backend.extensions import db as _db
from backend.extensions import limiter
from backend.merchants.models import MerchantKind
from backend.methodology_versions.services import seed_versions
from backend.ratelimit import OneTripRedisStorage, caller_key
from backend.rewards.models import Offer, Redemption
from backend.rewards.services import redeem_offer
from backend.timeutil import local, utcnow
from backend.uploads import open_image, read_image

from ..conftest import IsolatedClient, _redis_url
from ..factories import PASSWORD, Factories
from ..helpers import Auth, signed_headers
from ..web.test_access_matrix import ADMIN, ANON, MATRIX, ORGANISER, RESIDENT, STAFF, _url
from .figures import record

RATE_LIMITED_ZH = "请求过于频繁，请稍候再试。"
RATE_LIMITED_EN = "Too many requests. Please wait a moment and try again."
CSRF_ZH = "表单已过期或并非从本站提交，请刷新页面后重试。"
# yesterday morning, local time: self-reports are checked against the claim window
YESTERDAY = local(utcnow() - timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
TRIP = {
    "mode": "bus",
    "distance_km": 8.2,
    "started_at": YESTERDAY.isoformat(),
    "ended_at": (YESTERDAY + timedelta(minutes=25)).isoformat(),
}
WEIGHED = {"items": [{"category": "paper", "weight_kg": 2}]}


# --- apps of their own -------------------------------------------------------------------


@contextmanager
def _bound(application: Flask) -> Iterator[None]:
    """Run the test inside ``application``'s context and one rolled-back transaction."""
    with application.app_context():
        connection = _db.engine.connect()
        outer = connection.begin()
        engines = _db._app_engines[application]
        saved = engines[None]
        engines[None] = connection
        _db.session.remove()
        _db.session.configure(join_transaction_mode="create_savepoint")
        try:
            yield
        finally:
            _db.session.remove()
            engines[None] = saved
            outer.rollback()
            connection.close()


def _own_app(database_uri: str, **config: Any) -> Flask:
    application = create_app(
        {"SQLALCHEMY_DATABASE_URI": database_uri, "REDIS_URL": _redis_url(), **config}
    )
    application.test_client_class = IsolatedClient
    return application


@pytest.fixture(scope="module")
def limited_app(app: Flask, database_uri: str) -> Iterator[Flask]:
    # ``app`` first: it migrated the schema. Limits count in Redis when the run has one.
    yield _own_app(
        database_uri,
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=_redis_url() or "memory://",
    )
    limiter.enabled = False  # the limiter object is shared by every app in this process


@pytest.fixture
def limited(limited_app: Flask) -> Iterator[Flask]:
    limiter.enabled = True  # another app made since may have switched it off
    limiter.reset()
    try:
        with _bound(limited_app):
            yield limited_app
    finally:
        limiter.enabled = False


@pytest.fixture(scope="module")
def csrf_app(app: Flask, database_uri: str) -> Flask:
    return _own_app(database_uri, WTF_CSRF_ENABLED=True)


@pytest.fixture
def csrf_bound(csrf_app: Flask) -> Iterator[Flask]:
    with _bound(csrf_app):
        yield csrf_app


# --- rate limits --------------------------------------------------------------------------

# what -> (limit, method, url, caller); the caller is who the limit counts:
# "address" (anonymous), "resident" (token), "station staff" (token) or "partner" (key).
API_LIMITS = {
    "registration": ("5 per minute", "POST", "/api/v1/auth/register", "address"),
    "sign-in": ("10 per minute", "POST", "/api/v1/auth/token", "address"),
    "claim code (QR)": ("30 per minute", "POST", "/api/v1/me/claim-codes", "resident"),
    "household card (QR)": ("5 per hour", "POST", "/api/v1/me/household-card", "resident"),
    "self-report": ("20 per hour", "POST", "/api/v1/me/self-reports", "resident"),
    "staff claim": ("120 per minute", "POST", "/api/v1/claims", "station staff"),
    "fulfil": ("60 per minute", "POST", "/api/v1/merchant/fulfil", "station staff"),
    "fulfil by photo": ("30 per minute", "POST", "/api/v1/merchant/fulfil/photo", "station staff"),
    "partner push": ("120 per minute", "POST", "/api/v1/partner/batches", "partner"),
    "redemption (QR)": ("30 per minute", "POST", "/api/v1/offers/999999/redeem", "resident"),
    "redemption QR again": ("60 per minute", "GET", "/api/v1/redemptions/999999", "resident"),
}
# what -> (setting, limit, method, url, caller); pages count per signed-in user
PAGE_LIMITS = {
    "sign-in": ("RATELIMIT_LOGIN", "10 per minute", "POST", "/login", "address"),
    "registration": ("RATELIMIT_REGISTER", "5 per minute", "POST", "/register", "address"),
    "admin sign-in": ("RATELIMIT_LOGIN", "10 per minute", "POST", "/admin/login", "address"),
    "claim QR": ("RATELIMIT_CLAIM_CODE", "30 per minute", "GET", "/my-qr", "resident"),
    "self-report": ("RATELIMIT_SELF_REPORT", "20 per hour", "POST", "/report", "resident"),
    "household card": ("RATELIMIT_CARD", "5 per hour", "POST", "/card", "resident"),
    "counter": ("RATELIMIT_COUNTER", "60 per minute", "POST", "/merchant/confirm", "station staff"),
    "redemption QR": (
        "RATELIMIT_REDEEM",
        "30 per minute",
        "POST",
        "/offers/999999/redeem",
        "resident",
    ),
    "redemption QR again": (
        "RATELIMIT_REDEMPTION_QR",
        "60 per minute",
        "GET",
        "/redemptions/999999",
        "resident",
    ),
}
# page endpoint -> its API twin, limited alike
TWINS = {
    "mobile.login": "accounts.Token",
    "mobile.register": "accounts.Register",
    "mobile.my_qr": "actions.ClaimCodes",
    "mobile.self_report": "actions.SelfReports",
    "mobile.household_card": "actions.Card",
    "mobile.merchant_confirm": "rewards.Fulfil",
    "mobile.redeem": "rewards.Redeem",
    "mobile.redemption": "rewards.MyRedemption",
}
SENT = {"requests": 0}


class Callers:
    """Two callers of each kind, and the request each sends: a caller keeps its token (or
    partner key, or address) from one request to the next."""

    def __init__(self, application: Flask) -> None:
        self.app, self.make = application, Factories()
        self.tokens: dict[tuple[str, int], str] = {}
        self.users: dict[tuple[str, int], Any] = {}
        self.partners = [self.make.partner(f"abuse-p{n}")[1:] for n in (1, 2)]

    def user(self, kind: str, who: int) -> Any:
        if (kind, who) not in self.users:
            if kind == "resident":
                self.users[kind, who] = self.make.resident()
            else:
                station = self.make.merchant(kind=MerchantKind.WASTE_STATION)
                self.users[kind, who] = self.make.staff(station)
        return self.users[kind, who]

    def api_request(self, kind: str, who: int, url: str, n: int) -> dict[str, Any]:
        if kind == "address":
            body = {"phone": f"1370000{who}{n:03d}", "password": PASSWORD, "district": "柯城区"}
            return {"json": body, "environ_base": {"REMOTE_ADDR": f"203.0.113.{who}"}}
        if kind == "partner":
            key_id, secret = self.partners[who - 1]
            body = json.dumps({"records": [], "n": n}).encode()
            headers = signed_headers(
                key_id, secret, "POST", url, body, content_type="application/json"
            )
            return {"data": body, "headers": headers}
        if (kind, who) not in self.tokens:
            self.tokens[kind, who] = issue_token(self.user(kind, who))[0]
        return {"json": {}, "headers": {"Authorization": f"Bearer {self.tokens[kind, who]}"}}

    def page_client(self, kind: str, who: int) -> Any:
        client = self.app.test_client()
        if kind == "address":
            client.environ_base["REMOTE_ADDR"] = f"203.0.113.{who}"
        else:
            assert Auth(client, self.make).login_page(self.user(kind, who)).status_code == 302
        return client


def _send(client: Any, method: str, url: str, **kwargs: Any) -> Any:
    SENT["requests"] += 1
    return client.open(url, method=method, **kwargs)


def _assert_rate_limited(response: Any, window: int, json_body: bool) -> None:
    assert response.status_code == 429
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= window
    if json_body:
        assert response.get_json() == {
            "code": "rate_limited",
            "message": RATE_LIMITED_ZH,
            "details": None,
        }
    else:
        page = response.get_data(as_text=True)
        assert response.mimetype == "text/html" and "<html" in page
        assert RATE_LIMITED_ZH in page and "rate_limited" in page


@pytest.mark.parametrize("what", API_LIMITS)
def test_each_api_limit_answers_429_per_caller(limited, what):
    limit, method, url, kind = API_LIMITS[what]
    item = parse(limit)
    callers = Callers(limited)
    client = limited.test_client()
    statuses = [
        _send(client, method, url, **callers.api_request(kind, 1, url, n)).status_code
        for n in range(item.amount)
    ]
    assert 429 not in statuses, statuses
    over = callers.api_request(kind, 1, url, item.amount)
    _assert_rate_limited(_send(client, method, url, **over), item.get_expiry(), json_body=True)
    english = callers.api_request(kind, 1, url, item.amount + 1)
    english["headers"] = {**english.get("headers", {}), "Accept-Language": "en"}
    assert _send(client, method, url, **english).get_json()["message"] == RATE_LIMITED_EN
    other = _send(client, method, url, **callers.api_request(kind, 2, url, 0))
    assert other.status_code != 429  # another caller has a count of its own


def test_a_users_tokens_share_one_count(limited):
    """Signing in again for a fresh token does not buy a fresh limit."""
    limit, method, url, _ = API_LIMITS["claim code (QR)"]
    callers = Callers(limited)
    resident = callers.user("resident", 1)
    tokens = [issue_token(resident)[0] for _ in range(2)]
    client = limited.test_client()
    for n in range(parse(limit).amount):
        bearer = {"Authorization": f"Bearer {tokens[n % 2]}"}
        assert _send(client, method, url, json={}, headers=bearer).status_code == 201
    third = {"Authorization": f"Bearer {issue_token(resident)[0]}"}
    _assert_rate_limited(
        _send(client, method, url, json={}, headers=third),
        parse(limit).get_expiry(),
        json_body=True,
    )


@pytest.mark.redis
def test_a_limited_request_counts_in_one_redis_round_trip_with_its_headers(limited, monkeypatch):
    """``OneTripRedisStorage``: one command to Redis per limited request (the increment,
    which answers the window's TTL too), where the headers used to cost a GET and a TTL
    more; the ``X-RateLimit-*`` headers are those of the request's own count."""
    assert isinstance(limiter.storage, OneTripRedisStorage)
    client_of_storage = limiter.storage.storage
    commands: list[str] = []
    execute = client_of_storage.execute_command

    def counted(*args: Any, **kwargs: Any) -> Any:
        commands.append(str(args[0]))
        return execute(*args, **kwargs)

    monkeypatch.setattr(client_of_storage, "execute_command", counted)
    limit, method, url, _ = API_LIMITS["claim code (QR)"]
    item = parse(limit)
    bearer = {"Authorization": f"Bearer {issue_token(Callers(limited).user('resident', 1))[0]}"}
    client = limited.test_client()
    for n in range(1, item.amount + 2):
        commands.clear()
        started = int(time.time())
        response = _send(client, method, url, json={}, headers=bearer)
        assert len(commands) == 1 and commands[0].upper() in ("EVALSHA", "EVAL"), commands
        assert response.status_code == (201 if n <= item.amount else 429)
        assert response.headers["X-RateLimit-Limit"] == str(item.amount)
        assert response.headers["X-RateLimit-Remaining"] == str(max(item.amount - n, 0))
        ended = time.time()  # a busy machine may take more than a second per request
        reset = int(response.headers["X-RateLimit-Reset"])
        assert started < reset <= ended + item.get_expiry() + 1
    # outside a request the storage reads Redis, as limits' own does
    key = next(iter(limiter.storage.storage.scan_iter(f"{limiter.storage.key_prefix}:*")))
    assert limiter.storage.get(key.decode().split(":", 1)[1]) == item.amount + 1


def test_forged_pushes_do_not_use_up_a_partners_limit(limited):
    """Knowing a partner's key id is not enough to spend its limit: only valid signatures
    count against the partner; forged ones count against their sender's address."""
    limit, method, url, _ = API_LIMITS["partner push"]
    callers = Callers(limited)
    key_id, _secret = callers.partners[0]
    client = limited.test_client()
    forged = {
        "Authorization": f"HMAC-SHA256 key_id={key_id},signature=00",
        "X-Timestamp": "0",
        "Content-Type": "application/json",
    }
    attacker = {"REMOTE_ADDR": "198.51.100.7"}
    for _ in range(parse(limit).amount):
        assert (
            _send(
                client, method, url, data=b"{}", headers=forged, environ_base=attacker
            ).status_code
            == 401
        )
    _assert_rate_limited(
        _send(client, method, url, data=b"{}", headers=forged, environ_base=attacker),
        parse(limit).get_expiry(),
        json_body=True,
    )
    signed = _send(client, method, url, **callers.api_request("partner", 1, url, 0))
    assert signed.status_code == 202


@pytest.mark.parametrize("what", PAGE_LIMITS)
def test_each_page_limit_answers_a_localized_429_page_per_user(limited, what):
    setting, limit, method, url, kind = PAGE_LIMITS[what]
    assert limited.config[setting] == limit
    item = parse(limit)
    callers = Callers(limited)
    # two residents (or attendants) behind one address: the limit is per signed-in user
    first, second = callers.page_client(kind, 1), callers.page_client(kind, 2)
    form = {"phone": "13700000000", "password": "guess1234"} if kind == "address" else {}
    if url == "/register":  # a well-formed form guessing the SMS code (bad input is not counted)
        form = {
            "phone": "13700000000",
            "code": "000000",
            "password": "Qz-green-path-2026",
            "district": "柯城区",
            "nickname": "猜码者",
        }
    if url == "/merchant/confirm":  # a correct weighing with a guessed resident code
        form = {"code": "ABCD2345", "weight_paper": "2.5"}
    statuses = [_send(first, method, url, data=form).status_code for _ in range(item.amount)]
    assert 429 not in statuses, statuses
    _assert_rate_limited(_send(first, method, url, data=form), item.get_expiry(), json_body=False)
    english = _send(first, method, url + "?lang=en", data=form)
    assert english.status_code == 429 and RATE_LIMITED_EN in english.get_data(as_text=True)
    assert _send(second, method, url, data=form).status_code != 429
    if url in ("/report", "/card"):  # only the action is limited, not its form
        assert _send(first, "GET", url).status_code == 200
    if url == "/my-qr":  # the refused requests created no claim code
        resident = callers.user("resident", 1)
        count = _db.session.scalar(
            select(func.count()).select_from(ClaimCode).where(ClaimCode.resident_id == resident.id)
        )
        assert count == item.amount


def test_pages_are_limited_like_their_api_twins(limited):
    def limits(endpoint: str) -> list[tuple[int, int, Any]]:
        name = get_qualified_name(limited.view_functions[endpoint])
        return [
            (lim.limit.amount, lim.limit.get_expiry(), lim.key_func)
            for lim in limiter.limit_manager.decorated_limits(name)
        ]

    with limited.test_request_context():
        for page, api in TWINS.items():
            assert limits(page) and limits(page) == limits(api), (page, api)
        for page in (
            "mobile.my_qr",
            "mobile.self_report",
            "mobile.household_card",
            "mobile.merchant_confirm",
        ):
            assert limits(page)[0][2] is caller_key  # counted per signed-in user
    record(
        "abuse",
        **{
            "rate limits (API)": len(API_LIMITS),
            "rate limits (pages)": len(PAGE_LIMITS),
            "limit requests": SENT["requests"],
        },
    )


# --- oversized bodies and uploads ---------------------------------------------------------


class Body(io.RawIOBase):
    """A request body of ``size`` bytes, never held in memory, that counts how much of it
    the app read (the test client seeks it to learn its length)."""

    def __init__(self, size: int) -> None:
        self.size, self.position, self.consumed = size, 0, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.position = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[
            whence
        ] + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer: Any) -> int:
        n = max(0, min(len(buffer), self.size - self.position))
        buffer[:n] = b"{" * n
        self.position += n
        self.consumed += n
        return n


OVER_MAX = 16 * 1024 * 1024 + 1
BODY_ROUTES = [
    ("/api/v1/auth/token", "application/json", ANON),
    ("/api/v1/partner/batches", "application/json", ANON),
    ("/api/v1/me/self-reports", "multipart/form-data; boundary=x", RESIDENT),
    ("/report", "multipart/form-data; boundary=x", RESIDENT),
]


@pytest.mark.parametrize(("url", "content_type", "role"), BODY_ROUTES)
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_body_over_max_content_length_is_refused_early(
    app, client, auth, make, url, content_type, role, declared
):
    assert app.config["MAX_CONTENT_LENGTH"] == OVER_MAX - 1
    headers = {"Content-Type": content_type}
    if role == RESIDENT:
        user = make.resident()
        if url.startswith("/api/"):
            headers.update(auth.bearer(user))
        else:
            auth.login_page(user)
    body = Body(OVER_MAX + 1024 * 1024)
    overrides = {}
    if not declared:  # chunked (gunicorn terminates the stream): read up to the limit only
        headers["Transfer-Encoding"] = "chunked"
        overrides["wsgi.input_terminated"] = True
    response = client.post(url, input_stream=body, headers=headers, environ_overrides=overrides)
    assert response.status_code == 413
    if url.startswith("/api/"):
        assert response.get_json()["code"] == "payload_too_large"
    else:
        assert "payload_too_large" in response.get_data(as_text=True)
    assert body.consumed == 0 if declared else body.consumed <= OVER_MAX + 64 * 1024
    record("abuse", **{"oversized-body entrances": len(BODY_ROUTES)})


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@lru_cache
def blank_png(width: int, height: int) -> bytes:
    """A valid black 1-bit PNG, made row by row (Pillow would hold a byte per pixel): a
    20000 x 20000 one is under 50 KB and decodes into 400 M pixels."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter type 0, then the packed bits
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


# name -> (the upload, the code where it is stored, the code where a QR is read from it)
BAD_IMAGES = {
    # QR photos have no byte limit of their own (MAX_CONTENT_LENGTH bounds them): a photo
    # of a voucher straight from a camera can be large, and reading it is bounded by pixels
    "over 5 MB": (
        lambda: blank_png(64, 64) + b"\0" * (5 * 1024 * 1024),
        "invalid_image",
        "unreadable_image",
    ),
    "49 M pixels": (lambda: blank_png(7000, 7000), "image_too_large", "image_too_large"),
    "bomb 20000 x 20000": (lambda: blank_png(20000, 20000), "image_too_large", "image_too_large"),
}
# entrance -> (url, role, form, file field, reads a QR, answer: JSON 422, page 422 or flash)
UPLOADS = {
    "self-report (API)": (
        "/api/v1/me/self-reports",
        RESIDENT,
        {"action": "public_transit", "activity": json.dumps(TRIP)},
        "photo",
        False,
        "json",
    ),
    "self-report (page)": (
        "/report",
        RESIDENT,
        {
            "action": "public_transit",
            "distance_km": "8.2",
            "started_at": YESTERDAY.strftime("%Y-%m-%dT%H:%M"),
            "ended_at": (YESTERDAY + timedelta(minutes=25)).strftime("%Y-%m-%dT%H:%M"),
        },
        "photo",
        False,
        "page",
    ),
    "offer picture (page)": (
        "/merchant/offers/new",
        STAFF,
        {
            "title_zh": "杯子",
            "points_price": "100",
            "stock": "3",
            "per_resident_limit": "1",  # a valid offer: the image is checked after its fields
            "valid_from": "2026-11-25T08:00",
            "valid_until": "2026-12-25T08:00",
        },
        "image",
        False,
        "page",
    ),
    "fulfil by photo (API)": ("/api/v1/merchant/fulfil/photo", STAFF, {}, "photo", True, "json"),
    "counter photo (page)": ("/merchant/confirm", STAFF, {}, "photo", True, "page"),
}
MESSAGES = {
    "invalid_image": "请上传不超过 5 MB 的 JPEG、PNG 或 WebP 图片。",
    "image_too_large": "这张照片的像素过多，请上传不超过 40 百万像素的照片。",
    "unreadable_image": "无法从照片中识别二维码，请重拍或手动输入兑换码。",
}


def test_the_png_maker_makes_real_images(app):
    with app.test_request_context():
        image = open_image(blank_png(64, 48))
        image.load()
        assert image.size == (64, 48) and image.getpixel((63, 47)) == 0
        assert read_image(io.BytesIO(blank_png(64, 48)))[0][:2] == b"\xff\xd8"  # a JPEG


@pytest.mark.parametrize("bad", BAD_IMAGES)
@pytest.mark.parametrize("entrance", UPLOADS)
def test_bad_images_are_refused_at_every_upload_entrance(
    app, client, auth, make, db, tmp_path, monkeypatch, entrance, bad
):
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path))
    seed_versions()
    url, role, form, field, reads_qr, answer = UPLOADS[entrance]
    data, stored_code, qr_code = BAD_IMAGES[bad]
    code = qr_code if reads_qr else stored_code
    if role == RESIDENT:
        user = make.resident()
    else:
        user = make.staff(make.merchant(kind=MerchantKind.WASTE_STATION))
    headers = {**auth.bearer(user), "Idempotency-Key": "k"} if answer == "json" else {}
    if answer != "json":
        auth.login_page(user)
    counts = _counts()
    response = client.post(
        url,
        headers=headers,
        content_type="multipart/form-data",
        data={**form, field: (io.BytesIO(data()), "photo.png")},
    )
    if answer == "json":
        assert response.status_code == 422, response.get_json()
        assert response.get_json()["code"] == code
        assert response.get_json()["message"] == MESSAGES[code]
    elif answer == "page":
        assert response.status_code == 422 and MESSAGES[code] in response.get_data(as_text=True)
    else:
        assert response.status_code == 302
        assert MESSAGES[code] in client.get(response.headers["Location"]).get_data(as_text=True)
    assert _counts() == counts and not any(tmp_path.rglob("*.jpg"))  # nothing stored
    record("abuse", **{"upload entrances": len(UPLOADS), "bad images": len(BAD_IMAGES)})


def _counts() -> tuple[int, ...]:
    return tuple(
        _db.session.scalar(select(func.count()).select_from(model))
        for model in (ActivityRecord, Offer, Redemption)
    )


# --- QR tokens: their purpose only, and once ----------------------------------------------


@pytest.fixture
def tokens(client, auth, make, db):
    """A resident's claim, card and voucher (redemption) tokens, and a station's staff."""
    seed_versions()
    resident = make.resident()
    make.points(resident, 500)
    station = make.merchant(kind=MerchantKind.WASTE_STATION)
    staff = make.staff(station)
    offer = make.offer(station, points_price=100)
    mine = auth.bearer(resident)
    redemption = redeem_offer(resident, offer.id, "abuse")
    return {
        "staff": auth.bearer(staff),
        "claim": client.post("/api/v1/me/claim-codes", headers=mine).get_json()["token"],
        "card": client.post("/api/v1/me/household-card", headers=mine).get_json()["token"],
        "redeem": client.get(f"/api/v1/redemptions/{redemption.id}", headers=mine).get_json()[
            "qr_token"
        ],
    }


# (token's purpose, where it is presented)
MISUSES = [
    ("claim", "fulfil"),
    ("card", "fulfil"),
    ("redeem", "claim"),
    ("card", "claim"),
    ("redeem", "card"),
    ("claim", "card"),
]


def _present(client: Any, tokens: dict[str, Any], token: str, where: str, key: str) -> Any:
    if where == "fulfil":
        return client.post(
            "/api/v1/merchant/fulfil",
            json={"token": token},
            headers={**tokens["staff"], "Idempotency-Key": key},
        )
    field = "token" if where == "claim" else "card"
    return client.post(
        "/api/v1/claims", json={field: token, "activity": WEIGHED}, headers=tokens["staff"]
    )


@pytest.mark.parametrize(("purpose", "where"), MISUSES)
def test_a_qr_token_works_only_for_its_purpose(client, tokens, purpose, where):
    counts = _counts()
    response = _present(client, tokens, tokens[purpose], where, "misuse")
    assert response.status_code == 422 and response.get_json()["code"] == "invalid_qr"
    assert _counts() == counts
    # the same token still works where it belongs (cards and claims are confirmed as claims)
    right = {"redeem": "fulfil", "claim": "claim", "card": "card"}[purpose]
    assert _present(client, tokens, tokens[purpose], right, "right").status_code in (200, 201)


@pytest.mark.parametrize(
    ("purpose", "where", "status", "code"),
    [
        ("claim", "claim", 422, "claim_code_invalid"),
        ("redeem", "fulfil", 409, "already_fulfilled"),
    ],
)
def test_a_claim_or_voucher_token_works_once(client, tokens, purpose, where, status, code):
    first = _present(client, tokens, tokens[purpose], where, "first")
    assert first.status_code in (200, 201), first.get_json()
    counts = _counts()
    again = _present(client, tokens, tokens[purpose], where, "second")  # a new attempt
    assert again.status_code == status and again.get_json()["code"] == code
    assert _counts() == counts
    record("abuse", **{"QR misuse cases": len(MISUSES) + 2})


# --- CSRF on every page form --------------------------------------------------------------


def page_forms(application: Flask) -> list[str]:
    """Every POST rule outside the API: the forms of the pages and of the console."""
    return sorted(
        rule.rule
        for rule in application.url_map.iter_rules()
        if "POST" in (rule.methods or ()) and not rule.rule.startswith("/api/")
    )


def _sign_in(client: Any, user: Any) -> None:
    """A signed-in session without the (CSRF-protected) sign-in form."""
    from backend.accounts.sessions import start_session
    from backend.auth import SECOND_FACTOR_KEY, SESSION_KEY

    key = start_session(user)  # the server-side half of a signed-in session
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
        session[SESSION_KEY] = key
        if user.role is Role.ADMIN:
            session[SECOND_FACTOR_KEY] = user.get_id()


def _snapshot() -> str:
    digest = hashlib.sha256()
    _db.session.expire_all()
    for table in _db.metadata.sorted_tables:
        for row in _db.session.execute(select(table).order_by(*table.primary_key.columns)):
            digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def test_every_page_form_refuses_a_post_without_a_csrf_token(csrf_bound):
    make = Factories()
    users = {role: make.user(Role(role)) for role in (RESIDENT, ORGANISER, ADMIN)}
    users[STAFF] = make.staff(make.merchant(kind=MerchantKind.WASTE_STATION))
    clients = {ANON: csrf_bound.test_client()}
    for role, user in users.items():
        clients[role] = csrf_bound.test_client()
        _sign_in(clients[role], user)
    forms = page_forms(csrf_bound)
    assert len(forms) >= 40 and "/merchant/confirm" in forms and "/admin/settings" in forms
    failures = []
    before = _snapshot()
    for rule in forms:
        allowed = MATRIX[("POST", rule)]  # the role that may really use it, else anyone
        role = next((r for r in (RESIDENT, STAFF, ORGANISER, ADMIN) if r in allowed), ANON)
        response = clients[role].post(_url(rule), data={"text": "x", "reason": "x"})
        page = response.get_data(as_text=True)
        if response.status_code != 400 or "csrf_failed" not in page or CSRF_ZH not in page:
            failures.append(f"POST {rule} as {role}: {response.status_code}")
    assert not failures, "\n".join(failures)
    assert _snapshot() == before  # nothing written by any of them
    record("abuse", **{"page forms refused without a CSRF token": len(forms)})


def test_the_same_form_with_its_token_passes(csrf_bound):
    resident = Factories().resident()
    client = csrf_bound.test_client()
    _sign_in(client, resident)
    refused = client.post("/card")
    assert refused.status_code == 400
    assert (
        client.post("/card", headers={"Accept": "application/json"}).get_json()["code"]
        == "csrf_failed"
    )
    page = client.get("/card").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "the card page carries its form token"
    issued = client.post("/card", data={"csrf_token": token.group(1)})
    assert issued.status_code == 302  # a new card: the token was the only thing missing


def test_fixing_the_registration_form_is_not_counted_and_a_limited_page_keeps_it(limited):
    """Fields left to fix are shown (all at once) and never count against the abuse limit;
    guessing the SMS code does, and the page that says so keeps the form and the wait."""
    client = limited.test_client()
    client.environ_base["REMOTE_ADDR"] = "203.0.113.77"
    amount = parse("5 per minute").amount
    incomplete = {"phone": "1370", "code": "000000", "password": "short", "district": "柯城区"}
    for _ in range(amount + 3):
        response = _send(client, "POST", "/register", data=incomplete)
        assert response.status_code != 429
        html = response.get_data(as_text=True)
        assert 'id="phone-error"' in html and 'id="password-error"' in html  # both at once
    guess = {
        "phone": "13700000000",
        "code": "000000",
        "password": "Qz-green-path-2026",
        "district": "柯城区",
        "nickname": "猜码者",
    }
    statuses = [_send(client, "POST", "/register", data=guess).status_code for _ in range(amount)]
    assert 429 not in statuses, statuses
    limited_page = _send(client, "POST", "/register", data=guess)
    _assert_rate_limited(limited_page, 60, json_body=False)
    html = limited_page.get_data(as_text=True)
    wait = limited_page.headers["Retry-After"]
    assert f"{wait} 秒" in html or f"{wait} seconds" in html
    assert 'value="猜码者"' in html and 'value="13700000000"' in html  # what was typed stays
    assert "Qz-green-path-2026" not in html  # never the password
