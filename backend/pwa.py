"""PWA plumbing: the manifest, the service worker at the site root, the offline page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, send_from_directory

bp = Blueprint("pwa", __name__)


@bp.get("/manifest.webmanifest")
def manifest() -> Any:
    return send_from_directory(current_app.static_folder or "", "manifest.webmanifest",
                               mimetype="application/manifest+json", max_age=3600)


@bp.get("/sw.js")
def service_worker() -> Any:
    # Served from the root so its scope is the whole site; never cached long.
    response = send_from_directory(current_app.static_folder or "", "sw.js",
                                   mimetype="text/javascript", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/offline")
def offline() -> Any:
    return render_template("offline.html")
