"""The administrators' console (desktop first)."""

from flask import Blueprint

bp = Blueprint("admin", __name__, template_folder="templates")

# The view modules register their routes on ``bp``.
from . import actions, dashboard, events, merchants, methodologies, people, views  # noqa: E402,F401,I001
