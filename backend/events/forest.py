"""碳中和林: planting plans sized with the afforestation methodology, their review, the
blocks actually planted and their survival checks. Each function owns its transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from methodologies import ActivityError
from methodologies import afforestation as af

from ..accounts.models import User
from ..audit.services import record_audit
from ..errors import DomainError
from ..extensions import db, unit_of_work
from ..methodology_versions.services import active_version
from ..timeutil import utcnow
from ..uploads import read_image, store_image
from .exceptions import (
    AlreadyCovered,
    CommentRequired,
    InvalidPlan,
    InvalidPlanting,
    InvalidPlanTransition,
    NoFootprint,
    PlanLocked,
    UnknownEvent,
    UnknownPlan,
    UnknownPlanting,
)
from .models import PlanStatus, Planting, PlantingPlan, SurvivalCheck
from .queries import retired_g
from .services import _date, _district, _text, _whole, lang, local_today, own_event

# Horizons an organiser may choose for the ex-ante forest sink (years after planting). The
# reference (§6.1) asks for a written local rule; until Quzhou sets one, 10-30 years, with
# the G20 2016 precedent's 20 as the default.
HORIZONS = (10, 15, 20, 30)

DEFAULT_HORIZON = 20

MAX_PHOTOS = 6


def _mix(raw: Any) -> Any:
    """JSON-safe copy of a species mix ([{species, share}]); anything else goes through for
    the methodology to reject."""
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        return raw
    out: list[Any] = []
    for item in raw:
        if isinstance(item, Mapping):
            share = item.get("share")
            out.append(
                {
                    "species": str(item.get("species") or "").strip(),
                    "share": str(share).strip() if share is not None else None,
                }
            )
        else:
            out.append(item)
    return out


def create_plan(organiser: User, event_id: int, data: Mapping[str, Any]) -> PlantingPlan:
    """Size a 碳中和林 plan: the smallest area whose projected net removal by the horizon
    covers the event's footprint (actual if reported, else the estimate) less the
    reductions already retired for it. Older unapproved plans are superseded."""
    with unit_of_work():
        event = own_event(organiser, event_id)
        if event.approved_plan is not None:
            raise PlanLocked()
        footprint = event.current_footprint
        if footprint is None:
            raise NoFootprint()
        district = _district(data, InvalidPlan)
        site = _text(data, "site", 200, InvalidPlan)
        first, last = event.starts_on.year, event.ends_on.year + 1
        year = _whole(data, "planting_year", InvalidPlan)
        if not first <= year <= last:
            raise InvalidPlan(
                problem=_(
                    "plant in the event's year or the year after (%(first)s-%(last)s)",
                    first=first,
                    last=last,
                ),
                field="planting_year",
            )
        horizon = _whole(data, "horizon_years", InvalidPlan)
        if horizon not in HORIZONS:
            raise InvalidPlan(
                problem=_(
                    "choose a horizon of %(options)s years",
                    options=" / ".join(str(h) for h in HORIZONS),
                ),
                field="horizon_years",
            )
        already = retired_g(event.id)
        target = footprint.total_g - already
        if target <= 0:
            raise AlreadyCovered()
        version = active_version(af.Afforestation.code)
        try:
            sized = af.plan_area(
                target,
                _mix(data.get("species_mix")),
                horizon,
                version.decimal_params(),
                planting_year=year,
            )
        except ActivityError as exc:
            raise InvalidPlan(
                problem=exc.message.get(lang()), field="species_mix", details={"code": exc.field}
            ) from None
        except ValueError as exc:
            raise InvalidPlan(problem=str(exc), field="species_mix") from None
        for old in event.plans:
            if old.status in (PlanStatus.DRAFT, PlanStatus.SUBMITTED, PlanStatus.RETURNED):
                old.status = PlanStatus.SUPERSEDED
        sized_dict = sized.as_dict()
        plan = PlantingPlan(
            event_id=event.id,
            footprint_id=footprint.id,
            status=PlanStatus.DRAFT,
            district=district,
            site=site,
            species_mix=sized_dict["species_mix"],
            planting_year=year,
            horizon_years=horizon,
            emissions_g=footprint.total_g,
            retired_g=already,
            target_g=target,
            area_mu=str(sized.area_mu),
            area_ha=str(sized.area_ha),
            seedlings=sized.seedlings,
            seedlings_by_species=sized_dict["seedlings_by_species"],
            removal_g=sized.removal_g,
            break_even_age=sized.break_even_age,
            curve=sized_dict["curve"],
            version_id=version.id,
            module_version=version.module_version,
            params_hash=version.params_hash,
            created_by_id=organiser.id,
        )
        db.session.add(plan)
        db.session.flush()
        record_audit(
            organiser,
            "plan.create",
            "planting_plan",
            plan.id,
            event_id=event.id,
            area_mu=plan.area_mu,
            target_g=target,
            version_id=version.id,
        )
    return plan


def get_plan(plan_id: int) -> PlantingPlan:
    plan = db.session.get(PlantingPlan, plan_id)
    if plan is None:
        raise UnknownPlan()
    return plan


def own_plan(user: User, plan_id: int) -> PlantingPlan:
    plan = get_plan(plan_id)
    try:
        own_event(user, plan.event_id)
    except UnknownEvent:
        raise UnknownPlan() from None
    return plan


def submit_plan(organiser: User, plan_id: int) -> PlantingPlan:
    """Send a draft plan to the administrators for review."""
    plan = own_plan(organiser, plan_id)
    if plan.status is not PlanStatus.DRAFT:
        raise InvalidPlanTransition(action=_("submit it"))
    plan.status = PlanStatus.SUBMITTED
    plan.submitted_at = utcnow()
    record_audit(organiser, "plan.submit", "planting_plan", plan.id)
    db.session.commit()
    return plan


def review_plan(admin: User, plan_id: int, approve: bool, comment: str = "") -> PlantingPlan:
    """Approve a submitted plan (it becomes the event's committed planting project) or
    return it with a comment."""
    try:
        with unit_of_work():
            plan = get_plan(plan_id)
            if plan.status is not PlanStatus.SUBMITTED:
                raise InvalidPlanTransition(action=_("approve it") if approve else _("return it"))
            comment = (comment or "").strip()[:1000]
            if not approve and not comment:
                raise CommentRequired(field="comment")
            plan.status = PlanStatus.APPROVED if approve else PlanStatus.RETURNED
            plan.reviewed_by_id = admin.id
            plan.reviewed_at = utcnow()
            plan.review_comment = comment
            record_audit(
                admin,
                "plan.approve" if approve else "plan.return",
                "planting_plan",
                plan.id,
                comment=comment,
            )
    except IntegrityError:  # another plan of the event was approved at the same moment
        raise InvalidPlanTransition(action=_("approve it")) from None
    return plan


def _species(data: Mapping[str, Any], error: type[DomainError]) -> str:
    code = str(data.get("species") or "").strip()
    if code in af.UNSUPPORTED_SPECIES:
        raise error(problem=af.UNSUPPORTED_SPECIES[code].get(lang()), field="species")
    if code not in af.SPECIES:
        raise error(problem=_("unknown species %(code)s", code=code or "-"), field="species")
    return code


def _area_mu(data: Mapping[str, Any], error: type[DomainError]) -> Decimal:
    try:
        value = Decimal(str(data.get("area_mu")).strip())
    except (InvalidOperation, ValueError):
        raise error(problem=_("enter the area in mu"), field="area_mu") from None
    if not value.is_finite() or value <= 0 or value > 100_000:
        raise error(problem=_("enter an area greater than zero, in mu"), field="area_mu")
    return value.quantize(Decimal("0.01"))


def record_planting(
    admin: User, plan_id: int, data: Mapping[str, Any], photos: Sequence[Any] = ()
) -> Planting:
    """Record a block actually planted for an approved plan (date, species, area, seedlings,
    location, photos). Photos are checked before anything is written."""
    with unit_of_work():
        plan = get_plan(plan_id)
        if plan.status is not PlanStatus.APPROVED:
            raise InvalidPlanTransition(action=_("record a planting"))
        planted_on = _date(data, "planted_on", InvalidPlanting)
        if planted_on > local_today():
            raise InvalidPlanting(problem=_("the date is in the future"), field="planted_on")
        species = _species(data, InvalidPlanting)
        area = _area_mu(data, InvalidPlanting)
        seedlings = _whole(data, "seedlings", InvalidPlanting, minimum=1)
        location = _text(data, "location", 200, InvalidPlanting)
        uploads = [p for p in photos if p is not None and getattr(p, "filename", "")]
        if len(uploads) > MAX_PHOTOS:
            raise InvalidPlanting(problem=_("at most %(n)s photos", n=MAX_PHOTOS), field="photos")
        for upload in uploads:  # validate every photo before storing any
            read_image(upload)
            upload.stream.seek(0)
        paths = [store_image(upload, "plantings")[0] for upload in uploads]
        planting = Planting(
            plan_id=plan.id,
            planted_on=planted_on,
            species=species,
            area_mu=str(area),
            seedlings=seedlings,
            location=location,
            photos=paths,
            recorded_by_id=admin.id,
        )
        db.session.add(planting)
        db.session.flush()
        record_audit(
            admin,
            "planting.record",
            "planting",
            planting.id,
            plan_id=plan.id,
            area_mu=planting.area_mu,
            seedlings=seedlings,
        )
    return planting


def get_planting(planting_id: int) -> Planting:
    planting = db.session.get(Planting, planting_id)
    if planting is None:
        raise UnknownPlanting()
    return planting


def record_survival_check(admin: User, planting_id: int, data: Mapping[str, Any]) -> SurvivalCheck:
    """Record how many of a block's seedlings were alive at a check."""
    with unit_of_work():
        planting = get_planting(planting_id)
        checked_on = _date(data, "checked_on", InvalidPlanting)
        if checked_on > local_today():
            raise InvalidPlanting(problem=_("the date is in the future"), field="checked_on")
        if checked_on < planting.planted_on:
            raise InvalidPlanting(
                problem=_("the check is dated before the planting"), field="checked_on"
            )
        surviving = _whole(data, "surviving", InvalidPlanting)
        if surviving > planting.seedlings:
            raise InvalidPlanting(
                problem=_("more surviving than the %(n)s seedlings planted", n=planting.seedlings),
                field="surviving",
            )
        note = str(data.get("note") or "").strip()[:200]
        check = SurvivalCheck(
            planting_id=planting.id,
            checked_on=checked_on,
            surviving=surviving,
            note=note,
            recorded_by_id=admin.id,
        )
        db.session.add(check)
        db.session.flush()
        record_audit(
            admin,
            "planting.survival",
            "planting",
            planting.id,
            check_id=check.id,
            surviving=surviving,
            planted=planting.seedlings,
        )
    return check
