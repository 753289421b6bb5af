"""Liveness and readiness probes for load balancers and docker-compose."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import text

from .extensions import db, limiter, redis_client

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@limiter.exempt
def healthz() -> Any:
    """The process is up and serving."""
    return jsonify(status="ok")


@bp.get("/readyz")
@limiter.exempt
def readyz() -> Any:
    """The database and (when configured) Redis answer; 503 otherwise."""
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        db.session.rollback()
        checks["database"] = f"error: {type(exc).__name__}"
    redis = redis_client()
    if redis is None:
        checks["redis"] = "not configured (jobs run inline)"
    else:
        try:
            redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["redis"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" or v.startswith("not configured") for v in checks.values())
    response = jsonify(status="ok" if ready else "unavailable", checks=checks)
    response.status_code = 200 if ready else 503
    return response
