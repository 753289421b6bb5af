"""Read side of events: where an event's neutralisation stands, projects and donors."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select

from methodologies import afforestation as af

from ..actions.models import Reduction
from ..extensions import db
from ..methodology_versions.models import MethodologyVersion
from ..timeutil import local, utcnow
from . import claims, removals
from .claims import retired_g  # the one sum of the retirement register
from .models import (
    Donation,
    Event,
    FootprintStage,
    PlanStatus,
    Planting,
    PlantingPlan,
    ReductionRetirement,
)

AFFORESTATION = af.Afforestation()


def _unretired() -> Any:
    return (
        select(Reduction.id, Reduction.resident_id, Reduction.credited_g)
        .outerjoin(ReductionRetirement, ReductionRetirement.reduction_id == Reduction.id)
        .where(ReductionRetirement.id.is_(None), Reduction.credited_g > 0)
    )


def pool_g() -> int:
    """Grams of verified reductions not yet retired."""
    sub = _unretired().subquery()
    return int(db.session.scalar(select(func.coalesce(func.sum(sub.c.credited_g), 0))) or 0)


def events_of(organiser_id: int) -> list[Event]:
    return list(
        db.session.scalars(
            select(Event)
            .where(Event.organiser_id == organiser_id)
            .order_by(Event.starts_on.desc(), Event.id.desc())
        )
    )


def all_events() -> list[Event]:
    return list(db.session.scalars(select(Event).order_by(Event.starts_on.desc(), Event.id.desc())))


def plans_awaiting_review() -> list[PlantingPlan]:
    return list(
        db.session.scalars(
            select(PlantingPlan)
            .where(PlantingPlan.status == PlanStatus.SUBMITTED)
            .order_by(PlantingPlan.submitted_at, PlantingPlan.id)
        )
    )


def retirements_of(event_id: int) -> list[ReductionRetirement]:
    return list(
        db.session.scalars(
            select(ReductionRetirement)
            .where(ReductionRetirement.event_id == event_id)
            .order_by(ReductionRetirement.id)
        )
    )


def projects() -> list[PlantingPlan]:
    """Approved plans (planting projects), newest first."""
    return list(
        db.session.scalars(
            select(PlantingPlan)
            .where(PlantingPlan.status == PlanStatus.APPROVED)
            .order_by(PlantingPlan.reviewed_at.desc(), PlantingPlan.id.desc())
        )
    )


# --- where the neutralisation stands -----------------------------------------------------


def _params(version_id: int) -> dict[str, Decimal]:
    version = db.session.get(MethodologyVersion, version_id)
    assert version is not None
    return version.decimal_params()


def _removal(species: str, area_mu: str, planted_year: int, age: int, params: Any) -> int:
    """Net removal (after the methodology's deductions) of a block at ``age`` years."""
    if age <= 0:
        return 0
    activity = {
        "species_mix": [{"species": species, "share": 1}],
        "area_mu": area_mu,
        "planting_year": planted_year,
        "horizon_years": min(age, af.MAX_HORIZON),
    }
    return AFFORESTATION.quantify(activity, params).reduction_g


@dataclass(frozen=True)
class Block:
    """One planted block, its projected removal at the plan's horizon and its survival."""

    planting: Planting
    projected_g: int
    to_date_g: int
    survival: Decimal | None  # surviving / planted at the latest check; None if unchecked
    factor: Decimal  # share of the projection the survival supports (1 if unchecked)

    @property
    def surviving_projected_g(self) -> int:
        return int((self.projected_g * self.factor).to_integral_value(rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Standing:
    """An event's neutralisation, told honestly: committed (approved, ex-ante), planted and
    surviving are kept apart; only retirements are realised reductions."""

    event: Event
    emissions_g: int | None
    basis: FootprintStage | None
    retired_g: int
    plan: PlantingPlan | None  # the approved plan, else the newest live one
    committed_g: int  # projected removal of the approved plan at its horizon
    blocks: list[Block] = field(default_factory=list)
    expected_survival: Decimal = Decimal(1)
    measured_g: int = 0  # measured forest removals counted for the event (claims.py)
    claim: claims.Standing | None = None  # which claim the event may make today

    @property
    def pledged_g(self) -> int:
        """The plan's projection not yet measured: pledged, never counted."""
        return max(0, self.committed_g - self.measured_g)

    @property
    def approved(self) -> bool:
        return self.plan is not None and self.plan.status is PlanStatus.APPROVED

    @property
    def covered_g(self) -> int:
        """What counts: retired reductions plus measured forest removals (never the plan's
        projection, which is pledged)."""
        return self.retired_g + self.measured_g

    @property
    def covered(self) -> bool:
        return self.emissions_g is not None and self.covered_g >= self.emissions_g > 0

    @property
    def retired_beyond_g(self) -> int:
        """Grams retired beyond the footprint. Reductions are retired whole, so the last one
        may over-cover it: shown wherever the coverage is, never hidden."""
        if self.emissions_g is None:
            return 0
        return max(0, self.retired_g - self.emissions_g)

    @property
    def shortfall_g(self) -> int:
        return max(0, (self.emissions_g or 0) - self.covered_g)

    @property
    def planted_area_mu(self) -> Decimal:
        return sum((Decimal(b.planting.area_mu) for b in self.blocks), Decimal(0))

    @property
    def planted_seedlings(self) -> int:
        return sum(b.planting.seedlings for b in self.blocks)

    @property
    def checked_seedlings(self) -> int:
        return sum(b.planting.seedlings for b in self.blocks if b.survival is not None)

    @property
    def surviving_seedlings(self) -> int:
        return sum(
            b.planting.latest_check.surviving
            for b in self.blocks
            if b.planting.latest_check is not None
        )

    @property
    def unchecked_blocks(self) -> int:
        return sum(1 for b in self.blocks if b.survival is None)

    @property
    def survival_rate(self) -> Decimal | None:
        if not self.checked_seedlings:
            return None
        return Decimal(self.surviving_seedlings) / Decimal(self.checked_seedlings)

    @property
    def planted_projected_g(self) -> int:
        return sum(b.projected_g for b in self.blocks)

    @property
    def surviving_projected_g(self) -> int:
        return sum(b.surviving_projected_g for b in self.blocks)

    @property
    def to_date_g(self) -> int:
        """Estimated removal so far by the trees in the ground (model, survival-adjusted)."""
        return sum(
            int((b.to_date_g * b.factor).to_integral_value(rounding=ROUND_HALF_UP))
            for b in self.blocks
        )

    @property
    def status(self) -> str:
        """no_footprint | no_plan | draft | submitted | returned | retired_only | committed |
        partly_planted | planted | survival_short (fully planted, but what survives no longer
        projects the committed removal)."""
        if self.emissions_g is None:
            return "no_footprint"
        if self.plan is None:
            return "retired_only" if self.retired_g >= self.emissions_g > 0 else "no_plan"
        if not self.approved:
            return self.plan.status.value
        if not self.blocks:
            return "committed"
        if self.planted_area_mu < self.plan.area_mu_decimal:
            return "partly_planted"
        # Each block's projection is rounded to grams once: allow that much slack.
        if self.surviving_projected_g + len(self.blocks) < self.committed_g:
            return "survival_short"
        return "planted"

    @property
    def stale_plan(self) -> bool:
        """The plan was sized on a footprint that is no longer the one in force."""
        current = self.event.current_footprint
        return (
            self.plan is not None and current is not None and self.plan.footprint_id != current.id
        )

    def snapshot(self) -> dict[str, Any]:
        """What a certificate certifies, frozen at issue."""
        plan = self.plan if self.approved else None
        serials = [r.serial for r in retirements_of(self.event.id)]
        forest = [
            {"serial": c.serial, "kind": c.kind.value, "grams": c.grams}
            for c in removals.credits_of_event(self.event.id)
        ]
        return {
            "event": {
                "name": self.event.name,
                "venue": self.event.venue,
                "district": self.event.district,
                "starts_on": self.event.starts_on.isoformat(),
                "ends_on": self.event.ends_on.isoformat(),
            },
            "emissions_g": self.emissions_g,
            "basis": self.basis.value if self.basis else None,
            "retired_g": self.retired_g,
            "retired_beyond_g": self.retired_beyond_g,
            "retirements": len(serials),
            "retirement_serials": [serials[0], serials[-1]] if serials else [],
            "committed_g": self.committed_g,
            "measured_g": self.measured_g,
            "pledged_g": self.pledged_g,
            "forest_credits": forest,
            "deadline": self.claim.deadline.isoformat() if self.claim else None,
            "completed_at": self.claim.completed_at.isoformat()
            if self.claim and self.claim.completed_at
            else None,
            "plan": None
            if plan is None
            else {
                "id": plan.id,
                "district": plan.district,
                "site": plan.site,
                "species_mix": plan.species_mix,
                "area_mu": plan.area_mu,
                "area_ha": plan.area_ha,
                "seedlings": plan.seedlings,
                "planting_year": plan.planting_year,
                "horizon_years": plan.horizon_years,
                "break_even_year": plan.break_even_year,
                "params_hash": plan.params_hash,
            },
            "planted_area_mu": str(self.planted_area_mu),
            "planted_seedlings": self.planted_seedlings,
            "surviving_seedlings": self.surviving_seedlings,
            "checked_seedlings": self.checked_seedlings,
            "status": self.status,
        }


def _blocks(plan: PlantingPlan, params: Any, expected: Decimal) -> list[Block]:
    year_now = local(utcnow()).year
    out = []
    for planting in plan.plantings:
        planted_year = planting.planted_on.year
        projected = _removal(
            planting.species, planting.area_mu, planted_year, plan.horizon_years, params
        )
        to_date = _removal(
            planting.species,
            planting.area_mu,
            planted_year,
            min(year_now - planted_year, plan.horizon_years),
            params,
        )
        check = planting.latest_check
        if check is None:
            survival, factor = None, Decimal(1)
        else:
            survival = Decimal(check.surviving) / Decimal(planting.seedlings)
            factor = min(Decimal(1), survival / expected) if expected > 0 else Decimal(1)
        out.append(Block(planting, projected, to_date, survival, factor))
    return out


def standing(event: Event) -> Standing:
    footprint = event.current_footprint
    plan = event.latest_plan
    approved = plan is not None and plan.status is PlanStatus.APPROVED
    blocks: list[Block] = []
    expected = Decimal(1)
    if approved and plan is not None:
        params = _params(plan.version_id)
        expected = 1 - params["deduction.survival"]
        blocks = _blocks(plan, params, expected)
    return Standing(
        event=event,
        emissions_g=footprint.total_g if footprint else None,
        basis=footprint.stage if footprint else None,
        retired_g=retired_g(event.id),
        plan=plan,
        committed_g=plan.removal_g if approved and plan is not None else 0,
        blocks=blocks,
        expected_survival=expected,
        measured_g=claims.measured_g(event.id),
        claim=claims.claim_of(event),
    )


# --- planting projects and donors --------------------------------------------------------


@dataclass(frozen=True)
class Project:
    plan: PlantingPlan
    standing: Standing
    funds_points: int
    donors: int


def project(plan: PlantingPlan) -> Project:
    funds, donors = db.session.execute(
        select(
            func.coalesce(func.sum(Donation.points), 0),
            func.count(func.distinct(Donation.resident_id)),
        ).where(Donation.plan_id == plan.id)
    ).one()
    return Project(plan, standing(plan.event), int(funds or 0), int(donors or 0))


@dataclass(frozen=True)
class DonorShare:
    points: int
    share: Decimal  # of all points donated to the project, 0..1
    trees: Decimal  # the share of the seedlings planted so far, to 0.1 tree


def donor_share(item: Project, resident_id: int) -> DonorShare | None:
    mine = int(
        db.session.scalar(
            select(func.coalesce(func.sum(Donation.points), 0)).where(
                Donation.plan_id == item.plan.id, Donation.resident_id == resident_id
            )
        )
        or 0
    )
    if not mine or not item.funds_points:
        return None
    share = Decimal(mine) / Decimal(item.funds_points)
    trees = (share * item.standing.planted_seedlings).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )
    return DonorShare(mine, share, trees)


def donations_of(resident_id: int) -> list[Donation]:
    return list(
        db.session.scalars(
            select(Donation).where(Donation.resident_id == resident_id).order_by(Donation.id.desc())
        )
    )
