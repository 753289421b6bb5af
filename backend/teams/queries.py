"""Read side of teams: one's teams, a team's page, district rankings, the goal milestone.

A team's total is what its members had credited while they were members (reductions
credited between joining and leaving), so leaving keeps both one's history and the team's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, func, or_, select

from ..actions.models import Reduction
from ..events.models import Donation
from ..extensions import db
from ..timeutil import local
from .models import Team, TeamDonation, TeamMember


def _while_member() -> Any:
    return and_(
        Reduction.resident_id == TeamMember.resident_id,
        Reduction.created_at >= TeamMember.joined_at,
        or_(TeamMember.left_at.is_(None), Reduction.created_at < TeamMember.left_at),
    )


def open_membership(resident_id: int, team_id: int) -> TeamMember | None:
    return db.session.scalar(
        select(TeamMember).where(
            TeamMember.team_id == team_id,
            TeamMember.resident_id == resident_id,
            TeamMember.left_at.is_(None),
        )
    )


def memberships_of(resident_id: int) -> list[TeamMember]:
    """The resident's memberships, open ones first, newest first."""
    return list(
        db.session.scalars(
            select(TeamMember)
            .where(TeamMember.resident_id == resident_id)
            .order_by(TeamMember.left_at.is_not(None), TeamMember.id.desc())
        )
    )


def team_total_g(team_id: int) -> int:
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(Reduction.credited_g), 0))
            .select_from(TeamMember)
            .join(Reduction, _while_member())
            .where(TeamMember.team_id == team_id)
        )
        or 0
    )


def member_total_g(member: TeamMember) -> int:
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(Reduction.credited_g), 0))
            .select_from(TeamMember)
            .join(Reduction, _while_member())
            .where(TeamMember.id == member.id)
        )
        or 0
    )


def pooled_points(team: Team) -> int:
    """Points the team's members gave together toward its goal project."""
    if team.goal_plan_id is None:
        return 0
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(TeamDonation.points), 0))
            .join(Donation, Donation.id == TeamDonation.donation_id)
            .where(TeamDonation.team_id == team.id, Donation.plan_id == team.goal_plan_id)
        )
        or 0
    )


@dataclass(frozen=True)
class MemberRow:
    name: str | None  # None: the member keeps their nickname to themselves
    is_me: bool


@dataclass(frozen=True)
class TeamPage:
    team: Team
    members: list[MemberRow]
    total_g: int
    pooled: int
    my_pooled: int

    @property
    def progress(self) -> float:
        if not self.team.goal_points:
            return 0.0
        return min(1.0, self.pooled / self.team.goal_points)


def team_page(team: Team, resident_id: int) -> TeamPage:
    members = [
        MemberRow(
            m.resident.nickname if (m.show_nickname or m.resident_id == resident_id) else None,
            m.resident_id == resident_id,
        )
        for m in team.members
        if m.left_at is None and m.resident.deleted_at is None
    ]
    mine = int(
        db.session.scalar(
            select(func.coalesce(func.sum(TeamDonation.points), 0)).where(
                TeamDonation.team_id == team.id, TeamDonation.resident_id == resident_id
            )
        )
        or 0
    )
    return TeamPage(team, members, team_total_g(team.id), pooled_points(team), mine)


def district_rankings(district: str, limit: int = 20) -> list[tuple[str, str, int]]:
    """Teams of a district by their members' credited reductions: (name, kind, grams)."""
    total = func.coalesce(func.sum(Reduction.credited_g), 0)
    rows = db.session.execute(
        select(Team.name, Team.kind, total)
        .select_from(Team)
        .join(TeamMember, TeamMember.team_id == Team.id)
        .outerjoin(Reduction, _while_member())
        .where(Team.district == district)
        .group_by(Team.id, Team.name, Team.kind)
        .order_by(total.desc(), Team.id)
        .limit(limit)
    )
    return [
        (name, kind.value if hasattr(kind, "value") else kind, int(g)) for name, kind, g in rows
    ]


def first_team_goal(resident_id: int) -> date | None:
    """When a team the resident belonged to at that moment first reached its goal."""
    when = db.session.scalar(
        select(func.min(Team.goal_reached_at))
        .join(TeamMember, TeamMember.team_id == Team.id)
        .where(
            TeamMember.resident_id == resident_id,
            Team.goal_reached_at.is_not(None),
            TeamMember.joined_at <= Team.goal_reached_at,
            or_(TeamMember.left_at.is_(None), TeamMember.left_at > Team.goal_reached_at),
        )
    )
    return local(when).date() if when is not None else None
