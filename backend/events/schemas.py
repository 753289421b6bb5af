from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from ..schemas import MAX_INT
from . import removals
from .models import FootprintStage, PlanStatus
from .queries import standing


class EventCreateSchema(Schema):
    name = fields.String(required=True, metadata={"example": "2027 衢州数字经济大会"})
    venue = fields.String(required=True)
    district = fields.String(required=True, metadata={"example": "柯城区"})
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    expected_participants = fields.Integer(required=True, strict=True)


class FootprintLineSchema(Schema):
    """One emission source (see the event_footprint methodology's activity contract)."""

    category = fields.String(required=True, metadata={"example": "travel"})
    kind = fields.String(required=True, metadata={"example": "hsr"})
    unit = fields.String(load_default=None, allow_none=True)
    amount = fields.Raw(load_default=None, allow_none=True, metadata={"type": "number"})
    travellers = fields.Raw(load_default=None, allow_none=True, metadata={"type": "integer"})
    trips = fields.Raw(load_default=None, allow_none=True, metadata={"type": "integer"})
    distance_km = fields.Raw(load_default=None, allow_none=True, metadata={"type": "number"})


class FootprintCreateSchema(Schema):
    lines = fields.List(fields.Nested(FootprintLineSchema), required=True)
    participants = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        metadata={"description": "defaults to the expected participants (planned stage)"},
    )


class FootprintSchema(Schema):
    id = fields.Integer()
    stage = fields.Function(
        lambda f: f.stage.value, metadata={"enum": [s.value for s in FootprintStage]}
    )
    participants = fields.Integer(allow_none=True)
    total_g = fields.Integer()
    per_participant_g = fields.Integer(allow_none=True)
    version_id = fields.Integer()
    module_version = fields.String()
    params_hash = fields.String()
    created_at = fields.DateTime()
    lines = fields.Function(lambda f: f.result["lines"])
    subtotals_g = fields.Function(lambda f: f.result["subtotals_g"])


class MixItemSchema(Schema):
    species = fields.String(required=True, metadata={"example": "chinese_fir"})
    share = fields.Raw(required=True, metadata={"type": "number", "example": 1})


class PlanCreateSchema(Schema):
    district = fields.String(required=True)
    site = fields.String(required=True, metadata={"example": "衢江区 某乡 某村 宜林荒山"})
    species_mix = fields.List(fields.Nested(MixItemSchema), required=True)
    planting_year = fields.Integer(required=True, strict=True)
    horizon_years = fields.Integer(load_default=20, strict=True)


class PlanSchema(Schema):
    id = fields.Integer()
    event_id = fields.Integer()
    status = fields.Function(
        lambda p: p.status.value, metadata={"enum": [s.value for s in PlanStatus]}
    )
    district = fields.String()
    site = fields.String()
    species_mix = fields.List(fields.Dict())
    planting_year = fields.Integer()
    horizon_years = fields.Integer()
    emissions_g = fields.Integer()
    retired_g = fields.Integer()
    target_g = fields.Integer()
    area_mu = fields.String()
    area_ha = fields.String()
    seedlings = fields.Integer()
    seedlings_by_species = fields.Dict()
    removal_g = fields.Integer()
    break_even_age = fields.Integer()
    break_even_year = fields.Integer()
    curve = fields.List(fields.Dict())
    footprint_id = fields.Integer()
    version_id = fields.Integer()
    module_version = fields.String()
    params_hash = fields.String()
    review_comment = fields.String()


class StandingSchema(Schema):
    status = fields.String()
    emissions_g = fields.Integer(allow_none=True)
    basis = fields.Function(lambda s: s.basis.value if s.basis else None)
    retired_g = fields.Integer()
    committed_g = fields.Integer()
    covered = fields.Boolean()
    shortfall_g = fields.Integer()
    planted_area_mu = fields.Function(lambda s: str(s.planted_area_mu))
    planted_seedlings = fields.Integer()
    surviving_seedlings = fields.Integer()
    checked_seedlings = fields.Integer()
    planted_projected_g = fields.Integer()
    surviving_projected_g = fields.Integer()
    measured_g = fields.Integer(
        metadata={"description": "measured forest removals counted for the event"}
    )
    pledged_g = fields.Integer(
        metadata={"description": "the plan's projection not yet measured: not counted"}
    )
    claim = fields.Function(
        lambda s: s.claim.claim.value if s.claim else None,
        metadata={
            "enum": [
                "neutral",
                "suspended",
                "covered",
                "in_progress",
                "open",
                "not_neutral",
                "no_footprint",
            ]
        },
    )
    deadline = fields.Function(lambda s: s.claim.deadline.isoformat() if s.claim else None)
    completed_at = fields.Function(
        lambda s: s.claim.completed_at.isoformat() if s.claim and s.claim.completed_at else None
    )


class EventSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    venue = fields.String()
    district = fields.String()
    starts_on = fields.Date()
    ends_on = fields.Date()
    expected_participants = fields.Integer()
    planned = fields.Method("get_planned", allow_none=True)
    actual = fields.Method("get_actual", allow_none=True)
    plan = fields.Method("get_plan", allow_none=True)
    standing = fields.Method("get_standing")
    certificate = fields.Method("get_certificate", allow_none=True)

    def _footprint(self, event: Any, stage: FootprintStage) -> Any:
        row = event.footprint(stage)
        return FootprintSchema().dump(row) if row else None

    def get_planned(self, event: Any) -> Any:
        return self._footprint(event, FootprintStage.PLANNED)

    def get_actual(self, event: Any) -> Any:
        return self._footprint(event, FootprintStage.ACTUAL)

    def get_plan(self, event: Any) -> Any:
        plan = event.latest_plan
        return PlanSchema().dump(plan) if plan else None

    def get_standing(self, event: Any) -> Any:
        return StandingSchema().dump(standing(event))

    def get_certificate(self, event: Any) -> Any:
        return CertificateSchema().dump(event.certificate) if event.certificate else None


