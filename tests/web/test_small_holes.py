"""The small holes of issue 16: NUL bytes and over-deep JSON are 4xx, log lines cannot be
forged, signed-in pages are never cached."""

from __future__ import annotations

import io
import json
import logging
import os
import pickle

import fakeredis
from PIL import Image
from sqlalchemy import select

from backend import cache
from backend.demo import data as demo_data
from backend.events.models import Certificate
from backend.events.reports import verify_url
from backend.extensions import db
from backend.reporting import queries
from backend.reporting.filters import default_filters
from backend.rewards.models import Offer
from backend.rewards.services import review_offer
from backend.security import escape_controls
from backend.timeutil import local, utcnow


def test_a_nul_byte_in_the_path_or_query_is_a_400(client):
    for url in ("/methodologies/public%00transit", "/api/v1/methodologies/x%00y", "/?q=%00"):
        response = client.get(url, headers={"Accept": "application/json"})
        assert response.status_code == 400, url
        assert response.get_json()["code"] == "bad_request"


def test_over_deep_json_is_a_400(client):
    body = "[" * 100_000 + "]" * 100_000
    for path in ("/api/v1/auth/token", "/api/v1/auth/register"):
        response = client.post(path, data=body, content_type="application/json")
        assert 400 <= response.status_code < 500, path
        assert response.get_json()["code"] in ("bad_request", "malformed_json")


def test_control_characters_are_escaped_in_logs(app, client, caplog, monkeypatch):
    caplog.set_level(logging.INFO)
    assert escape_controls("a\nb\r\x1bc") == "a\\x0ab\\x0d\\x1bc"

    def crash(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("backend.accounts.routes.services.authenticate", crash)
    response = client.post(
        "/api/v1/auth/token%0a2026-12-04 INFO forged line",
        json={"phone": "13800000000", "password": "x"},
    )
    assert response.status_code in (404, 500)
    app.logger.warning("path %s", "/x\nFAKE")
    messages = [record.getMessage() for record in caplog.records]
    assert any("\\x0aFAKE" in message for message in messages)
    assert not any("\n" in message for message in messages)


def test_signed_in_pages_are_not_stored(client, make, auth):
    assert "no-store" not in client.get("/methodologies").headers.get("Cache-Control", "")
    auth.login_page(make.resident())
    for path in ("/privacy", "/methodologies", "/points"):
        assert client.get(path).headers.get("Cache-Control") == "no-store", path
    # the home is the resident's own versioned page (backend.pagecache): kept by their browser
    # only, revalidated every time (PostgreSQL keeps the row versions; elsewhere not kept)
    home = client.get("/home").headers.get("Cache-Control")
    assert home in ("private, no-cache", "no-store")


def test_signing_out_clears_the_browsers_copies(client, make, auth):
    resident = make.resident()
    auth.login_page(resident)
    assert client.post("/logout").headers["Clear-Site-Data"] == '"cache"'
    auth.login_page(resident)
    everywhere = client.post("/account/sign-out-everywhere")
    assert everywhere.headers["Clear-Site-Data"] == '"cache"'
    assert "Clear-Site-Data" not in client.get("/").headers


def test_external_links_use_the_configured_base_not_the_request_host(app, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://carbon.example.cn/")
    with app.test_request_context("/", headers={"Host": "evil.example"}):
        cert = Certificate(verify_code="ABCD2345")
        assert verify_url(cert) == "https://carbon.example.cn/verify/ABCD2345"
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", None)
    with app.test_request_context("/", headers={"Host": "localhost"}):
        assert verify_url(cert) == "http://localhost/verify/ABCD2345"


def test_demo_load_refuses_a_database_with_other_accounts_or_elsewhere(app, make, monkeypatch):
    monkeypatch.setitem(app.config, "APP_ENV", "development")
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    assert runner.invoke(args=["demo", "load"]).exit_code == 0  # its own accounts: fine
    make.resident()  # a real person's account
    refused = runner.invoke(args=["demo", "load"])
    assert refused.exit_code != 0 and "1 other accounts" in refused.output
    assert runner.invoke(args=["demo", "load", "--force"]).exit_code == 0
    monkeypatch.setattr(demo_data, "database_is_local", lambda: False)
    remote = runner.invoke(args=["demo", "load"])
    assert remote.exit_code != 0 and "another machine" in remote.output


class _Bomb:
    def __reduce__(self):
        return (os.system, ("touch /tmp/i16-pickle-ran",))


def test_the_shared_cache_is_json_and_never_unpickles(app, db, monkeypatch, tmp_path):
    fake = fakeredis.FakeStrictRedis()
    monkeypatch.setitem(app.extensions, "redis", fake)
    monkeypatch.setitem(app.config, "READ_CACHE_SECONDS", 60)
    with app.test_request_context():
        filters = default_filters(local(utcnow()).date())
        dash = queries.dashboard(filters)
        key = queries.dashboard_key(filters)
        cache.keep(key, dash)
        raw = fake.get(cache._shared_key(key))
        json.loads(raw)  # plain JSON
        again = cache.latest(key, lambda: None, lambda: None)
        assert again is not None and again.value == dash
        assert again.value.tables.keys() == dash.tables.keys()
        # a pickle written to Redis by someone else is not run, only computed again by a job
        fake.set(cache._shared_key(("x",)), pickle.dumps(_Bomb()))
        asked: list[int] = []
        assert cache.latest(("x",), lambda: 42, lambda: asked.append(1)) is None
        assert asked == [1]
    assert not os.path.exists("/tmp/i16-pickle-ran")


def _picture() -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 120, 80)).save(buffer, format="PNG")
    buffer.seek(0)
    return buffer


def test_offer_images_are_checked_first_and_public_only_once_approved(
    app, client, make, auth, monkeypatch, tmp_path
):
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path))
    staff, admin = make.staff(make.merchant()), make.user("admin")
    auth.login_page(staff)
    day = local(utcnow()).date()
    form = {
        "title_zh": "杯子",
        "points_price": "not a number",
        "stock": "3",
        "per_resident_limit": "1",
        "valid_from": f"{day}T08:00",
        "valid_until": f"{day.replace(year=day.year + 1)}T08:00",
    }
    refused = client.post("/merchant/offers/new", data={**form, "image": (_picture(), "cup.png")})
    assert refused.status_code == 422
    assert not any(tmp_path.rglob("*.jpg"))  # a refused offer leaves no orphan file
    form["points_price"] = "100"
    made = client.post("/merchant/offers/new", data={**form, "image": (_picture(), "cup.png")})
    assert made.status_code == 302, made.get_data(as_text=True)[-3000:]
    offer = db.session.scalar(select(Offer).order_by(Offer.id.desc()))
    url = f"/offers/{offer.id}/image"
    preview = client.get(url)  # the merchant's own staff
    assert preview.status_code == 200 and "no-store" in preview.headers["Cache-Control"]
    stranger = app.test_client()
    assert stranger.get(url).status_code == 404  # pending: not public
    review_offer(admin, offer.id, approve=True)
    public = stranger.get(url)
    assert public.status_code == 200 and "max-age=86400" in public.headers["Cache-Control"]
