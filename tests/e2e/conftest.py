"""Real-browser journeys: the real app on a live server, driven by Debian's Chromium.

* ``live_server``: the app from ``create_app`` (test configuration, but CSRF on, as in
  production) on the session's test database, served by werkzeug in a background thread on
  127.0.0.1 and a free port below the ephemeral range. Data is really committed.
* ``journey_data``: the demo dataset (``load_demo``), a transit partner whose key the test
  knows, and an offer priced within one bus trip's points; every table is emptied afterwards,
  as the ``committed`` fixture does.
* Playwright launches /usr/bin/chromium (``playwright install`` cannot download here); tests
  are skipped without it, or fail with ``--require-services`` (see tests/conftest.py). On a
  failure pytest-playwright saves a full-page screenshot of every open page under
  ``test-results/`` (``--screenshot only-on-failure --full-page-screenshot`` in pyproject).
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import select, text
from werkzeug.serving import make_server

from backend.app import create_app
from backend.extensions import db as _db

from ..conftest import CHROMIUM, _redis_url
from ..factories import Factories
from ..helpers import as_json, signed_headers
from ..web.plain_words import internal_words, visible_text

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 360, "height": 640}  # the phone the pages are designed for


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any], base_url: str) -> dict[str, Any]:
    return {
        **browser_context_args,
        "base_url": base_url,
        "viewport": VIEWPORT,
        "timezone_id": "Asia/Shanghai",
    }


@dataclass
class Rendered:
    url: str
    kind: str  # html | csv | pdf
    body: bytes


def _keep(response: Any, rendered: list[Rendered]) -> None:
    """Pages, CSV files and PDFs the journey received, for the plain-words check."""
    kind = response.headers.get("content-type", "")
    wanted = (
        "html"
        if "text/html" in kind and response.request.resource_type == "document"
        else "csv"
        if "text/csv" in kind
        else "pdf"
        if "application/pdf" in kind
        else None
    )
    if wanted is None or response.status >= 300:
        return
    try:
        rendered.append(Rendered(response.url, wanted, response.body()))
    except Exception:  # noqa: BLE001 - a body the browser no longer holds: nothing to check
        return


def _text(item: Rendered) -> str:
    if item.kind == "html":
        return visible_text(item.body.decode("utf-8", "replace"))
    if item.kind == "csv":
        return item.body.decode("utf-8-sig", "replace")
    if shutil.which("pdftotext") is None:
        return ""
    done = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=item.body, capture_output=True, check=False
    )
    return done.stdout.decode("utf-8", "replace")


@pytest.fixture
def rendered() -> Iterator[list[Rendered]]:
    """Every page, CSV and PDF the journey's browsers received. Afterwards none may speak in
    internal names: snake_case codes or field names, or our file names (plain_words.py)."""
    items: list[Rendered] = []
    yield items
    found = {item.url: words for item in items if (words := internal_words(_text(item)))}
    assert not found, f"internal words on pages people read: {found}"


@pytest.fixture
def open_page(new_context: Any, rendered: list[Rendered]) -> Any:
    """``open_page()``: a page in a new browser context (another person's phone). Pages are
    in Chinese until the person picks English in the top bar (a cookie keeps the choice).
    What it receives is checked for internal words (``rendered``)."""

    def _open() -> Any:
        context = new_context(locale="zh-CN")
        context.set_default_timeout(10_000)  # a page here answers in well under a second
        context.on("response", lambda response: _keep(response, rendered))
        return context.new_page()

    return _open


def _free_port() -> int:
    """A free port below 32768: ephemeral ports can be reused by clients (environment.md)."""
    for port in range(18100, 18400):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18100-18399")


@pytest.fixture(scope="session")
def live_app(app: Flask, database_uri: str) -> Flask:
    """The app the browser talks to; ``app`` has already migrated the database."""
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_uri,
            "REDIS_URL": _redis_url(),
            "WTF_CSRF_ENABLED": True,
        }
    )


@pytest.fixture(scope="session")
def base_url(live_app: Flask) -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = make_server("127.0.0.1", _free_port(), live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@dataclass
class JourneyData:
    base_url: str
    partner_code: str
    key_id: str
    secret: str
    offer_id: int
    offer_title: str


DEMO_PASSWORD = "quzhou-demo-2026"
STAFF = "13800000011"  # the demo bookshop's staff
ATTENDANT = "13800000012"  # the demo waste station's attendant
ORGANISER = "13800000021"


@pytest.fixture
def journey_data(live_app: Flask, base_url: str) -> Iterator[JourneyData]:
    from backend.demo.data import DEMO_MERCHANT, load_demo
    from backend.merchants.models import Merchant
    from backend.partners.services import create_partner

    with live_app.app_context():
        try:
            load_demo()
            _, key_id, secret = create_partner("e2e-bus", "衢州公交（测试）", "transit")
            bookshop = _db.session.scalar(
                select(Merchant).where(Merchant.name == DEMO_MERCHANT["name"])
            )
            offer = Factories().offer(
                bookshop,
                title_zh="书店帆布书签",
                title_en="Canvas bookmark",
                points_price=200,
                stock=5,
                per_resident_limit=1,
            )
            data = JourneyData(base_url, "e2e-bus", key_id, secret, offer.id, offer.title_en)
            _db.session.remove()
            yield data
        finally:
            _db.session.remove()
            _wipe()


def _wipe() -> None:
    tables = list(reversed(_db.metadata.sorted_tables))
    with _db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(t.name for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


def push_batch(data: JourneyData, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The partner's signed POST of a batch to the live server (jobs run inline in tests)."""
    path = "/api/v1/partner/batches"
    body = as_json({"records": records})
    headers = signed_headers(
        data.key_id, data.secret, "POST", path, body, content_type="application/json"
    )
    response = requests.post(data.base_url + path, data=body, headers=headers, timeout=30)
    assert response.status_code == 202, response.text
    return dict(response.json())


def confirm_link(data: JourneyData, identity: str, link_code: str) -> dict[str, Any]:
    """The partner's signed confirmation of a resident's link with the code they showed."""
    path = "/api/v1/partner/links"
    body = as_json({"identity": identity, "link_code": link_code})
    headers = signed_headers(
        data.key_id, data.secret, "POST", path, body, content_type="application/json"
    )
    response = requests.post(data.base_url + path, data=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return dict(response.json())


def sign_in(page: Any, phone: str, password: str = DEMO_PASSWORD) -> None:
    page.goto("/login")
    page.locator("#phone").fill(phone)
    page.locator("#password").fill(password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    assert "/login" not in page.url, page.locator("main").inner_text()
