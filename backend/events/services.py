"""Carbon-neutral events: every change of state, each owning its transaction.

Flow: an organiser creates an event, records the planned activity data (an estimate) and,
after the event, the actual data (the 碳计量报告); sizes a 碳中和林 plan with the
afforestation methodology and submits it; may retire verified 碳普惠 reductions to cover
part of the footprint. An administrator approves or returns the plan, records what was
planted and later survival checks, and issues the certificate once the actual footprint is
covered. Residents donate points to approved plans (planting projects).

Retirements: each retired reduction is a row of the register (``ReductionRetirement``, with
its serial number) and, in the same transaction, a RETIRE ledger entry keyed by that serial
moving its grams from the ledger's reduction pool to the retirement account
(``ledger.services.post_retirements``). The ledger counts these two accounts in grams CO2e,
not points (ledger/models.py, 5.): the register is in grams, and residents keep the points
they earned. Reductions are retired whole, oldest first, so the last one may retire more
than was asked: the rows returned say what was retired, and where retirements go beyond the
footprint the standing, the pages, the report and the certificate show by how much
(``Standing.retired_beyond_g``). Retiring part of a reduction instead would leave a
remainder that no retirement could take (each reduction is retired at most once).

Every footprint and plan stores the methodology version id and parameter hash in force when
it was computed (reproducible reports). Every function validates all input before it adds
anything to the session, and rolls back on any error: nothing is saved half-way.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from methodologies import ActivityError
from methodologies import afforestation as af
from methodologies import event_footprint as ef

from ..accounts.models import Role, User
from ..actions.models import Reduction
from ..audit.services import record_audit
from ..config import DISTRICTS
from ..errors import Conflict, DomainError, Forbidden
from ..extensions import db
from ..ledger.exceptions import IdempotencyConflict
from ..ledger.models import AccountKind, EntryKind
from ..ledger.services import (
    Leg,
    Retired,
    post_entry,
    post_retirements,
    resident_account,
    system_account,
)
from ..methodology_versions.services import active_version
from ..timeutil import local, utcnow
from ..uploads import read_image, store_image
from . import claims, removals
from .exceptions import (
    ActualBeforeEventEnd,
    AlreadyCertified,
    AlreadyCovered,
    CommentRequired,
    InsufficientPool,
    InvalidDonation,
    InvalidEvent,
    InvalidFootprint,
    InvalidPlan,
    InvalidPlanting,
    InvalidPlanTransition,
    InvalidRetirement,
    NoFootprint,
    NotCertifiable,
    PlanLocked,
    RetirementRace,
    UnknownCertificate,
    UnknownEvent,
    UnknownPlan,
    UnknownPlanting,
    UnknownProject,
)
from .models import (
    Certificate,
    Donation,
    Event,
    EventFootprint,
    FootprintStage,
    PlanStatus,
    Planting,
    PlantingPlan,
    ReductionRetirement,
    SurvivalCheck,
)

# Horizons an organiser may choose for the ex-ante forest sink (years after planting). The
# reference (§6.1) asks for a written local rule; until Quzhou sets one, 10-30 years, with
# the G20 2016 precedent's 20 as the default.
HORIZONS = (10, 15, 20, 30)
DEFAULT_HORIZON = 20
MAX_EVENT_DAYS = 366
MAX_PHOTOS = 6
LINE_FIELDS = ("category", "kind", "unit", "amount", "travellers", "trips", "distance_km")

# Form-friendly messages for the event_footprint rejections (the methodology's own reasons
# carry line numbers meant for the API's batch form).
LINE_MESSAGES: dict[str, Any] = {
    "no_lines": _l("Enter at least one emission source."),
    "unknown_category": _l("Unknown emission category."),
    "unknown_kind": _l("Unknown emission source."),
    "unit_mismatch": _l("The unit does not match this emission source."),
    "amount_not_positive": _l(
        "Enter a number greater than zero (distances, travellers and trips too)."
    ),
    "travel_without_participants": _l("Travel is entered but the event has 0 participants."),
    "travellers_exceed_participants": _l("More travellers than participants."),
    "malformed": _l("Enter numbers only; a travel row needs travellers, trips and distance."),
}


def lang() -> str:
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh_CN"


def local_today() -> date:
    return local(utcnow()).date()


# --- small parsers (the services accept page strings and API values alike) ----------------


def _text(data: Mapping[str, Any], name: str, limit: int, error: type[DomainError]) -> str:
    value = str(data.get(name) or "").strip()
    if not value:
        raise error(problem=_("this field is required"), field=name)
    if len(value) > limit:
        raise error(problem=_("at most %(n)s characters", n=limit), field=name)
    return value


def _date(data: Mapping[str, Any], name: str, error: type[DomainError]) -> date:
    raw = data.get(name)
    if isinstance(raw, date):
        value = raw
    else:
        try:
            value = date.fromisoformat(str(raw or "").strip())
        except ValueError:
            raise error(problem=_("enter a date as YYYY-MM-DD"), field=name) from None
    if not 2000 <= value.year <= 2100:
        raise error(problem=_("enter a date between 2000 and 2100"), field=name)
    return value


def _whole(
    data: Mapping[str, Any],
    name: str,
    error: type[DomainError],
    minimum: int = 0,
    maximum: int = 10_000_000,
) -> int:
    raw = data.get(name)
    if isinstance(raw, bool):
        raise error(problem=_("enter a whole number"), field=name)
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise error(problem=_("enter a whole number"), field=name) from None
    if not value.is_finite() or value != value.to_integral_value():
        raise error(problem=_("enter a whole number"), field=name)
    if value < minimum:
        raise error(problem=_("enter a number of at least %(n)s", n=minimum), field=name)
    if value > maximum:
        raise error(problem=_("this number is too large"), field=name)
    return int(value)


def _district(data: Mapping[str, Any], error: type[DomainError]) -> str:
    value = str(data.get("district") or "").strip()
    if value not in DISTRICTS:
        raise error(problem=_("choose one of Quzhou's districts and counties"), field="district")
    return value


# --- events ------------------------------------------------------------------------------


def _event_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    starts = _date(data, "starts_on", InvalidEvent)
    ends = _date(data, "ends_on", InvalidEvent)
    if ends < starts:
        raise InvalidEvent(problem=_("the event ends before it starts"), field="ends_on")
    if (ends - starts).days >= MAX_EVENT_DAYS:
        raise InvalidEvent(
            problem=_("an event lasts at most %(n)s days", n=MAX_EVENT_DAYS), field="ends_on"
        )
    return {
        "name": _text(data, "name", 120, InvalidEvent),
        "venue": _text(data, "venue", 200, InvalidEvent),
        "district": _district(data, InvalidEvent),
        "starts_on": starts,
        "ends_on": ends,
        "expected_participants": _whole(data, "expected_participants", InvalidEvent),
    }


def create_event(organiser: User, data: Mapping[str, Any]) -> Event:
    """An organiser registers an event (name, dates, venue, district, expected participants)."""
    if organiser.role is not Role.ORGANISER:
        raise Forbidden()
    event = Event(organiser_id=organiser.id, **_event_fields(data))
    db.session.add(event)
    db.session.flush()
    record_audit(organiser, "event.create", "event", event.id)
    db.session.commit()
    return event


def get_event(event_id: int) -> Event:
    event = db.session.get(Event, event_id)
    if event is None:
        raise UnknownEvent()
    return event


def own_event(user: User, event_id: int) -> Event:
    """The event if ``user`` organises it (administrators see every event); else 404."""
    event = get_event(event_id)
    if user.role is Role.ADMIN or event.organiser_id == user.id:
        return event
    raise UnknownEvent()


# --- footprints --------------------------------------------------------------------------


def _clean_line(raw: Any) -> Any:
    """Keep the contract's fields of one line, as JSON-safe values; blanks dropped."""
    if not isinstance(raw, Mapping):
        return raw  # the methodology reports it
    out: dict[str, Any] = {}
    for name in LINE_FIELDS:
        value = raw.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        out[name] = str(value).strip() if isinstance(value, Decimal | str) else value
    return out


