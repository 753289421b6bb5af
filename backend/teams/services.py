"""Creating, joining and leaving teams; the team goal and pooled donations (合种).

A pooled donation is an ordinary donation (``events.donations.donate_points``: one DONATE
ledger entry resident -> forest fund) to the team's goal project, tagged with the team; no
other team operation moves points. Idempotent by the caller's key: a retry returns the same
donation and repairs a missing tag.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..accounts.models import Role, User
from ..audit.services import record_audit
from ..errors import Forbidden
from ..events.donations import donate_points, get_project
from ..events.exceptions import UnknownProject
from ..events.previews import DonationPreview, preview_donation
from ..extensions import db
from ..notifications.models import NotificationKind
from ..notifications.services import notify
from ..qr import new_short_code, normalise_short_code
from ..timeutil import utcnow
from .exceptions import (
    AlreadyMember,
    InvalidGoal,
    InvalidTeam,
    NoTeamGoal,
    NotTeamCreator,
    UnknownTeam,
)
from .models import Team, TeamDonation, TeamKind, TeamMember
from .queries import open_membership, pooled_points

MAX_GOAL = 100_000_000


def _resident(user: User) -> None:
    if user.role is not Role.RESIDENT:
        raise Forbidden()


def create_team(resident: User, data: dict[str, Any]) -> Team:
    """A resident starts a team and is its first member."""
    _resident(resident)
    name = str(data.get("name") or "").strip()
    try:
        kind = TeamKind(str(data.get("kind") or ""))
    except ValueError:
        raise InvalidTeam(field="kind") from None
    if not 1 <= len(name) <= 40:
        raise InvalidTeam(field="name")
    team = Team(
        name=name,
        kind=kind,
        district=resident.district or "",
        invite_code=new_short_code(8),
        created_by_id=resident.id,
    )
    db.session.add(team)
    db.session.flush()
    db.session.add(TeamMember(team_id=team.id, resident_id=resident.id, joined_at=utcnow()))
    record_audit(resident, "team.create", "team", team.id)
    db.session.commit()
    return team


def team_by_code(code: str | None) -> Team:
    team: Team | None = db.session.scalar(
        select(Team).where(Team.invite_code == normalise_short_code(code))
    )
    if team is None:
        raise UnknownTeam(field="code")
    return team


def join_team(resident: User, code: str | None) -> Team:
    _resident(resident)
    team = team_by_code(code)
    if open_membership(resident.id, team.id) is not None:
        raise AlreadyMember()
    db.session.add(TeamMember(team_id=team.id, resident_id=resident.id, joined_at=utcnow()))
    record_audit(resident, "team.join", "team", team.id)
    db.session.commit()
    return team


def own_team(resident: User, team_id: int) -> tuple[Team, TeamMember]:
    """A team the resident is in now; any other team is not found (object access)."""
    member = open_membership(resident.id, team_id) if resident.role is Role.RESIDENT else None
    if member is None:
        raise UnknownTeam()
    return member.team, member


def leave_team(resident: User, team_id: int) -> Team:
    """Leave; the membership stays as history, and so do one's donations with the team."""
    team, member = own_team(resident, team_id)
    member.left_at = utcnow()
    record_audit(resident, "team.leave", "team", team.id)
    db.session.commit()
    return team


def set_nickname_shown(resident: User, team_id: int, shown: bool) -> TeamMember:
    _team, member = own_team(resident, team_id)
    member.show_nickname = bool(shown) and bool(resident.nickname)
    db.session.commit()
    return member


def set_goal(resident: User, team_id: int, plan_id: Any, points: Any) -> Team:
    """The creator points the team at a real planting project and a number of points."""
    team, _member = own_team(resident, team_id)
    if team.created_by_id != resident.id:
        raise NotTeamCreator()
    raw = str(points or "").strip()
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_GOAL or not str(plan_id or "").isdigit():
        raise InvalidGoal()
    try:
        plan = get_project(int(str(plan_id)))
    except UnknownProject as exc:  # unknown, or not an approved plan
        raise InvalidGoal(field="plan_id") from exc
    team.goal_plan_id, team.goal_points, team.goal_reached_at = plan.id, int(raw), None
    record_audit(resident, "team.goal", "team", team.id, plan_id=plan.id, points=int(raw))
    _check_goal(team)
    db.session.commit()
    return team


def _check_goal(team: Team) -> bool:
    """Mark the goal reached once pooled donations reach it; every member hears it."""
    if team.goal_points is None or team.goal_reached_at is not None:
        return False
    if pooled_points(team) < team.goal_points:
        return False
    team.goal_reached_at = utcnow()
    for member in team.members:
        if member.left_at is None:
            notify(
                member.resident_id,
                NotificationKind.TEAM_GOAL_REACHED,
                {"team_id": team.id, "name": team.name},
                key=f"team-goal:{team.id}:{team.goal_plan_id}:{team.goal_points}:{member.resident_id}",
            )
    return True


def preview_co_donation(resident: User, team_id: int, points: Any) -> DonationPreview:
    """The donation ``co_donate`` would make to the team's goal project, or its error."""
    team, _member = own_team(resident, team_id)
    if team.goal_plan_id is None:
        raise NoTeamGoal()
    return preview_donation(resident, team.goal_plan_id, points)


def co_donate(
    resident: User, team_id: int, points: Any, idempotency_key: str | None
) -> TeamDonation:
    """A member gives points to the team's goal project (合种): an ordinary donation, tagged."""
    team, _member = own_team(resident, team_id)
    if team.goal_plan_id is None:
        raise NoTeamGoal()
    donation = donate_points(
        resident,
        team.goal_plan_id,
        points,
        f"team:{team.id}:{idempotency_key or new_short_code(16)}",
    )
    tag = db.session.scalar(select(TeamDonation).where(TeamDonation.donation_id == donation.id))
    if tag is None:
        tag = TeamDonation(
            team_id=team.id,
            donation_id=donation.id,
            resident_id=resident.id,
            points=donation.points,
        )
        db.session.add(tag)
        db.session.flush()
        _check_goal(team)
        db.session.commit()
    return tag
