"""Forest removals credited after measurement: growth measurements and the forest register.

An administrator records a growth measurement of a planted block (date, sample plots with
their area and measured stock, or trees, mean DBH and height: the afforestation
methodology's monitoring parameters). The afforestation version in force turns the plots into
the block's stock (``methodologies.afforestation.measured_stock``); what exceeds the stock
already credited to the block is a removal: ``buffer.share`` of it (20% by default, cited) is
withheld in the pooled buffer against reversal, the rest is counted for the event the block's
plan serves, each part a row of the forest register with its serial (``ForestCredit``) and a
ledger entry keyed by that serial (ledger/models.py, 6.). A stock below what was credited —
from a measurement, or from a survival check scaling the last measurement to the trees still
alive — is a reversal: the loss cancels buffer first, then the block's counted removals.
Either way the event's certificate is reviewed (``claims.review_certificate``): suspended
while no longer covered, restored once it is.

Every function validates all input before it adds anything, and rolls back on any error.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError

from methodologies import ActivityError
from methodologies import afforestation as af

from ..accounts.models import User
from ..audit.services import record_audit
from ..errors import DomainError
from ..extensions import db
from ..i18n import current_lang
from ..ledger.services import ForestMove, post_forest_moves
from ..methodology_versions.services import active_version
from ..timeutil import local, utcnow
from . import claims
from .exceptions import InvalidMeasurement, MeasurementRace, UnknownPlanting
from .models import (
    SERIAL_PREFIX,
    ForestCredit,
    ForestCreditKind,
    GrowthMeasurement,
    PlanStatus,
    Planting,
    SurvivalCheck,
)

MAX_NOTE = 200

# --- reading the register ----------------------------------------------------------------


def _sum(where: Any, signs: dict[ForestCreditKind, int]) -> int:
    signed = case(
        *((ForestCredit.kind == kind, sign * ForestCredit.grams) for kind, sign in signs.items()),
        else_=0,
    )
    return int(db.session.scalar(select(func.coalesce(func.sum(signed), 0)).where(where)) or 0)


def credited_g(planting_id: int) -> int:
    """The block's stock already credited: issued (counted + buffer) less its losses."""
    return _sum(
        ForestCredit.planting_id == planting_id,
        {
            ForestCreditKind.COUNTED: 1,
            ForestCreditKind.BUFFER: 1,
            ForestCreditKind.CANCEL_BUFFER: -1,
            ForestCreditKind.CANCEL_COUNTED: -1,
        },
    )


def block_counted_g(planting_id: int) -> int:
    """The block's counted removals not cancelled."""
    return _sum(
        ForestCredit.planting_id == planting_id,
        {ForestCreditKind.COUNTED: 1, ForestCreditKind.CANCEL_COUNTED: -1},
    )


def buffer_pool_g() -> int:
    """The pooled buffer: every block's buffer less what losses cancelled from it."""
    return _sum(True, {ForestCreditKind.BUFFER: 1, ForestCreditKind.CANCEL_BUFFER: -1})


def buffer_share() -> Decimal | None:
    """The buffer share of the afforestation version in force (None if it has none)."""
    return active_version(af.Afforestation.code).decimal_params().get("buffer.share")


def credits_of_event(event_id: int) -> list[ForestCredit]:
    """The event's counted removals and their cancellations, in order."""
    return list(
        db.session.scalars(
            select(ForestCredit)
            .where(ForestCredit.event_id == event_id)
            .order_by(ForestCredit.serial_year, ForestCredit.serial_no)
        )
    )


def credits_of_planting(planting_id: int) -> list[ForestCredit]:
    return list(
        db.session.scalars(
            select(ForestCredit)
            .where(ForestCredit.planting_id == planting_id)
            .order_by(ForestCredit.serial_year, ForestCredit.serial_no)
        )
    )


def measurements_of(planting_id: int) -> list[GrowthMeasurement]:
    return list(
        db.session.scalars(
            select(GrowthMeasurement)
            .where(GrowthMeasurement.planting_id == planting_id)
            .order_by(GrowthMeasurement.measured_on, GrowthMeasurement.id)
        )
    )


