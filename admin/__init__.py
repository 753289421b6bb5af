"""The administrators' console (desktop first)."""

from flask import Blueprint

bp = Blueprint("admin", __name__, template_folder="templates")

from . import views  # noqa: E402,F401
from . import methodologies  # noqa: E402,F401