class RetireSchema(Schema):
    grams = fields.Integer(
        required=True, strict=True, metadata={"description": "grams CO2e to cover"}
    )


class RetirementSchema(Schema):
    serial = fields.String(metadata={"example": "QZCI-R-2026-000001"})
    reduction_id = fields.Integer()
    grams = fields.Integer()
    retired_at = fields.DateTime()


class PlanReviewSchema(Schema):
    comment = fields.String(load_default="")


class PlantingCreateSchema(Schema):
    planted_on = fields.Date(required=True)
    species = fields.String(required=True)
    area_mu = fields.Decimal(required=True, as_string=True)
    seedlings = fields.Integer(required=True, strict=True)
    location = fields.String(required=True)


class SurvivalCheckSchema(Schema):
    id = fields.Integer()
    checked_on = fields.Date()
    surviving = fields.Integer()
    note = fields.String()


class SurvivalCheckCreateSchema(Schema):
    checked_on = fields.Date(required=True)
    surviving = fields.Integer(required=True, strict=True)
    note = fields.String(load_default="")


class PlantingSchema(Schema):
    id = fields.Integer()
    plan_id = fields.Integer()
    planted_on = fields.Date()
    species = fields.String()
    area_mu = fields.String()
    seedlings = fields.Integer()
    location = fields.String()
    photos = fields.Function(lambda p: len(p.photos))
    checks = fields.List(fields.Nested(SurvivalCheckSchema))


class CertificateSchema(Schema):
    serial = fields.String()
    verify_code = fields.String()
    issued_at = fields.DateTime()
    snapshot = fields.Dict()
    status = fields.Function(lambda c: c.status.value, metadata={"enum": ["valid", "suspended"]})
    status_reason = fields.Dict(metadata={"description": "why it is suspended, zh_CN and en"})
    status_changed_at = fields.DateTime(allow_none=True)


class PlotSchema(Schema):
    """One sample plot: its area and either its measured stem volume, or its trees with
    their mean DBH and height (the afforestation methodology's monitoring parameters)."""

    area_m2 = fields.Raw(required=True, metadata={"type": "number", "example": 400})
    stock_m3 = fields.Raw(load_default=None, allow_none=True, metadata={"type": "number"})
    trees = fields.Raw(load_default=None, allow_none=True, metadata={"type": "integer"})
    mean_dbh_cm = fields.Raw(load_default=None, allow_none=True, metadata={"type": "number"})
    mean_height_m = fields.Raw(load_default=None, allow_none=True, metadata={"type": "number"})


class MeasurementCreateSchema(Schema):
    measured_on = fields.Date(required=True)
    plots = fields.List(fields.Nested(PlotSchema), required=True)
    trees_alive = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        metadata={"description": "living trees of the block; default: the latest survival check"},
    )
    note = fields.String(load_default="")


class ForestCreditSchema(Schema):
    serial = fields.String(metadata={"example": "QZCI-F-2027-000001"})
    kind = fields.Function(
        lambda c: c.kind.value,
        metadata={"enum": ["counted", "buffer", "cancel_buffer", "cancel_counted"]},
    )
    grams = fields.Integer()
    event_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class MeasurementSchema(Schema):
    id = fields.Integer()
    planting_id = fields.Integer()
    measured_on = fields.Date()
    trees_alive = fields.Integer()
    volume_per_ha = fields.String()
    stock_g = fields.Integer()
    basis_g = fields.Integer()
    steps = fields.Function(lambda m: m.result.get("steps", []))
    module_version = fields.String()
    params_hash = fields.String()
    credits = fields.Method("get_credits")

    def get_credits(self, m: Any) -> Any:
        return ForestCreditSchema(many=True).dump(
            [c for c in removals.credits_of_planting(m.planting_id) if c.measurement_id == m.id]
        )


class ProjectSchema(Schema):
    id = fields.Function(lambda p: p.plan.id)
    event_name = fields.Function(lambda p: p.plan.event.name)
    district = fields.Function(lambda p: p.plan.district)
    site = fields.Function(lambda p: p.plan.site)
    species_mix = fields.Function(lambda p: p.plan.species_mix)
    area_mu = fields.Function(lambda p: p.plan.area_mu)
    seedlings_planned = fields.Function(lambda p: p.plan.seedlings)
    planting_year = fields.Function(lambda p: p.plan.planting_year)
    funds_points = fields.Integer()
    donors = fields.Integer()
    trees_planted = fields.Function(lambda p: p.standing.planted_seedlings)
    trees_checked = fields.Function(lambda p: p.standing.checked_seedlings)
    trees_surviving = fields.Function(lambda p: p.standing.surviving_seedlings)
    status = fields.Function(lambda p: p.standing.status)


class DonateSchema(Schema):
    points = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_INT))


class DonationSchema(Schema):
    id = fields.Integer()
    plan_id = fields.Integer()
    points = fields.Integer()
    created_at = fields.DateTime()
