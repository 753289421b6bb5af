"""gunicorn.conf.py: each worker compiles the page templates before its first request."""

from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace

CONF = Path(__file__).resolve().parents[1] / "gunicorn.conf.py"


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
