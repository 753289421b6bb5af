"""The administrators' console (desktop first)."""

from flask import Blueprint

bp = Blueprint("admin", __name__, template_folder="templates")

from . import (
    methodologies,  # noqa: E402,F401
    views,  # noqa: E402,F401
)