def _problem(line: int | None, code: str, fallback: Any = None) -> dict[str, Any]:
    message = LINE_MESSAGES.get(code)
    text = str(message) if message is not None else (fallback.get(lang()) if fallback else code)
    return {"line": line, "code": code, "message": text}


def footprint_problems(activity: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every problem of an event_footprint activity, by line (1-based), form-friendly."""
    lines = activity.get("lines") or []
    participants = activity.get("participants")
    out: list[dict[str, Any]] = []
    if not lines:
        out.append(_problem(None, "no_lines"))
    for i, line in enumerate(lines, start=1):
        try:
            found = ef.rejections({"lines": [line], "participants": participants})
        except ActivityError as exc:
            out.append(_problem(i, "malformed", exc.message))
            continue
        out += [_problem(i, r.code, r.reason) for r in found]
    return out


def record_footprint(
    organiser: User,
    event_id: int,
    stage: FootprintStage | str,
    lines: Sequence[Any],
    participants: Any = None,
) -> EventFootprint:
    """Quantify the event's planned (estimate) or actual (report) activity data with the
    event_footprint version in force, and keep it with that version's id and parameter hash.

    ``participants`` defaults to the expected participants for the planned stage."""
    try:
        event = own_event(organiser, event_id)
        stage = FootprintStage(stage)
        if stage is FootprintStage.ACTUAL and local_today() < event.ends_on:
            raise ActualBeforeEventEnd()
        if participants is None or participants == "":
            if stage is FootprintStage.ACTUAL:
                raise InvalidFootprint(
                    problem=_("enter the actual number of participants"), field="participants"
                )
            participants = event.expected_participants
        count = _whole({"participants": participants}, "participants", InvalidFootprint)
        activity = {
            "lines": [_clean_line(line) for line in lines],
            "participants": count,
            "starts_on": event.starts_on.isoformat(),
            "ends_on": event.ends_on.isoformat(),
        }
        problems = footprint_problems(activity)
        if problems:
            first = problems[0]
            where = _("source %(n)s: ", n=first["line"]) if first["line"] else ""
            raise InvalidFootprint(problem=where + first["message"], details=problems)
        version = active_version(ef.EventFootprint.code)
        result = ef.footprint(activity, version.decimal_params())
        row = EventFootprint(
            event_id=event.id,
            stage=stage,
            participants=count,
            activity=activity,
            result=result.as_dict(),
            total_g=result.total_g,
            version_id=version.id,
            module_version=version.module_version,
            params_hash=version.params_hash,
            created_by_id=organiser.id,
        )
        db.session.add(row)
        db.session.flush()
        record_audit(
            organiser,
            f"event.footprint.{stage.value}",
            "event",
            event.id,
            footprint_id=row.id,
            total_g=row.total_g,
            version_id=version.id,
        )
        db.session.commit()
    except DomainError:
        db.session.rollback()
        raise
    return row


# --- planting plans ----------------------------------------------------------------------


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


def retired_g(event_id: int) -> int:
    """Grams of reductions retired for the event."""
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(ReductionRetirement.grams), 0)).where(
                ReductionRetirement.event_id == event_id
            )
        )
        or 0
    )


def create_plan(organiser: User, event_id: int, data: Mapping[str, Any]) -> PlantingPlan:
    """Size a 碳中和林 plan: the smallest area whose projected net removal by the horizon
    covers the event's footprint (actual if reported, else the estimate) less the
    reductions already retired for it. Older unapproved plans are superseded."""
    try:
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
        db.session.commit()
    except DomainError:
        db.session.rollback()
        raise
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
        db.session.commit()
    except DomainError:
        db.session.rollback()
        raise
    except IntegrityError:  # another plan of the event was approved at the same moment
        db.session.rollback()
        raise InvalidPlanTransition(action=_("approve it")) from None
    return plan


# --- retirements -------------------------------------------------------------------------


def _retirements_of_request(event_id: int, key: str) -> list[ReductionRetirement]:
    return list(
        db.session.scalars(
            select(ReductionRetirement)
            .where(ReductionRetirement.event_id == event_id, ReductionRetirement.request_key == key)
            .order_by(ReductionRetirement.id)
        )
    )


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


def _kg(grams: int) -> str:
    return f"{Decimal(grams) / 1000:,.3f}"


def _pick(grams: int) -> list[Any]:
    """Unretired reductions, oldest first, until ``grams`` are covered (each one whole)."""
    picked: list[Any] = []
    covered = 0
    result = db.session.execute(
        _unretired().order_by(Reduction.created_at, Reduction.id),
        execution_options={"yield_per": 500},
    )
    try:
        for row in result:
            picked.append(row)
            covered += row.credited_g
            if covered >= grams:
                return picked
    finally:
        result.close()
    raise InsufficientPool(available=_kg(covered), requested=_kg(grams))


def _insert_retirements(
    event: Event, actor: User, rows: Iterable[Any], key: str
) -> list[ReductionRetirement]:
    year = local(utcnow()).year
    last = (
        db.session.scalar(
            select(func.max(ReductionRetirement.serial_no)).where(
                ReductionRetirement.serial_year == year
            )
        )
        or 0
    )
    out = []
    for number, row in enumerate(rows, start=last + 1):
        item = ReductionRetirement(
            serial=f"QZCI-R-{year}-{number:06d}",
            serial_year=year,
            serial_no=number,
            event_id=event.id,
            reduction_id=row.id,
            resident_id=row.resident_id,
            grams=row.credited_g,
            request_key=key,
            retired_by_id=actor.id,
        )
        db.session.add(item)
        out.append(item)
    db.session.flush()
    post_retirements(
        [Retired(r.serial, r.grams, r.resident_id, r.reduction_id) for r in out],
        memo=f"retired for event {event.id}",
    )
    return out


def retire_reductions(
    organiser: User, event_id: int, grams: Any, request_key: str | None = None
) -> list[ReductionRetirement]:
    """Retire verified reductions from the platform's pool to cover ``grams`` of the event's
    footprint: unretired reductions, oldest first, each retired whole, each at most once,
    each with a serial number and its RETIRE ledger entry (pool -> retirement, in grams).
    The rows' grams may add up to more than ``grams`` (the last reduction is retired whole).
    A repeated ``request_key`` returns the first result."""
    key = f"retire:{event_id}:{request_key or uuid.uuid4().hex}"
    for _attempt in range(3):
        try:
            event = own_event(organiser, event_id)
            existing = _retirements_of_request(event.id, key)
            if existing:
                return existing
            amount = _whole({"grams": grams}, "grams", InvalidRetirement, minimum=1, maximum=10**15)
            footprint = event.current_footprint
            if footprint is None:
                raise NoFootprint()
            open_g = footprint.total_g - retired_g(event.id)
            if amount > open_g:
                raise InvalidRetirement(
                    problem=_(
                        "at most the %(kg)s kg CO2e of the footprint not yet covered by "
                        "retirements",
                        kg=_kg(max(open_g, 0)),
                    ),
                    field="grams",
                )
            rows = _insert_retirements(event, organiser, _pick(amount), key)
            record_audit(
                organiser,
                "event.retire",
                "event",
                event.id,
                requested_g=amount,
                retired_g=sum(r.grams for r in rows),
                serials=f"{rows[0].serial}..{rows[-1].serial}",
                count=len(rows),
            )
            claims.review_certificate(
                event, organiser, _l("Retirement %(serial)s", serial=rows[-1].serial)
            )
            db.session.commit()
            return rows
        except DomainError:
            db.session.rollback()
            raise
        except IntegrityError:
            # A concurrent retirement took a reduction or a serial number first: start over.
            db.session.rollback()
    raise RetirementRace()


# --- plantings and survival --------------------------------------------------------------


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
    try:
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
        db.session.commit()
    except DomainError:
        db.session.rollback()
        raise
    return planting


def get_planting(planting_id: int) -> Planting:
    planting = db.session.get(Planting, planting_id)
    if planting is None:
        raise UnknownPlanting()
    return planting


def record_survival_check(admin: User, planting_id: int, data: Mapping[str, Any]) -> SurvivalCheck:
    """Record how many of a block's seedlings were alive at a check."""
    try:
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
        removals.apply_survival_check(admin, check)
        db.session.commit()
    except DomainError:
        db.session.rollback()
        raise
    return check


# --- certificates ------------------------------------------------------------------------


def issue_certificate(admin: User, event_id: int) -> Certificate:
    """Issue the carbon-neutral certificate once the actual footprint is reported and
    retired reductions plus *measured* forest removals cover it, within the neutrality
    deadline (claims.py); the plan's projected removal is pledged and never counts. The
    certificate keeps a snapshot of what was certified, with the three figures apart; its
    public page also shows the live status (suspended while no longer covered)."""
    from .queries import standing

    try:
        event = get_event(event_id)
        if event.certificate is not None:
            raise AlreadyCertified()
        state = standing(event)
        if event.footprint(FootprintStage.ACTUAL) is None:
            raise NotCertifiable(problem=_("the actual activity data has not been entered"))
        if not state.covered:
            raise NotCertifiable(
                problem=_(
                    "retired reductions and measured forest removals cover %(covered)s of "
                    "%(total)s kg CO2e (pledged forest removals do not count)",
                    covered=_kg(state.covered_g),
                    total=_kg(state.emissions_g or 0),
                )
            )
        assert state.claim is not None
        if state.claim.claim is not claims.Claim.COVERED:
            raise NotCertifiable(
                problem=_(
                    "the neutrality deadline %(date)s passed before the footprint was covered",
                    date=state.claim.deadline.isoformat(),
                )
            )
        year = local(utcnow()).year
        prefix = f"QZCI-C-{year}-"
        count = db.session.scalar(
            select(func.count())
            .select_from(Certificate)
            .where(Certificate.serial.like(prefix + "%"))
        )
        cert = Certificate(
            event_id=event.id,
            serial=f"{prefix}{(count or 0) + 1:06d}",
            verify_code=secrets.token_urlsafe(12),
            snapshot=state.snapshot(),
            issued_by_id=admin.id,
        )
        db.session.add(cert)
        db.session.flush()
        record_audit(admin, "event.certify", "event", event.id, serial=cert.serial)
        db.session.commit()
    except DomainError:
        db.session.rollback()
        raise
    except IntegrityError:
        # Issued twice at once, or two events took the same serial number at once.
        db.session.rollback()
        if get_event(event_id).certificate is not None:
            raise AlreadyCertified() from None
        raise Conflict() from None
    return cert


def certificate_by_code(code: str) -> Certificate:
    cert = db.session.scalar(select(Certificate).where(Certificate.verify_code == code))
    if cert is None:
        raise UnknownCertificate()
    return cert


# --- donations ---------------------------------------------------------------------------


def get_project(plan_id: int) -> PlantingPlan:
    """An approved plan: a planting project residents can follow and donate to."""
    plan = db.session.get(PlantingPlan, plan_id)
    if plan is None or plan.status is not PlanStatus.APPROVED:
        raise UnknownProject()
    return plan


def _donation_by_key(key: str) -> Donation | None:
    return db.session.scalar(select(Donation).where(Donation.idempotency_key == key))


def _same_or_conflict(donation: Donation, plan_id: int, points: Any) -> Donation:
    if donation.plan_id != plan_id or str(donation.points) != str(points).strip():
        raise IdempotencyConflict()
    return donation


def donate_points(
    resident: User, plan_id: int, points: Any, idempotency_key: str | None = None
) -> Donation:
    """A resident gives points to a planting project: one DONATE ledger entry resident ->
    forest fund. A repeated key returns the first donation."""
    if resident.role is not Role.RESIDENT:
        raise Forbidden()
    key = f"donate:{resident.id}:{idempotency_key or uuid.uuid4().hex}"
    existing = _donation_by_key(key)
    if existing is not None:
        return _same_or_conflict(existing, plan_id, points)
    try:
        plan = get_project(plan_id)
        raw = str(points).strip() if points is not None else ""
        if not re.fullmatch(r"[0-9]{1,9}", raw) or int(raw) < 1:
            raise InvalidDonation(field="points")
        amount = int(raw)
        entry, _created = post_entry(
            EntryKind.DONATE,
            [
                Leg(resident_account(resident.id), -amount),
                Leg(system_account(AccountKind.FOREST_FUND), amount),
            ],
            key,
            resident_id=resident.id,
            memo=f"planting project {plan.id}",
            ref=("planting_plan", plan.id),
        )
        donation = Donation(
            plan_id=plan.id,
            resident_id=resident.id,
            points=amount,
            idempotency_key=key,
            ledger_entry_id=entry.id,
        )
        db.session.add(donation)
        db.session.flush()
        record_audit(resident, "donation.create", "planting_plan", plan.id, points=amount, key=key)
        db.session.commit()
    except DomainError:
        db.session.rollback()
        raise
    except IntegrityError:
        db.session.rollback()  # the same key raced in from another request and won
        existing = _donation_by_key(key)
        if existing is None:
            raise
        return existing
    return donation
