"""Resident, merchant-staff and organiser pages (mobile first)."""

from flask import Blueprint

bp = Blueprint("mobile", __name__, template_folder="templates")

from . import views  # noqa: E402,F401
