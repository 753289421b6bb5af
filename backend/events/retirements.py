"""The retirement register: verified reductions retired whole, oldest first, each with a
serial number and its RETIRE ledger entry (pool -> retirement, in grams); see the package
docstring of ``backend.events``."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..accounts.models import User
from ..actions.models import Reduction
from ..audit.services import record_audit
from ..extensions import db, unit_of_work
from ..ledger.services import Retired, post_retirements
from ..timeutil import local, utcnow
from .exceptions import InsufficientPool, InvalidRetirement, NoFootprint, RetirementRace
from .models import Event, ReductionRetirement
from .queries import _unretired, retired_g
from .services import _kg, _whole, own_event


def _retirements_of_request(event_id: int, key: str) -> list[ReductionRetirement]:
    return list(
        db.session.scalars(
            select(ReductionRetirement)
            .where(ReductionRetirement.event_id == event_id, ReductionRetirement.request_key == key)
            .order_by(ReductionRetirement.id)
        )
    )


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
            with unit_of_work():
                event = own_event(organiser, event_id)
                existing = _retirements_of_request(event.id, key)
                if existing:
                    return existing
                amount = _whole(
                    {"grams": grams}, "grams", InvalidRetirement, minimum=1, maximum=10**15
                )
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
                return rows
        except IntegrityError:
            # A concurrent retirement took a reduction or a serial number first: start over.
            continue
    raise RetirementRace()
