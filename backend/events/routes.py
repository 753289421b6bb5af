"""Carbon-neutral events API: organisers' events, footprints, plans and retirements;
administrators' review and follow-through; public certificates and planting projects;
residents' donations."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from ..accounts.models import Role
from ..auth import api_roles, api_user
from ..schemas import IdempotencyHeaderSchema
from . import certificates, donations, forest, queries, removals, retirements, services
from .schemas import (
    CertificateSchema,
    DonateSchema,
    DonationSchema,
    EventCreateSchema,
    EventSchema,
    FootprintCreateSchema,
    FootprintSchema,
    ForestCreditSchema,
    MeasurementCreateSchema,
    MeasurementSchema,
    PlanCreateSchema,
    PlanReviewSchema,
    PlanSchema,
    PlantingCreateSchema,
    PlantingSchema,
    ProjectSchema,
    RetirementSchema,
    RetireSchema,
    SurvivalCheckCreateSchema,
    SurvivalCheckSchema,
)

blp = Blueprint(
    "events",
    __name__,
    url_prefix="/api/v1",
    description="Carbon-neutral events: footprints, planting plans, retirements, certificates",
)
organiser_only = api_roles(Role.ORGANISER)
organiser_or_admin = api_roles(Role.ORGANISER, Role.ADMIN)
admin_only = api_roles(Role.ADMIN)
resident_only = api_roles(Role.RESIDENT)


@blp.route("/events")
class Events(MethodView):
    @organiser_only
    @blp.response(200, EventSchema(many=True))
    def get(self) -> Any:
        """Your events, latest first."""
        return queries.events_of(api_user().id)

    @organiser_only
    @blp.arguments(EventCreateSchema)
    @blp.response(201, EventSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create an event (name, dates, venue, district, expected participants)."""
        return services.create_event(api_user(), data)


@blp.route("/events/<int:event_id>")
class EventDetail(MethodView):
    @organiser_or_admin
    @blp.response(200, EventSchema)
    def get(self, event_id: int) -> Any:
        """One of your events with its footprints, plan and where its neutralisation stands."""
        return services.own_event(api_user(), event_id)


@blp.route("/events/<int:event_id>/footprints/<any(planned, actual):stage>")
class Footprints(MethodView):
    @organiser_only
    @blp.arguments(FootprintCreateSchema)
    @blp.response(201, FootprintSchema)
    def post(self, data: dict[str, Any], event_id: int, stage: str) -> Any:
        """Record the planned (estimate) or, after the event, the actual activity data;
        the answer is the emissions table per source."""
        return services.record_footprint(
            api_user(), event_id, stage, data["lines"], data["participants"]
        )


@blp.route("/events/<int:event_id>/plans")
class Plans(MethodView):
    @organiser_only
    @blp.arguments(PlanCreateSchema)
    @blp.response(201, PlanSchema)
    def post(self, data: dict[str, Any], event_id: int) -> Any:
        """Size a 碳中和林 plan (area, seedlings, break-even) for the event's footprint."""
        return forest.create_plan(api_user(), event_id, data)


@blp.route("/plans/<int:plan_id>/submit")
class SubmitPlan(MethodView):
    @organiser_only
    @blp.response(200, PlanSchema)
    def post(self, plan_id: int) -> Any:
        """Send a draft plan to the administrators for review."""
        return forest.submit_plan(api_user(), plan_id)


@blp.route("/events/<int:event_id>/retirements")
class Retirements(MethodView):
    @organiser_or_admin
    @blp.response(200, RetirementSchema(many=True))
    def get(self, event_id: int) -> Any:
        """The reductions retired for the event, with their serial numbers."""
        event = services.own_event(api_user(), event_id)
        return queries.retirements_of(event.id)

    @organiser_only
    @blp.arguments(RetireSchema)
    @blp.arguments(IdempotencyHeaderSchema, location="headers")
    @blp.response(201, RetirementSchema(many=True))
    def post(self, data: dict[str, Any], headers: dict[str, Any], event_id: int) -> Any:
        """Retire verified 碳普惠 reductions from the pool (oldest first, each whole and at most
        once) to cover ``grams`` of the footprint; each retirement is also a RETIRE ledger
        entry (grams CO2e, pool -> retirement) keyed by its serial number. The grams returned
        may exceed ``grams``: the last reduction is retired whole. A repeated Idempotency-Key
        returns the first result."""
        return retirements.retire_reductions(
            api_user(), event_id, data["grams"], headers["idempotency_key"]
        )


