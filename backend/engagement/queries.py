"""The forest, the weekly streak and the milestones of one resident (read side only).

* The forest grows in stages with the resident's verified reductions (credited grams);
  each stage states the kilograms it stands for. Donations add the resident's share of the
  trees really planted by the projects they gave to, with planted and surviving counts.
* The streak counts Asia/Shanghai weeks (Monday to Sunday) with at least one credited
  action; a week without one yet does not break it until the week is over.
* Milestones: the first credited action of each type, 10 / 100 / 1,000 kg, the first
  donation and the first team goal reached. Badges are labels, never points.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..actions.models import Reduction
from ..events.models import Donation, PlantingPlan
from ..events.queries import donor_share, project
from ..extensions import db
from ..teams.queries import first_team_goal
from ..timeutil import local, utcnow

# (threshold in grams CO2e, name): a stage is reached when credited grams reach its threshold.
STAGES: list[tuple[int, Callable[[], str]]] = [
    (0, lambda: str(_l("a seed"))),
    (1_000, lambda: str(_l("a sprout"))),
    (10_000, lambda: str(_l("a sapling"))),
    (50_000, lambda: str(_l("a young tree"))),
    (100_000, lambda: str(_l("a tree"))),
    (500_000, lambda: str(_l("a grove"))),
    (1_000_000, lambda: str(_l("a forest"))),
]
KG_MILESTONES = (10_000, 100_000, 1_000_000)


@dataclass(frozen=True)
class Stage:
    number: int  # 0 .. len(STAGES) - 1
    threshold_g: int
    name: str
    reached: bool


@dataclass(frozen=True)
class DonatedTrees:
    plan_id: int
    site: str
    district: str
    points: int
    trees: Decimal  # the resident's share of the seedlings planted so far
    planted: int
    surviving: int  # at the latest checks
    checked: int  # seedlings whose survival was checked


@dataclass(frozen=True)
class Forest:
    grams: int
    stages: list[Stage]
    donations: list[DonatedTrees] = field(default_factory=list)

    @property
    def stage(self) -> Stage:
        return [s for s in self.stages if s.reached][-1]

    @property
    def next_stage(self) -> Stage | None:
        return next((s for s in self.stages if not s.reached), None)

    @property
    def to_next_g(self) -> int:
        nxt = self.next_stage
        return nxt.threshold_g - self.grams if nxt else 0


def stage_number(grams: int) -> int:
    return max(i for i, (threshold, _) in enumerate(STAGES) if grams >= threshold)


def credited_g(resident_id: int) -> int:
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(Reduction.credited_g), 0)).where(
                Reduction.resident_id == resident_id
            )
        )
        or 0
    )


def donated_trees(resident_id: int) -> list[DonatedTrees]:
    """Each project the resident gave to, with their share of its planted trees."""
    plan_ids = db.session.scalars(
        select(Donation.plan_id)
        .where(Donation.resident_id == resident_id)
        .group_by(Donation.plan_id)
        .order_by(func.min(Donation.id))
    ).all()
    out = []
    for plan_id in plan_ids:
        plan = db.session.get(PlantingPlan, plan_id)
        if plan is None:
            continue
        item = project(plan)
        share = donor_share(item, resident_id)
        if share is None:
            continue
        out.append(
            DonatedTrees(
                plan.id,
                plan.site,
                plan.district,
                share.points,
                share.trees,
                item.standing.planted_seedlings,
                item.standing.surviving_seedlings,
                item.standing.checked_seedlings,
            )
        )
    return out


def my_forest(resident_id: int, grams: int | None = None) -> Forest:
    """The resident's part of the city's 碳中和林, from credited grams and donations."""
    grams = credited_g(resident_id) if grams is None else grams
    stages = [
        Stage(i, threshold, name(), grams >= threshold)
        for i, (threshold, name) in enumerate(STAGES)
    ]
    return Forest(grams, stages, donated_trees(resident_id))


# --- the weekly streak -------------------------------------------------------------------


@dataclass(frozen=True)
class Streak:
    current: int  # consecutive weeks up to this one (or the last, if this one is still open)
    longest: int
    this_week: bool  # an action was credited this week


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def credited_days(resident_id: int) -> list[date]:
    """The local days with at least one credited action, oldest first."""
    rows = db.session.scalars(
        select(Reduction.local_day)
        .where(Reduction.resident_id == resident_id, Reduction.credited_g > 0)
        .group_by(Reduction.local_day)
        .order_by(Reduction.local_day)
    )
    return [date.fromisoformat(day) for day in rows]


def weekly_streak(resident_id: int, today: date | None = None) -> Streak:
    today = today or local(utcnow()).date()
    weeks = {monday(day) for day in credited_days(resident_id)}
    this_week = monday(today)
    week = this_week if this_week in weeks else this_week - timedelta(days=7)
    current = 0
    while week in weeks:
        current += 1
        week -= timedelta(days=7)
    longest = run = 0
    previous: date | None = None
    for week in sorted(weeks):
        run = run + 1 if previous is not None and week - previous == timedelta(days=7) else 1
        longest = max(longest, run)
        previous = week
    return Streak(current, longest, this_week in weeks)


# --- milestones --------------------------------------------------------------------------


@dataclass(frozen=True)
class Milestone:
    code: str  # first:<action> | kg:<10|100|1000> | first_donation | first_team_goal
    earned_on: date | None

    @property
    def earned(self) -> bool:
        return self.earned_on is not None


def _first_by_action(resident_id: int) -> dict[str, date]:
    rows = db.session.execute(
        select(Reduction.methodology_code, func.min(Reduction.local_day))
        .where(Reduction.resident_id == resident_id, Reduction.credited_g > 0)
        .group_by(Reduction.methodology_code)
    )
    return {code: date.fromisoformat(day) for code, day in rows}


def _kg_reached(resident_id: int) -> dict[int, date]:
    """The local day on which the credited total first reached each threshold."""
    rows = db.session.execute(
        select(Reduction.local_day, func.sum(Reduction.credited_g))
        .where(Reduction.resident_id == resident_id)
        .group_by(Reduction.local_day)
        .order_by(Reduction.local_day)
    )
    reached: dict[int, date] = {}
    total = 0
    for day, grams in rows:
        total += int(grams or 0)
        for threshold in KG_MILESTONES:
            if total >= threshold and threshold not in reached:
                reached[threshold] = date.fromisoformat(day)
    return reached


def _first_donation(resident_id: int) -> date | None:
    first = db.session.scalar(
        select(func.min(Donation.created_at)).where(Donation.resident_id == resident_id)
    )
    return local(first).date() if first is not None else None


def milestones(resident_id: int, actions: list[str]) -> list[Milestone]:
    """Every milestone, earned or not, in a stable order; ``actions`` are the action codes."""
    firsts = _first_by_action(resident_id)
    kilos = _kg_reached(resident_id)
    out = [Milestone(f"first:{code}", firsts.get(code)) for code in actions]
    out += [Milestone(f"kg:{t // 1000}", kilos.get(t)) for t in KG_MILESTONES]
    out.append(Milestone("first_donation", _first_donation(resident_id)))
    out.append(Milestone("first_team_goal", first_team_goal(resident_id)))
    return out
