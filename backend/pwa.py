"""PWA plumbing: the manifest, the service worker at the site root, the offline page.

Static URLs carry the version of the static files (``/static/app.css?v=<hash>``: every
``url_for("static", ...)`` adds it), and the service worker names its cache after the same
version. A deploy that changes any file under ``static/`` therefore changes the service
worker's bytes, so browsers install the new worker, which fetches the shell again and deletes
the old caches when it activates; installed clients never keep old CSS or scripts. A URL of
the current version always has the same content, so it may be cached for a year.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request, send_from_directory
from flask.blueprints import BlueprintSetupState

bp = Blueprint("pwa", __name__)

VERSION_PLACEHOLDER = "__STATIC_VERSION__"  # in sw.js, replaced when it is served
YEAR = 365 * 24 * 3600


def static_version(folder: str | Path) -> str:
    """A short hash of every file under ``folder`` (names and contents)."""
    root = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:12]


def current_static_version() -> str:
    if current_app.debug:  # `make run`: files change while the server runs
        return static_version(current_app.static_folder or "")
    return str(current_app.extensions["static_version"])


@bp.record_once
def _compute_version(state: BlueprintSetupState) -> None:
    state.app.extensions["static_version"] = static_version(state.app.static_folder or "")


@bp.app_url_defaults
def _version_static_urls(endpoint: str, values: dict[str, Any]) -> None:
    if endpoint == "static" and "v" not in values:
        values["v"] = current_static_version()


@bp.after_app_request
def _cache_versioned_static(response: Response) -> Response:
    if (
        request.endpoint == "static"
        and response.status_code == 200
        and request.args.get("v") == current_static_version()
        and not current_app.debug
    ):
        response.cache_control.no_cache = None
        response.cache_control.public = True
        response.cache_control.max_age = YEAR
        response.cache_control.immutable = True
    return response


@bp.get("/manifest.webmanifest")
def manifest() -> Any:
    return send_from_directory(
        current_app.static_folder or "",
        "manifest.webmanifest",
        mimetype="application/manifest+json",
        max_age=3600,
    )


@bp.get("/sw.js")
def service_worker() -> Any:
    # Served from the root so its scope is the whole site; never cached long, so a deploy
    # reaches installed clients at their next visit.
    source = Path(current_app.static_folder or "", "sw.js").read_text(encoding="utf-8")
    body = source.replace(VERSION_PLACEHOLDER, current_static_version())
    response = Response(body, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/offline")
def offline() -> Any:
    return render_template("offline.html")
