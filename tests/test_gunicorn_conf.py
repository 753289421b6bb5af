"""gunicorn.conf.py: each worker compiles the page templates before its first request and
moves what it has loaded out of the cyclic collector's sight, at start and once warm."""

from __future__ import annotations

import gc
import runpy
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

CONF = Path(__file__).resolve().parents[1] / "gunicorn.conf.py"


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    """The hooks freeze this test process's objects: give them back to the collector."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_worker_compiles_every_page_template_before_serving(app):
    conf = runpy.run_path(str(CONF))
    app.jinja_env.cache.clear()
    conf["post_worker_init"](SimpleNamespace(wsgi=app))
    pages = [n for n in app.jinja_env.list_templates() if n.endswith(".html")]
    compiled = {template.name for template in app.jinja_env.cache.values()}
    assert pages and set(pages) <= compiled


def test_an_application_without_templates_is_left_alone():
    conf = runpy.run_path(str(CONF))
    conf["post_worker_init"](SimpleNamespace(wsgi=lambda environ, start_response: []))


@pytest.mark.parametrize("wsgi", ["app", "ceiling"])
def test_a_booted_worker_has_frozen_what_it_loaded(app, wsgi):
    conf = runpy.run_path(str(CONF))
    target = app if wsgi == "app" else (lambda environ, start_response: [])
    conf["post_worker_init"](SimpleNamespace(wsgi=target))
    assert gc.get_freeze_count() > 0
    assert len(gc.get_objects()) < gc.get_freeze_count()


def test_a_warm_worker_freezes_once_more_then_never_again(monkeypatch):
    monkeypatch.setenv("GC_WARM_REQUESTS", "3")
    conf = runpy.run_path(str(CONF))
    freezes: list[int] = []
    # counted by call: the frozen count itself falls whenever a frozen object is freed
    monkeypatch.setattr(gc, "freeze", lambda: freezes.append(1))
    for served in range(1, 8):
        conf["post_request"](None, None, {}, None)
        assert len(freezes) == (0 if served < 3 else 1)
