"""The PWA: the manifest and its icons, the service worker (served at the root, its cache named
after the static files' version), versioned static URLs, and the offline page."""

from __future__ import annotations

import io
import re

from PIL import Image

from backend.pwa import VERSION_PLACEHOLDER, static_version

YEAR = 365 * 24 * 3600


def _version(app) -> str:
    return static_version(app.static_folder)


def test_the_manifest_names_the_app_and_starts_at_home(client, auth, make):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response.mimetype == "application/manifest+json"
    manifest = response.get_json(force=True)
    assert manifest["name"] == "衢州碳普惠" and manifest["short_name"]
    assert manifest["display"] == "standalone" and manifest["scope"] == "/"
    assert manifest["start_url"] == "/home"
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["theme_color"])

    auth.login_page(make.resident())
    start = client.get(manifest["start_url"])
    assert start.status_code == 200 and b'rel="manifest" href="/manifest.webmanifest"' in start.data


def test_the_manifest_icons_exist_and_have_their_declared_sizes(client):
    icons = client.get("/manifest.webmanifest").get_json(force=True)["icons"]
    assert {icon["sizes"] for icon in icons} >= {"192x192", "512x512"}  # installability
    for icon in icons:
        response = client.get(icon["src"])
        assert response.status_code == 200, icon["src"]
        assert response.mimetype == icon["type"] == "image/png"
        width, height = Image.open(io.BytesIO(response.data)).size
        assert f"{width}x{height}" == icon["sizes"], icon["src"]


def test_the_service_worker_is_served_from_the_root_never_cached_long(client, app):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"  # browsers refuse a worker of another type
    assert response.headers["Cache-Control"] == "no-cache"  # a deploy reaches clients at once
    body = response.get_data(as_text=True)
    assert VERSION_PLACEHOLDER not in body
    assert f'const VERSION = "{_version(app)}";' in body
    assert 'const PREFIX = "carbon-shell-";' in body
    # the page registers it at the root, so its scope is the whole site
    pwa_js = client.get("/static/pwa.js").get_data(as_text=True)
    assert 'navigator.serviceWorker.register("/sw.js")' in pwa_js
    etag = response.headers["ETag"]
    assert client.get("/sw.js", headers={"If-None-Match": etag}).status_code == 304


def test_the_shell_the_worker_caches_is_what_the_pages_link(client, app):
    version = _version(app)
    body = client.get("/sw.js").get_data(as_text=True)
    files = re.findall(r'"([\w.-]+)"', re.search(r"\[([^\]]*)\]\.map", body).group(1))
    assert {"app.css", "logo.svg", "icon-192.png", "pwa.js"} <= set(files)
    assert '["/offline"]' in body
    page = client.get("/offline").get_data(as_text=True)
    for name in ("app.css", "logo.svg", "pwa.js"):
        assert f'"/static/{name}?v={version}"' in page, name  # the same URL, so a cache hit
    for name in files:
        response = client.get(f"/static/{name}?v={version}")
        assert response.status_code == 200, name
        cache = response.cache_control
        assert cache.public and cache.immutable and cache.max_age == YEAR, name


def test_static_files_without_the_current_version_are_revalidated(client, app):
    for url in ("/static/app.css", "/static/app.css?v=000000000000"):
        response = client.get(url)
        assert response.status_code == 200
        assert response.cache_control.no_cache and not response.cache_control.immutable, url


def test_the_version_changes_with_any_static_file(tmp_path):
    (tmp_path / "app.css").write_text("body { color: #111; }")
    (tmp_path / "sw.js").write_text("// worker")
    first = static_version(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{12}", first)
    assert static_version(tmp_path) == first  # the same files, the same version on every node
    (tmp_path / "app.css").write_text("body { color: #222; }")
    second = static_version(tmp_path)
    assert second != first
    (tmp_path / "new.js").write_text("")
    assert static_version(tmp_path) not in (first, second)
    (tmp_path / "new.js").unlink()
    (tmp_path / "app.css").rename(tmp_path / "other.css")
    assert static_version(tmp_path) != second  # a renamed file counts too


def test_static_urls_carry_the_version(app):
    from flask import url_for

    with app.test_request_context("/"):
        assert url_for("static", filename="app.css") == f"/static/app.css?v={_version(app)}"
        assert url_for("static", filename="app.css", v="x") == "/static/app.css?v=x"


def test_the_offline_page_renders_for_anyone_in_both_languages(client):
    zh = client.get("/offline")
    assert zh.status_code == 200 and zh.mimetype == "text/html"
    text = zh.get_data(as_text=True)
    assert "您已离线" in text and 'href="/home"' in text and 'lang="zh' in text
    en = client.get("/offline?lang=en").get_data(as_text=True)
    assert "You are offline" in en and "Try again" in en