def _last_measurement(planting_id: int, on_or_before: date | None = None) -> Any:
    query = select(GrowthMeasurement).where(GrowthMeasurement.planting_id == planting_id)
    if on_or_before is not None:
        query = query.where(GrowthMeasurement.measured_on <= on_or_before)
    return db.session.scalar(
        query.order_by(GrowthMeasurement.measured_on.desc(), GrowthMeasurement.id.desc()).limit(1)
    )


# --- writing the register ----------------------------------------------------------------


def _write(
    planting: Planting,
    actor: User,
    parts: Sequence[tuple[ForestCreditKind, int]],
    *,
    measurement_id: int | None = None,
    survival_check_id: int | None = None,
) -> list[ForestCredit]:
    """Register rows with consecutive serials of this year, and their ledger entries."""
    parts = [(kind, grams) for kind, grams in parts if grams > 0]
    if not parts:
        return []
    year = local(utcnow()).year
    last = (
        db.session.scalar(
            select(func.max(ForestCredit.serial_no)).where(ForestCredit.serial_year == year)
        )
        or 0
    )
    event_id = planting.plan.event_id
    rows = []
    for number, (kind, grams) in enumerate(parts, start=last + 1):
        counted = kind in (ForestCreditKind.COUNTED, ForestCreditKind.CANCEL_COUNTED)
        row = ForestCredit(
            serial=f"{SERIAL_PREFIX[kind]}-{year}-{number:06d}",
            serial_year=year,
            serial_no=number,
            kind=kind,
            planting_id=planting.id,
            event_id=event_id if counted else None,
            grams=grams,
            measurement_id=measurement_id,
            survival_check_id=survival_check_id,
            created_by_id=actor.id,
        )
        db.session.add(row)
        rows.append(row)
    db.session.flush()
    post_forest_moves(
        [ForestMove(r.serial, r.kind.value, r.grams, planting.id) for r in rows],
        memo=f"forest block {planting.id} (event {event_id})",
    )
    return rows


def _reverse(
    planting: Planting, actor: User, loss_g: int, **source: int | None
) -> tuple[af.Reversal, list[ForestCredit]]:
    """Cancel a loss of stock: the pooled buffer first, then the block's counted removals."""
    result = af.reversal(loss_g, buffer_pool_g(), block_counted_g(planting.id))
    rows = _write(
        planting,
        actor,
        [
            (ForestCreditKind.CANCEL_BUFFER, result.from_buffer_g),
            (ForestCreditKind.CANCEL_COUNTED, result.from_counted_g),
        ],
        **source,
    )
    return result, rows


def get_planting(planting_id: int) -> Planting:
    planting = db.session.get(Planting, planting_id)
    if planting is None:
        raise UnknownPlanting()
    return planting


def _trees_alive(planting: Planting, on: date, given: Any) -> int:
    if given is None or given == "":
        checks = [c for c in planting.checks if c.checked_on <= on]
        return checks[-1].surviving if checks else planting.seedlings
    if isinstance(given, bool) or not str(given).strip().isdigit():
        raise InvalidMeasurement(problem=_("enter a whole number"), field="trees_alive")
    value = int(str(given).strip())
    if value > planting.seedlings:
        raise InvalidMeasurement(
            problem=_("more trees than the %(n)s seedlings planted", n=planting.seedlings),
            field="trees_alive",
        )
    return value


def _measured_on(planting: Planting, raw: Any) -> date:
    try:
        value = raw if isinstance(raw, date) else date.fromisoformat(str(raw or "").strip())
    except ValueError:
        raise InvalidMeasurement(
            problem=_("enter a date as YYYY-MM-DD"), field="measured_on"
        ) from None
    if value > local(utcnow()).date():
        raise InvalidMeasurement(problem=_("the date is in the future"), field="measured_on")
    if value < planting.planted_on:
        raise InvalidMeasurement(
            problem=_("the measurement is dated before the planting"), field="measured_on"
        )
    last = _last_measurement(planting.id)
    if last is not None and value < last.measured_on:
        raise InvalidMeasurement(
            problem=_("a later measurement of this block is already recorded"),
            field="measured_on",
        )
    return value


