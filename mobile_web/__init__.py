"""Resident, merchant-staff and organiser pages (mobile first)."""

from flask import Blueprint

bp = Blueprint("mobile", __name__, template_folder="templates")

# The view modules register their routes on ``bp``.
from . import account, actions, engagement, events, merchant, nearby  # noqa: E402,F401,I001
from . import notifications, privacy, rewards, teams, views  # noqa: E402,F401,I001
