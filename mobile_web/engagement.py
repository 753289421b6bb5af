"""The resident's forest, streak and badges: on the home page and a small badges page."""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_babel import gettext as _
from flask_login import current_user

from backend.accounts.models import Role
from backend.actions.verification import RESIDENT_ACTIONS
from backend.auth import page_roles
from backend.engagement import queries
from backend.engagement.on_the_way import sources_on_the_way, waiting_records
from backend.i18n import action_name
from backend.timeutil import utcnow

from . import bp

resident_only = page_roles(Role.RESIDENT)

# Where each tree of a stage stands in the picture: (x, scale), drawn back to front.
LAYOUT: list[list[tuple[int, float]]] = [
    [],
    [],
    [(160, 0.45)],
    [(160, 0.7)],
    [(160, 1.0)],
    [(70, 0.6), (250, 0.6), (110, 0.8), (210, 0.8), (160, 1.0)],
    [
        (30, 0.5),
        (290, 0.5),
        (70, 0.6),
        (250, 0.6),
        (110, 0.8),
        (210, 0.8),
        (45, 0.75),
        (275, 0.75),
        (160, 1.0),
    ],
]
MAX_DONATED_DRAWN = 8


def milestone_name(code: str) -> str:
    kind, _sep, arg = code.partition(":")
    if kind == "first":
        return _("First %(action)s", action=action_name(arg))
    if kind == "kg":
        return _("%(kg)s kg CO2e reduced", kg=f"{int(arg):,}")
    if code == "first_donation":
        return _("First donation to a forest")
    if code == "first_team_goal":
        return _("First team goal reached")
    return code


def engagement(resident_id: int, grams: int | None = None) -> dict[str, Any]:
    """What the home page shows of the forest, the streak and the badges."""
    forest = queries.my_forest(resident_id, grams)
    donated = sum((d.trees for d in forest.donations), start=0)
    return {
        "forest": forest,
        "forest_trees": LAYOUT[forest.stage.number],
        "donated_drawn": min(MAX_DONATED_DRAWN, int(donated + (1 if donated % 1 else 0)))
        if forest.donations
        else 0,
        "streak": queries.weekly_streak(resident_id),
        "badges": [m for m in queries.milestones(resident_id, list(RESIDENT_ACTIONS)) if m.earned],
        "milestone_name": milestone_name,
    }


@bp.app_context_processor
def _rendered_at() -> dict[str, Any]:
    return {"rendered_at": utcnow}  # the offline note says when a saved page was made


@bp.get("/badges")
@resident_only
def badges() -> Any:
    return render_template(
        "mobile/badges.html",
        streak=queries.weekly_streak(current_user.id),
        items=queries.milestones(current_user.id, list(RESIDENT_ACTIONS)),
        milestone_name=milestone_name,
    )


@bp.get("/on-the-way")
@resident_only
def on_the_way() -> Any:
    return render_template(
        "mobile/on_the_way.html",
        sources=sources_on_the_way(current_user.id),
        waiting=waiting_records(current_user.id),
    )
