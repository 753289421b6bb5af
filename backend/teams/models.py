"""Teams, their members and their pooled donations.

* ``Team``: a name, a kind and a district; joined by its ``invite_code`` (or its QR). Its goal
  is a number of points to give to a real planting project (an approved plan); the moment
  pooled donations reach it is kept in ``goal_reached_at``.
* ``TeamMember``: one membership; leaving sets ``left_at`` and keeps the row, so one's history
  (and the team's) stays. At most one open membership per resident and team (partial unique
  index). ``show_nickname``: whether the other members see one's nickname (else "a member").
* ``TeamDonation``: tags a resident's ordinary donation (``forest_donations``, one DONATE
  ledger entry) as given with a team: pooled donations move points through the ledger like
  any donation, and only that way.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..dbtypes import UTCDateTime, str_enum
from ..extensions import db
from ..timeutil import utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")


class TeamKind(enum.StrEnum):
    HOUSEHOLD = "household"
    COMMUNITY = "community"
    WORKPLACE = "workplace"
    CLASS = "class"


class Team(db.Model):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    kind: Mapped[TeamKind] = mapped_column(str_enum(TeamKind))
    district: Mapped[str] = mapped_column(String(10), index=True)
    invite_code: Mapped[str] = mapped_column(String(12), unique=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    goal_plan_id: Mapped[int | None] = mapped_column(ForeignKey("planting_plans.id"))
    goal_points: Mapped[int | None] = mapped_column(BigInteger)
    goal_reached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    goal_plan = relationship("PlantingPlan")
    members: Mapped[list[TeamMember]] = relationship(
        back_populates="team", order_by="TeamMember.id"
    )

    __table_args__ = (
        CheckConstraint("goal_points IS NULL OR goal_points > 0", name="goal_positive"),
    )


class TeamMember(db.Model):
    __tablename__ = "team_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    show_nickname: Mapped[bool] = mapped_column(Boolean, default=False)

    team: Mapped[Team] = relationship(back_populates="members")
    resident = relationship("User")

    __table_args__ = (
        Index("ix_team_members_team", "team_id", "left_at"),
        Index(
            "uq_team_members_open",
            "team_id",
            "resident_id",
            unique=True,
            sqlite_where=text("left_at IS NULL"),
            postgresql_where=text("left_at IS NULL"),
        ),
    )


class TeamDonation(db.Model):
    __tablename__ = "team_donations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    donation_id: Mapped[int] = mapped_column(BigId, ForeignKey("forest_donations.id"), unique=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    points: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (CheckConstraint("points > 0", name="points_positive"),)
