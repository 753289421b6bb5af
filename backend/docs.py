"""The API documentation page: Swagger UI served from the installed package, no CDN."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flask_swagger_ui
from flask import Blueprint, render_template, send_from_directory
from werkzeug.exceptions import NotFound

bp = Blueprint("docs", __name__)
SWAGGER_DIST = Path(flask_swagger_ui.__file__).parent / "dist"
ASSETS = {
    "swagger-ui.css",
    "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js",
    "favicon-32x32.png",
}


@bp.get("/api/v1/docs")
def docs() -> Any:
    return render_template("api_docs.html")


@bp.get("/api/v1/docs/assets/<name>")
def assets(name: str) -> Any:
    if name not in ASSETS:
        raise NotFound()
    return send_from_directory(SWAGGER_DIST, name, max_age=86400)