def record_growth_measurement(
    admin: User,
    planting_id: int,
    measured_on: Any,
    plots: Any,
    trees_alive: Any = None,
    note: str = "",
) -> GrowthMeasurement:
    """Record a growth measurement of a planted block and credit what it shows: the stock
    above what the block has had credited is split between the pooled buffer and counted
    removals for the event; a stock below it is a reversal (buffer first). The event's
    certificate is reviewed in the same transaction."""
    for _attempt in range(3):
        try:
            planting = get_planting(planting_id)
            if planting.plan.status is not PlanStatus.APPROVED:
                raise InvalidMeasurement(problem=_("the plan is not approved"), field="planting")
            day = _measured_on(planting, measured_on)
            alive = _trees_alive(planting, day, trees_alive)
            version = active_version(af.Afforestation.code)
            params = version.decimal_params()
            try:
                stock = af.measured_stock(
                    planting.species, Decimal(planting.area_mu), plots, params
                )
            except ActivityError as exc:
                raise InvalidMeasurement(
                    problem=exc.message.get(current_lang()), field=exc.field
                ) from None
            basis = credited_g(planting.id)
            row = GrowthMeasurement(
                planting_id=planting.id,
                measured_on=day,
                plots=[dict(p) for p in plots],
                trees_alive=alive,
                volume_per_ha=str(stock.volume_per_ha),
                stock_g=stock.stock_g,
                basis_g=basis,
                result=stock.as_dict(),
                version_id=version.id,
                module_version=version.module_version,
                params_hash=version.params_hash,
                note=str(note or "").strip()[:MAX_NOTE],
                recorded_by_id=admin.id,
            )
            db.session.add(row)
            db.session.flush()
            change = stock.stock_g - basis
            details: dict[str, Any] = {"stock_g": stock.stock_g, "basis_g": basis}
            if change > 0:
                credit = af.split_removal(change, params)
                rows = _write(
                    planting,
                    admin,
                    [
                        (ForestCreditKind.COUNTED, credit.counted_g),
                        (ForestCreditKind.BUFFER, credit.buffer_g),
                    ],
                    measurement_id=row.id,
                )
                details |= {"counted_g": credit.counted_g, "buffer_g": credit.buffer_g}
            elif change < 0:
                loss, rows = _reverse(planting, admin, -change, measurement_id=row.id)
                details |= {
                    "from_buffer_g": loss.from_buffer_g,
                    "from_counted_g": loss.from_counted_g,
                    "uncovered_g": loss.uncovered_g,
                }
            else:
                rows = []
            if rows:
                details["serials"] = ", ".join(r.serial for r in rows)
            record_audit(admin, "planting.measure", "planting", planting.id, **details)
            claims.review_certificate(
                planting.plan.event,
                admin,
                _l("Growth measurement of %(date)s", date=day.isoformat()),
            )
            db.session.commit()
            return row
        except DomainError:
            db.session.rollback()
            raise
        except IntegrityError:
            # Another forest credit took the same serial number first: start over.
            db.session.rollback()
    raise MeasurementRace()


def apply_survival_check(admin: User, check: SurvivalCheck) -> list[ForestCredit]:
    """A survival check after a measurement that finds fewer trees alive than it counted
    scales that measurement's stock to the survivors; what falls below the stock credited
    is reversed (buffer first) and the event's certificate reviewed. The caller commits."""
    planting = check.planting
    last = _last_measurement(planting.id, check.checked_on)
    if last is None or check.surviving >= last.trees_alive:
        return []
    scaled = af.surviving_stock(last.stock_g, last.trees_alive, check.surviving)
    basis = credited_g(planting.id)
    if scaled >= basis:
        return []
    loss, rows = _reverse(planting, admin, basis - scaled, survival_check_id=check.id)
    record_audit(
        admin,
        "planting.reversal",
        "planting",
        planting.id,
        check_id=check.id,
        stock_g=scaled,
        basis_g=basis,
        from_buffer_g=loss.from_buffer_g,
        from_counted_g=loss.from_counted_g,
        uncovered_g=loss.uncovered_g,
    )
    claims.review_certificate(
        planting.plan.event,
        admin,
        _l(
            "Survival check of %(date)s: %(alive)s of %(trees)s trees alive",
            date=check.checked_on.isoformat(),
            alive=check.surviving,
            trees=last.trees_alive,
        ),
    )
    return rows
