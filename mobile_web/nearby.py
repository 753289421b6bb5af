"""Nearby: stations, restaurants and merchants with offers, by distance or by district."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask_login import current_user

from backend.accounts.models import Role
from backend.auth import page_roles
from backend.config import DISTRICTS
from backend.nearby.queries import nearby as nearby_places
from backend.nearby.queries import parse_point

from . import bp


@bp.get("/nearby")
@page_roles(Role.RESIDENT)
def nearby() -> Any:
    point = parse_point(request.args.get("lat"), request.args.get("lon"))
    district = request.args.get("district") or current_user.district
    if district not in DISTRICTS:
        district = current_user.district
    return render_template(
        "mobile/nearby.html",
        places=nearby_places(district, point),
        point=point,
        district=district,
    )