@blp.route("/admin/plans/<int:plan_id>/<any(approve, return):decision>")
class ReviewPlan(MethodView):
    @admin_only
    @blp.arguments(PlanReviewSchema)
    @blp.response(200, PlanSchema)
    def post(self, data: dict[str, Any], plan_id: int, decision: str) -> Any:
        """Approve a submitted plan, or return it with a comment."""
        return forest.review_plan(api_user(), plan_id, decision == "approve", data["comment"])


@blp.route("/admin/plans/<int:plan_id>/plantings")
class Plantings(MethodView):
    @admin_only
    @blp.arguments(PlantingCreateSchema)
    @blp.response(201, PlantingSchema)
    def post(self, data: dict[str, Any], plan_id: int) -> Any:
        """Record a block actually planted (photos are added on the admin console)."""
        return forest.record_planting(api_user(), plan_id, data)


@blp.route("/admin/plantings/<int:planting_id>/survival-checks")
class SurvivalChecks(MethodView):
    @admin_only
    @blp.arguments(SurvivalCheckCreateSchema)
    @blp.response(201, SurvivalCheckSchema)
    def post(self, data: dict[str, Any], planting_id: int) -> Any:
        """Record a survival check of a planted block."""
        return forest.record_survival_check(api_user(), planting_id, data)


@blp.route("/admin/plantings/<int:planting_id>/measurements")
class Measurements(MethodView):
    @admin_only
    @blp.response(200, MeasurementSchema(many=True))
    def get(self, planting_id: int) -> Any:
        """A planted block's growth measurements with the forest credits each made."""
        return removals.measurements_of(removals.get_planting(planting_id).id)

    @admin_only
    @blp.arguments(MeasurementCreateSchema)
    @blp.response(201, MeasurementSchema)
    def post(self, data: dict[str, Any], planting_id: int) -> Any:
        """Record a growth measurement (sample plots); the stock above what the block has had
        credited is split between the pooled buffer (``buffer.share``) and counted removals
        for the event, each with a serial and a ledger entry; a lower stock is a reversal
        (buffer first)."""
        return removals.record_growth_measurement(
            api_user(),
            planting_id,
            data["measured_on"],
            data["plots"],
            data["trees_alive"],
            data["note"],
        )


@blp.route("/events/<int:event_id>/forest-credits")
class EventForestCredits(MethodView):
    @organiser_or_admin
    @blp.response(200, ForestCreditSchema(many=True))
    def get(self, event_id: int) -> Any:
        """Measured forest removals counted for the event, and their cancellations."""
        event = services.own_event(api_user(), event_id)
        return removals.credits_of_event(event.id)


@blp.route("/admin/events/<int:event_id>/certificate")
class IssueCertificate(MethodView):
    @admin_only
    @blp.response(201, CertificateSchema)
    def post(self, event_id: int) -> Any:
        """Issue the carbon-neutral certificate (actual footprint covered)."""
        return certificates.issue_certificate(api_user(), event_id)


@blp.route("/certificates/<code>")
class VerifyCertificate(MethodView):
    @blp.response(200, CertificateSchema)
    def get(self, code: str) -> Any:
        """Public verification of a certificate by the code in its QR."""
        return certificates.certificate_by_code(code)


@blp.route("/projects")
class Projects(MethodView):
    @blp.response(200, ProjectSchema(many=True))
    def get(self) -> Any:
        """Planting projects (approved plans): funds, trees planted and survival."""
        return [queries.project(plan) for plan in queries.projects()]


@blp.route("/projects/<int:plan_id>")
class ProjectDetail(MethodView):
    @blp.response(200, ProjectSchema)
    def get(self, plan_id: int) -> Any:
        """One planting project."""
        return queries.project(donations.get_project(plan_id))


@blp.route("/projects/<int:plan_id>/donations")
class Donations(MethodView):
    @resident_only
    @blp.arguments(DonateSchema)
    @blp.arguments(IdempotencyHeaderSchema, location="headers")
    @blp.response(201, DonationSchema)
    def post(self, data: dict[str, Any], headers: dict[str, Any], plan_id: int) -> Any:
        """Donate points to a planting project. A repeated Idempotency-Key returns the first
        donation."""
        return donations.donate_points(
            api_user(), plan_id, data["points"], headers["idempotency_key"]
        )
